"""Simulator speed: records per second for a whole world, against a per-record Python loop.

Run from the repository root: ``python -m benchmarks.simulate`` (the ``bench`` preset, about
1,000,000 call and transfer records) or ``--quick`` (about 100,000). The baseline is the
legitimate-call generator written the obvious way, one record at a time in Python (``random``
module, a dict per record, a polars frame at the end), run on a slice of the same
relationship graph; its records/s are measured, not assumed. Prints a table and writes
``benchmarks/results/simulate.json``. Figures are medians of a few runs on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from fraud_brain.schema.records import CALLS
from fraud_brain.sim import SimConfig, simulate
from fraud_brain.sim.events import CALL_KINDS
from fraud_brain.sim.legit import EDGE_PROFILE, TALK, legit_calls
from fraud_brain.sim.population import EDGE_RATES, build_population
from fraud_brain.sim.registry import Registry
from fraud_brain.sim.rhythm import PROFILES, day_weights

RESULTS = Path(__file__).with_name("results") / "simulate.json"
DISPOSITIONS_UNANSWERED = ["no_answer", "busy", "rejected", "failed"]


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's Poisson draw (fine for the small rates of one relationship edge)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def loop_legit_calls(config: SimConfig, max_records: int) -> tuple[pl.DataFrame, float]:
    """The baseline: relationship calls generated record by record; returns the frame and seconds."""
    registry = Registry(np.random.default_rng(config.seed))
    population = build_population(config, registry, np.random.default_rng(config.seed + 1))
    phones = registry.phone_strings().to_list()
    kinds = ("family", "kin", "colleague", "friend")

    started = time.perf_counter()
    rng = random.Random(config.seed)
    start = datetime.fromtimestamp(config.start_ms / 1000, tz=UTC)
    days = list(range(config.days + 1))
    day_w = {
        k: day_weights(config.start_ms, config.days + 1, PROFILES[EDGE_PROFILE[k]]).tolist() for k in kinds
    }
    hour_w = {k: list(PROFILES[EDGE_PROFILE[k]].hours) for k in kinds}
    rows: list[dict] = []
    for src, dst, kind_code in zip(
        population.edge_src.tolist(), population.edge_dst.tolist(), population.edge_kind.tolist(), strict=True
    ):
        kind = CALL_KINDS[kind_code]
        for _ in range(_poisson(rng, EDGE_RATES[kind] * config.days)):
            day = rng.choices(days, day_w[kind])[0]
            hour = rng.choices(range(24), hour_w[kind])[0]
            moment = start + timedelta(days=day, hours=hour - 8, seconds=rng.uniform(0, 3600))
            answered_share, median, sigma = TALK[kind]
            answered = rng.random() < answered_share
            caller = population.residents[src]
            rows.append(
                {
                    "call_id": f"c{len(rows):08d}",
                    "start_time": moment,
                    "caller": phones[caller],
                    "callee": phones[population.residents[dst]],
                    "duration_s": int(min(max(round(median * rng.lognormvariate(0, sigma)), 3), 14400))
                    if answered
                    else 0,
                    "disposition": "answered" if answered else rng.choice(DISPOSITIONS_UNANSWERED),
                    "caller_type": "mobile",
                    "device_id": None,
                    "cell_id": None,
                    "region": None,
                    "sim_age_days": None,
                }
            )
        if len(rows) >= max_records:
            break
    frame = pl.DataFrame(rows, schema=CALLS.polars_schema())
    return frame, time.perf_counter() - started


def timed(fn, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Median seconds of ``repeats`` calls, and the last result."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> None:
    """Run the benchmark and print/write its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="About 100,000 records instead of 1,000,000.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per measurement (median reported).")
    parser.add_argument(
        "--baseline-records",
        type=int,
        default=None,
        help="Records the per-record loop makes (default: 50,000; 20,000 with --quick).",
    )
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    config = SimConfig.preset("bench", **({"n_subscribers": 3_500} if args.quick else {}))
    baseline_records = args.baseline_records or (20_000 if args.quick else 50_000)

    simulate(SimConfig(n_subscribers=200, days=1))  # warm imports and caches once
    world_s, world = timed(lambda: simulate(config), args.repeats)
    records = world.n_records

    def vector_calls() -> int:
        registry = Registry(np.random.default_rng(config.seed))
        population = build_population(config, registry, np.random.default_rng(config.seed + 1))
        return int(legit_calls(config, population, np.random.default_rng(config.seed + 2))["t"].size)

    vector_s, vector_n = timed(vector_calls, args.repeats)
    loop_runs = [loop_legit_calls(config, baseline_records) for _ in range(max(1, min(args.repeats, 2)))]
    loop_s = statistics.median(s for _, s in loop_runs)
    loop_n = loop_runs[0][0].height

    rows = [
        ("simulate(): whole world, all frames", records, world_s, records / world_s),
        ("legit calls, vectorized (numpy)", vector_n, vector_s, vector_n / vector_s),
        ("legit calls, per-record Python loop (baseline)", loop_n, loop_s, loop_n / loop_s),
    ]
    ratio_world = rows[0][3] / rows[2][3]
    ratio_calls = rows[1][3] / rows[2][3]

    console = Console()
    table = Table(
        title=f"Simulator speed ({'quick' if args.quick else 'bench'} preset: "
        f"{config.n_subscribers:,} subscribers × {config.days} days, median of {args.repeats})"
    )
    for column in ("what", "records", "seconds", "records/s"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for what, n, seconds, rate in rows:
        table.add_row(what, f"{n:,}", f"{seconds:.3f}", f"{rate:,.0f}")
    console.print(table)
    machine = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "polars": pl.__version__,
        "polars_threads": pl.thread_pool_size(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    console.print(
        f"world: {world.calls.height:,} calls + {world.transfers.height:,} transfers; "
        f"whole simulator vs per-record loop: ×{ratio_world:,.0f}; "
        f"vectorized vs loop calls: ×{ratio_calls:,.0f}"
    )
    console.print(
        f"machine: {machine['cpu_count']} CPUs, Python {machine['python']}, numpy {machine['numpy']}, "
        f"polars {machine['polars']} on {machine['polars_threads']} thread(s) "
        "(shared machine: figures are noisy; POLARS_MAX_THREADS=1 taskset -c 0 for one core)"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "simulate",
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "quick": args.quick,
                "config": {
                    "preset": "bench",
                    "n_subscribers": config.n_subscribers,
                    "days": config.days,
                    "seed": config.seed,
                },
                "data": {
                    "calls": world.calls.height,
                    "transfers": world.transfers.height,
                    "records": records,
                    "labels": world.labels.height,
                },
                "results": [
                    {"what": w, "records": n, "seconds": s, "records_per_s": r} for w, n, s, r in rows
                ],
                "ratio_world_vs_loop": ratio_world,
                "ratio_vector_calls_vs_loop": ratio_calls,
                "target_records_per_s": 50_000,
                "machine": machine,
                "repeats": args.repeats,
            },
            indent=2,
        )
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
