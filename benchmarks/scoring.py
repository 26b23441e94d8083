"""Scoring benchmark: end-to-end events/s (features + models) and single-record latency.

Compares, in the same run and on the same events, one core each:
- this project: feature replay (numba engine) + the shipped champion models (``models/``:
  LightGBM, calibrated, reason codes for likely alerts) on every transfer and every call +
  the river online model (batch ``predict_proba_many``/``learn_many`` with delayed labels);
- a per-event river pipeline doing the same job: per-key river ``Agg`` features, the same
  LightGBM models row by row, ``predict_proba_one`` + ``learn_one`` on a StandardScaler →
  LogisticRegression, one event at a time (timed on a prefix of the events, as it is slow);
  and a lighter one (6 aggregates + the logistic regression) for reference.
And the single-record path (``Scorer.score_one``) latency, with and without reason codes.

Run: ``python -m benchmarks.scoring`` (1M events) or ``python -m benchmarks.scoring --quick``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import polars as pl

RESULTS = Path(__file__).resolve().parent / "results" / "scoring.json"


def _world(n_events: int, seed: int = 0) -> dict[str, pl.DataFrame]:
    from fraud_brain.features.synthetic import synthetic_telecom

    n_transfers = n_events // 5
    frames = synthetic_telecom(
        n_calls=n_events - n_transfers, n_transfers=n_transfers, n_phones=max(1000, n_events // 10),
        seed=seed, span_days=28,
    )
    transfers = frames["transfer"]
    rng = np.random.default_rng(seed)
    scams = transfers.filter(pl.col("amount") > transfers["amount"].quantile(0.97))
    labels = scams.select(
        pl.format("L{}", pl.int_range(pl.len())).alias("label_id"),
        pl.lit("transfer").cast(pl.Enum(["transfer", "number", "account"])).alias("entity_type"),
        pl.col("transfer_id").alias("entity_id"),
        pl.lit(True).alias("is_fraud"),
        (
            pl.col("time")
            + pl.duration(milliseconds=pl.Series(rng.uniform(1, 3, scams.height) * 86_400_000).cast(pl.Int64))
        ).alias("known_at"),
    )
    frames["label"] = labels
    return frames


def _replay(frames: dict[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], float]:
    from fraud_brain.features import bundled_spec, replay

    spec = bundled_spec("telecom")
    sources = {k: v for k, v in frames.items() if k in spec.streams}
    start = time.perf_counter()
    out = replay(spec, sources, reference={"subscribers": frames["subscribers"]})
    return out, time.perf_counter() - start


def _models(features: dict[str, pl.DataFrame], labels: pl.DataFrame, batch: int) -> tuple[dict[str, float], dict]:
    """Score with the shipped champions (models/), as the engine would: calibrated scores for
    every transfer and call, reasons for likely alerts, plus the online model with delayed labels."""
    from fraud_brain.features import bundled_spec
    from fraud_brain.scoring import load_champion_scorer
    from fraud_brain.scoring.offline import feature_matrix
    from fraud_brain.scoring.online import OnlineModel, replay_online
    from fraud_brain.scoring.scorer import online_inputs

    spec = bundled_spec("telecom")
    models = Path(__file__).resolve().parent.parent / "models"
    transfer_scorer = load_champion_scorer(models, spec, "transfer", reason_threshold=0.9)
    number_scorer = load_champion_scorer(models, spec, "number", reason_threshold=0.9)
    transfers = features["transfer"].sort("time")
    calls = features["call"]

    timings: dict[str, float] = {}
    start = time.perf_counter()
    for lo in range(0, transfers.height, batch):
        transfer_scorer.score_batch(transfers.slice(lo, batch))
    timings["transfer model (LightGBM + calibration + reasons)"] = time.perf_counter() - start
    start = time.perf_counter()
    for lo in range(0, calls.height, batch):
        number_scorer.score_batch(calls.slice(lo, batch))
    timings["number model on every call"] = time.perf_counter() - start
    start = time.perf_counter()
    names = transfer_scorer.feature_names
    Xt = feature_matrix(transfers, names)
    raw_t = transfer_scorer.booster.predict(Xt, raw_score=True, num_threads=1)
    online = OnlineModel([*names, "offline_logit"])
    transfer_labels = labels.filter(pl.col("entity_type").cast(pl.String) == "transfer")
    replay_online(
        transfers["transfer_id"].to_list(), transfers["time"].dt.epoch("ms").to_numpy(), online_inputs(Xt, raw_t),
        transfer_labels["entity_id"].to_list(), transfer_labels["known_at"].dt.epoch("ms").to_numpy(),
        np.ones(transfer_labels.height, dtype=np.int64), online,
        learn_every=3_600_000, negative_after=2 * 86_400_000, negative_sample=0.25,
    )
    timings["online river model (batches, delayed labels)"] = time.perf_counter() - start
    return timings, {"scorer": transfer_scorer, "X": Xt}


def _river_per_event(frames: dict[str, pl.DataFrame], limit: int, same_job: bool) -> tuple[int, float]:
    """Per event, in river: keyed ``Agg`` features, then predict + learn, one event at a time.

    ``same_job=False`` is a light pipeline (6 aggregates, one river logistic regression on
    transfers). ``same_job=True`` does what this project does, per event: 12 aggregates per
    call (caller and callee side) and 16 per transfer (payer, payee and the payer's phone as a
    callee: the cross-channel join), the shipped LightGBM models scored row by row on every
    call and transfer, and the river online model on every transfer. Timed on a prefix.
    """
    import lightgbm as lgb
    from river import compose, feature_extraction, linear_model, preprocessing, stats

    calls = frames["call"].select(
        pl.col("start_time").alias("time"), pl.lit("call").alias("kind"), pl.col("call_id").alias("id"),
        pl.col("caller").alias("key"), pl.col("callee").alias("other"), (pl.col("duration_s") / 60).alias("value"),
    )
    transfers = frames["transfer"].select(
        pl.col("time"), pl.lit("transfer").alias("kind"), pl.col("transfer_id").alias("id"),
        pl.col("payer_phone").alias("key"), pl.col("payee_account").alias("other"), pl.col("amount").alias("value"),
    )
    events = pl.concat([calls, transfers]).sort("time").head(limit)
    scam_ids = set(frames["label"]["entity_id"].to_list())

    def aggs(by: str, how: list) -> list:
        return [feature_extraction.Agg(on="value", by=by, how=h) for h in how]

    if same_job:
        def call_stats() -> list:
            """Fresh statistics for one aggregate (each aggregate owns its own)."""
            return [stats.Count(), stats.Mean(), stats.Max(), stats.EWMean(0.1), stats.EWMean(0.01), stats.Var()]

        call_aggs = aggs("key", call_stats()) + aggs("other", call_stats())
        transfer_aggs = aggs("key", [*call_stats(), stats.Sum(), stats.Min()]) + aggs(
            "other", [*call_stats(), stats.Sum(), stats.Min()]
        )
        models = Path(__file__).resolve().parent.parent / "models"
        boosters = {
            kind: lgb.Booster(model_file=str(next((models / name).glob("v*/model.txt"))))
            for kind, name in (("call", "number"), ("transfer", "transfer"))
        }
        widths = {kind: b.num_feature() for kind, b in boosters.items()}
    else:
        call_aggs = aggs("key", [stats.Count(), stats.Mean(), stats.Max(), stats.EWMean(0.1)])
        transfer_aggs = call_aggs + aggs("other", [stats.Count(), stats.Mean()])
    model = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression())
    start = time.perf_counter()
    for row in events.iter_rows(named=True):
        x = {"key": row["key"], "other": row["other"], "value": row["value"]}
        features: dict[str, float] = {"value": row["value"]}
        kind = row["kind"]
        for agg in call_aggs if kind == "call" else transfer_aggs:
            features.update(agg.transform_one(x))
            agg.learn_one(x)
        if same_job:
            vector = np.zeros((1, widths[kind]))
            values = list(features.values())[: widths[kind]]
            vector[0, : len(values)] = values
            boosters[kind].predict(vector, num_threads=1)
        if kind == "transfer":
            model.predict_proba_one(features)
            # the label is learned at once here (the delayed join would only add work)
            model.learn_one(features, row["id"] in scam_ids)
    return events.height, time.perf_counter() - start


def _latency(models: dict, repeats: int) -> dict[str, dict[str, float]]:
    scorer = models["scorer"]
    X = models["X"]
    rows = [dict(zip(scorer.feature_names, X[i].tolist(), strict=True)) for i in range(min(repeats, len(X)))]
    out: dict[str, dict[str, float]] = {}
    for label, call in (
        ("Booster.predict 1 row (raw LightGBM)", lambda i: scorer.booster.predict(X[i : i + 1], num_threads=1)),
        ("score_one(array), calibrated, no reasons", lambda i: scorer.score_one(X[i], reasons=False)),
        ("score_one(dict), reasons if score >= 0.9", lambda i: scorer.score_one(rows[i])),
        ("score_one(dict), always with reasons", lambda i: scorer.score_one(rows[i], reasons=True)),
    ):
        for i in range(50):
            call(i % len(rows))
        samples = np.empty(len(rows))
        for i in range(len(rows)):
            t = time.perf_counter_ns()
            call(i)
            samples[i] = (time.perf_counter_ns() - t) / 1000
        out[label] = {"p50_us": float(np.percentile(samples, 50)), "p99_us": float(np.percentile(samples, 99))}
    return out


def main() -> None:
    """Run the benchmark and print/write its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events (calls + transfers) to score")
    parser.add_argument("--quick", action="store_true", help="100,000 events, shorter baseline")
    parser.add_argument("--river-events", type=int, default=100_000, help="events for the per-event river baseline")
    parser.add_argument("--batch", type=int, default=50_000, help="rows per scoring batch")
    args = parser.parse_args()
    n_events = 100_000 if args.quick else args.events
    river_events = min(n_events, 20_000 if args.quick else args.river_events)

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmark", total=5)
        frames = _world(n_events)
        _replay(_world(5_000, seed=1))  # compile the numba kernels outside the timing
        progress.advance(task)
        features, t_features = _replay(frames)
        progress.advance(task)
        timings, models = _models(features, frames["label"], args.batch)
        progress.advance(task)
        river_n, river_t = _river_per_event(frames, river_events, same_job=True)
        light_n, light_t = _river_per_event(frames, river_events, same_job=False)
        progress.advance(task)
        latency = _latency(models, 2_000 if args.quick else 10_000)
        progress.advance(task)

    t_models = sum(timings.values())
    ours = n_events / (t_features + t_models)
    river_rate = river_n / river_t
    import lightgbm
    import river

    machine = {
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
        "polars": pl.__version__, "lightgbm": lightgbm.__version__, "river": river.__version__,
        "machine": platform.machine(),
    }
    table = Table(title=f"Scoring, {n_events:,} events ({frames['transfer'].height:,} transfers), one core")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    table.add_column("events/s", justify="right")
    table.add_row("features (replay, numba engine)", f"{t_features:.2f}", f"{n_events / t_features:,.0f}")
    for name, seconds in timings.items():
        table.add_row(f"  models: {name}", f"{seconds:.2f}", "")
    table.add_row("models total", f"{t_models:.2f}", f"{n_events / t_models:,.0f}")
    table.add_row("[b]end to end (features + models)[/b]", f"{t_features + t_models:.2f}", f"[b]{ours:,.0f}[/b]")
    light_rate = light_n / light_t
    table.add_row(f"river per event, same job ({river_n:,} events)", f"{river_t:.2f}", f"{river_rate:,.0f}")
    table.add_row("[b]ratio this project / river same job[/b]", "", f"[b]{ours / river_rate:.1f}x[/b]")
    table.add_row(f"river per event, light: 6 aggs + LR ({light_n:,} events)", f"{light_t:.2f}", f"{light_rate:,.0f}")
    table.add_row("ratio this project / river light", "", f"{ours / light_rate:.1f}x")
    console.print(table)
    lat = Table(title="Single-record latency (µs, no HTTP)")
    for column in ("path", "p50", "p99"):
        lat.add_column(column, justify="right")
    for name, figures in latency.items():
        lat.add_row(name, f"{figures['p50_us']:.0f}", f"{figures['p99_us']:.0f}")
    console.print(lat)
    console.print(machine)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "events": n_events, "transfers": frames["transfer"].height, "features_seconds": t_features,
        "model_seconds": timings, "end_to_end_events_per_s": ours, "river_events": river_n,
        "river_per_event_events_per_s": river_rate, "ratio": ours / river_rate,
        "river_light_events_per_s": light_rate, "ratio_light": ours / light_rate, "latency": latency,
        "machine": machine,
    }, indent=2) + "\n")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
