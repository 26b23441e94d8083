"""Streaming feature speed: this engine vs river per-event aggregates vs polars batch rolling windows.

Run from the repository root: ``python -m benchmarks.features`` (1,000,000 events over 100,000
keys) or ``--quick`` (100,000 events over 10,000 keys). Prints a table and writes
``benchmarks/results/features.json``.

Rows:
- ``engine telecom spec``: the bundled telecom spec (31 call / 40 transfer features, 5 entities)
  replayed over calls + transfers, from empty state (state grows while it runs) and again over
  the same keys with warm state (steady state). Wall time includes everything the engine does
  per micro-batch (dedup, watermark, hashing, reference join, numba kernel, output frames).
- ``engine 5-feature spec``: the same 5 per-caller features river computes below
  (count, mean and max duration, calls in the last hour, talk seconds in the last 24 h).
- ``river Agg/TimeRolling``: those 5 features per event with ``feature_extraction.Agg``
  (``transform_one`` before ``learn_one``: point in time), on a subset, extrapolated.
- ``polars rolling``: the same 5 features as a batch job (``rolling`` + cumulative windows over
  calls sorted by caller and time) — not streaming, a lower bound on batch cost.
Numba compile time is measured in a fresh process with an empty cache, apart from throughput.
The size of the duplicate-detection table (bounded by the allowed lateness) is printed at the end.
The sliding windows of the engine are bucketed (6 buckets); river's TimeRolling is exact.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# One core, as the issue asks: polars (inside the engine and in the batch baseline) single-threaded.
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import numpy as np
import polars as pl

RESULTS = Path(__file__).with_name("results") / "features.json"

SIMPLE_SPEC = """
[spec]
name = "bench5"
[streams.call]
id = "call_id"
time = "start_time"
[entities]
phone = {}
[[aggregate]]
name = "calls"
entity = "phone"
stream = "call"
key = "caller"
op = "count"
sliding = ["1h"]
lifetime = true
[[aggregate]]
name = "duration_mean"
entity = "phone"
stream = "call"
key = "caller"
op = "mean"
value = "duration_s"
[[aggregate]]
name = "duration_max"
entity = "phone"
stream = "call"
key = "caller"
op = "max"
value = "duration_s"
[[aggregate]]
name = "talk_s"
entity = "phone"
stream = "call"
key = "caller"
op = "sum"
value = "duration_s"
sliding = ["24h"]
"""

COMPILE_SNIPPET = """
import time
t0 = time.perf_counter()
from fraud_brain.features import bundled_spec, replay
from fraud_brain.features.synthetic import synthetic_telecom
frames = synthetic_telecom(200, 50, 20)
t1 = time.perf_counter()
replay(bundled_spec("telecom"), {s: frames[s] for s in ("call", "transfer", "label")},
       reference={"subscribers": frames["subscribers"]})
print(time.perf_counter() - t1)
"""


def compile_seconds(cache_dir: str) -> float:
    """Seconds of the first replay in a fresh process using ``cache_dir`` as numba's cache."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", COMPILE_SNIPPET], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    return float(out.stdout.strip().splitlines()[-1])


def timed(fn):  # type: ignore[no-untyped-def]
    """(result, wall seconds, cpu seconds of this process)."""
    w, c = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - w, time.process_time() - c


def shifted(frames: dict[str, pl.DataFrame], days: float, tag: str) -> dict[str, pl.DataFrame]:
    """The same events later in time with new ids (to measure warm, steady-state throughput)."""
    delta = timedelta(days=days)
    out = {}
    for stream, id_col, time_col in (("call", "call_id", "start_time"), ("transfer", "transfer_id", "time")):
        out[stream] = frames[stream].with_columns(
            (pl.col(id_col) + tag).alias(id_col), (pl.col(time_col) + delta).alias(time_col))
    return out


def river_rate(calls: pl.DataFrame) -> float:
    """Events/s of the 5 features per event with river (transform_one then learn_one)."""
    import warnings

    from river import feature_extraction, stats, utils

    warnings.filterwarnings("ignore")
    aggs_plain = [
        feature_extraction.Agg(on="one", by="caller", how=stats.Count()),
        feature_extraction.Agg(on="duration_s", by="caller", how=stats.Mean()),
        feature_extraction.Agg(on="duration_s", by="caller", how=stats.Max()),
    ]
    aggs_timed = [
        feature_extraction.Agg(on="one", by="caller", how=utils.TimeRolling(stats.Sum, period=timedelta(hours=1))),
        feature_extraction.Agg(on="duration_s", by="caller",
                               how=utils.TimeRolling(stats.Sum, period=timedelta(hours=24))),
    ]
    # river's TimeRolling starts from a naive datetime, so times go in as naive UTC
    rows = calls.select("caller", "duration_s", pl.col("start_time").dt.replace_time_zone(None)).with_columns(
        one=pl.lit(1.0)).to_dicts()
    start = time.process_time()
    for row in rows:
        features = {}
        for agg in aggs_plain:
            features.update(agg.transform_one(row))
        for agg in aggs_timed:
            features.update(agg.transform_one(row))
        for agg in aggs_plain:
            agg.learn_one(row)
        for agg in aggs_timed:
            agg.learn_one(row, t=row["start_time"])
    return len(rows) / (time.process_time() - start)


def polars_rolling(calls: pl.DataFrame) -> pl.DataFrame:
    """The 5 features as a batch job: windows over each caller's earlier calls."""
    frame = calls.select("caller", "start_time", "duration_s").sort("caller", "start_time")
    windows = frame.rolling("start_time", period="1h", group_by="caller", closed="left").agg(
        pl.len().alias("calls_1h"))
    day = frame.rolling("start_time", period="24h", group_by="caller", closed="left").agg(
        pl.col("duration_s").sum().alias("talk_s_24h"))
    cumulative = frame.with_columns(
        pl.col("duration_s").cum_count().over("caller").sub(1).alias("calls"),
        (pl.col("duration_s").cum_sum().over("caller") - pl.col("duration_s")).alias("talk_total"),
        pl.col("duration_s").cum_max().shift(1).over("caller").alias("duration_max"),
    )
    return pl.concat([cumulative, windows.select("calls_1h"), day.select("talk_s_24h")], how="horizontal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 events over 10,000 keys")
    parser.add_argument("--events", type=int, default=1_000_000, help="calls + transfers (80%% / 20%%)")
    parser.add_argument("--keys", type=int, default=100_000, help="phone numbers (and accounts)")
    parser.add_argument("--river-events", type=int, default=50_000, help="events river runs (then extrapolated)")
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--no-compile", action="store_true", help="skip the fresh-process compile measurement")
    args = parser.parse_args()
    if args.quick:
        args.events, args.keys, args.river_events = 100_000, 10_000, 20_000

    from rich.console import Console
    from rich.table import Table

    from fraud_brain.features import FeatureEngine, bundled_spec, load_spec_text, replay
    from fraud_brain.features.synthetic import synthetic_telecom

    console = Console(width=150)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
               "polars": pl.__version__, "platform": platform.platform(),
               "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
               "polars_threads": pl.thread_pool_size()}
    import numba

    machine["numba"] = numba.__version__
    console.print(f"machine: {machine}")

    compile_s = cache_load_s = None
    if not args.no_compile:
        with tempfile.TemporaryDirectory() as cache:
            compile_s = compile_seconds(cache)
            cache_load_s = compile_seconds(cache)
        console.print(f"numba: first replay in a fresh process {compile_s:.1f} s with an empty cache, "
                      f"{cache_load_s:.1f} s with the cache filled")

    n_calls = int(args.events * 0.8)
    n_transfers = args.events - n_calls
    frames = synthetic_telecom(n_calls, n_transfers, args.keys, seed=1, span_days=7)
    sources = {"call": frames["call"], "transfer": frames["transfer"]}
    reference = {"subscribers": frames["subscribers"]}
    spec = bundled_spec("telecom")
    # warm the compiled kernels (cache load) outside the timings
    replay(spec, {s: f.head(1000) for s, f in sources.items()}, reference=reference)

    def run_telecom() -> FeatureEngine:
        engine = FeatureEngine(spec, reference)
        for batch in _batches(sources, args.batch_size):
            engine.process(batch)
        engine.flush()
        return engine

    engine, cold_wall, cold_cpu = timed(run_telecom)
    later = shifted(frames, 8, "_b")
    batches = list(_batches(later, args.batch_size))

    def run_warm() -> None:
        for batch in batches:
            engine.process(batch)
        engine.flush()

    # CPU time inside the compiled kernel during the steady run, to tell it from the per-batch
    # preparation around it (hashing, joins, input and output frames)
    from fraud_brain.features import kernel

    kernel_cpu = [0.0]
    compiled_run = kernel.run

    def counted_run(*args):  # type: ignore[no-untyped-def]
        start = time.process_time()
        compiled_run(*args)
        kernel_cpu[0] += time.process_time() - start

    kernel.run = counted_run
    try:
        _, warm_wall, warm_cpu = timed(run_warm)
    finally:
        kernel.run = compiled_run
    per_key = engine.state_bytes_per_key()
    keys = engine.keys()
    used = sum(per_key[e] * keys[e] for e in keys)
    avg_per_key = used / max(sum(keys.values()), 1)
    phone_accounts = (per_key["phone"] * keys["phone"] + per_key["account"] * keys["account"]) / max(
        keys["phone"] + keys["account"], 1)

    calls = frames["call"]
    simple = load_spec_text(SIMPLE_SPEC, "bench5.toml")
    replay(simple, {"call": calls.head(1000)})
    _, simple_wall, simple_cpu = timed(lambda: replay(simple, {"call": calls}, batch_size=args.batch_size))
    river_subset = calls.head(args.river_events)
    river_eps = river_rate(river_subset)
    _, polars_wall, polars_cpu = timed(lambda: polars_rolling(calls))

    rows = [
        ("engine telecom spec, from empty state", args.events, cold_wall, cold_cpu),
        ("engine telecom spec, warm state (steady)", args.events, warm_wall, warm_cpu),
        ("engine 5-feature spec (calls)", n_calls, simple_wall, simple_cpu),
        (f"river Agg/TimeRolling 5 features ({args.river_events:,} calls, extrapolated)", n_calls,
         n_calls / river_eps, n_calls / river_eps),
        ("polars batch rolling 5 features (calls)", n_calls, polars_wall, polars_cpu),
    ]
    engine_simple_eps = n_calls / simple_cpu
    table = Table(title=f"streaming features: {args.events:,} events ({n_calls:,} calls + {n_transfers:,} transfers), "
                        f"{args.keys:,} phone numbers")
    for col in ("approach", "events", "wall s", "cpu s", "events/s (cpu)", "river ÷ this", "vs engine 5-feat"):
        table.add_column(col, justify="right" if col != "approach" else "left")
    result_rows = []
    for name, n, wall, cpu in rows:
        eps = n / cpu
        table.add_row(name, f"{n:,}", f"{wall:.2f}", f"{cpu:.2f}", f"{eps:,.0f}", f"{eps / river_eps:.1f}x",
                      f"{eps / engine_simple_eps:.2f}x")
        result_rows.append({"approach": name, "events": n, "wall_s": wall, "cpu_s": cpu, "events_per_s_cpu": eps,
                            "events_per_s_wall": n / wall, "ratio_vs_river": eps / river_eps})
    console.print(table)
    console.print(f"steady state: {kernel_cpu[0]:.2f} s of {warm_cpu:.2f} s CPU in the compiled kernel "
                  f"({args.events / max(kernel_cpu[0], 1e-9):,.0f} events/s on its own), "
                  f"{warm_cpu - kernel_cpu[0]:.2f} s in per-batch preparation around it")
    console.print(f"state bytes per key (row + hash entry): {per_key}; keys: {keys}")
    console.print(f"average over all keys: {avg_per_key:.0f} B; over phones + accounts: {phone_accounts:.0f} B; "
                  f"allocated incl. growth headroom: {engine.store.nbytes() / 1e6:.0f} MB")
    seen_held, seen_slots = engine.seen_ids()
    console.print(f"duplicate detection: {seen_held:,} ids held in {seen_slots:,} slots "
                  f"({16 * seen_slots / 1e6:.1f} MB) after {engine.seq:,} events; an unbounded set would hold every id "
                  f"(at least {2 * engine.seq:,} slots, {32 * engine.seq / 1e6:.0f} MB)")
    console.print("[dim]events/s use this process's CPU time: the machine is shared, so wall time is noisier. "
                  "river ran on a subset and was extrapolated per event.[/dim]")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": machine, "events": args.events, "keys": args.keys, "batch_size": args.batch_size,
        "numba_first_call_empty_cache_s": compile_s, "numba_first_call_cached_s": cache_load_s,
        "rows": result_rows, "state_bytes_per_key": per_key, "keys_by_entity": keys,
        "state_bytes_per_key_average": avg_per_key, "state_bytes_per_key_phone_account": phone_accounts,
        "state_allocated_mb": engine.store.nbytes() / 1e6, "river_events": args.river_events,
        "steady_kernel_cpu_s": kernel_cpu[0], "steady_preparation_cpu_s": warm_cpu - kernel_cpu[0],
        "seen_ids_held": seen_held, "seen_slots": seen_slots, "events_seen": engine.seq,
    }, indent=2))
    console.print(f"wrote {RESULTS}")


def _batches(sources: dict[str, pl.DataFrame], batch_size: int):  # type: ignore[no-untyped-def]
    """Micro-batches by event time, as a live feed would deliver them."""
    times = {s: f.get_column("start_time" if s == "call" else "time").dt.epoch("ms").to_numpy()
             for s, f in sources.items()}
    merged = np.sort(np.concatenate(list(times.values())))
    cuts = [*np.unique(merged[batch_size::batch_size]).tolist(), None]
    low = {s: 0 for s in sources}
    for cut in cuts:
        batch = {}
        for s, frame in sources.items():
            high = frame.height if cut is None else int(np.searchsorted(times[s], cut))
            batch[s] = frame.slice(low[s], high - low[s])
            low[s] = high
        yield batch


if __name__ == "__main__":
    main()
