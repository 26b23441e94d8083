"""Action workflow speed: decisions into cases and the durable outbox, and outbox delivery, against raw SQLite.

Run from the repository root: ``python -m benchmarks.actions`` (``--quick`` for 2,000 decisions).
Prints a table and writes ``benchmarks/results/actions.json``. The baseline is the bare cost
of durability: the same rows written with plain ``sqlite3`` inserts/updates in the same
transaction sizes, with none of the workflow (cases, dedupe, timelines, outcomes, leases).
Both run with ``synchronous=FULL`` (an fsync per commit) and ``NORMAL`` (WAL, no fsync per
commit: survives a process crash, may lose the last commits on a power cut).
Figures are medians of a few runs on a shared 2-core machine; expect noise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from benchmarks.timing import timed
from fraud_brain.actions import Dispatcher, ManualClock, Orchestrator, decision_frame, simulated_adapters
from fraud_brain.store import SQLiteRepository

RESULTS = Path(__file__).with_name("results") / "actions.json"
T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


def decisions(n: int, seed: int = 5) -> pl.DataFrame:
    """``n`` decisions over a day for ~n/3 victims; 40% on transfers, a quarter in the minute tier."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        transfer = rng.random() < 0.4
        records.append(
            {
                "event_id": f"e{i}",
                "time": T0 + timedelta(seconds=86_400 * i / n),
                "rule": f"rule_{rng.randrange(20)}",
                "tier": rng.choice(["minute", "hour", "hour", "same_day"]),
                "victim_key": f"138{rng.randrange(n // 3 + 1):08d}",
                "entity_key": f"170{rng.randrange(n // 10 + 1):08d}",
                "typology": rng.choice(["fake_loan", "order_brushing", None]),
                "score": rng.random(),
                "actions": ["voice_bot"] + (["stop_payment"] if transfer else []),
                "reasons": ["score", "new_payee"],
                **(
                    {
                        "payee_account": f"M{rng.randrange(n // 8 + 1)}",
                        "payee_bank": "B",
                        "amount": rng.uniform(100, 9000),
                        "transfer_id": f"T{i}",
                    }
                    if transfer
                    else {}
                ),
            }
        )
    return decision_frame(records)


def ingest(frame: pl.DataFrame, path: Path, batch: int, synchronous: str) -> int:
    store = SQLiteRepository(path, synchronous=synchronous)
    orchestrator = Orchestrator(store, clock=ManualClock(T0 + timedelta(days=1)))
    for start in range(0, frame.height, batch):
        orchestrator.ingest(frame.slice(start, batch))
    actions = sum(store.action_status_counts().values())
    store.close()
    return actions


def dispatch(path: Path, batch: int, synchronous: str) -> int:
    store = SQLiteRepository(path, synchronous=synchronous)
    clock = ManualClock(T0 + timedelta(days=1))
    report = Dispatcher(store, simulated_adapters(1), clock, batch_size=batch, seed=1).run_until_idle(
        max_wait=timedelta(0)
    )
    store.close()
    return report.done


def raw_ingest(
    frame: pl.DataFrame, path: Path, batch: int, actions_per_decision: float, synchronous: str
) -> int:
    """Baseline: insert each decision as an alert row plus its share of action rows, one transaction per batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE, victim TEXT, body TEXT)")
    conn.execute("CREATE TABLE actions (id INTEGER PRIMARY KEY, key TEXT UNIQUE, status TEXT, body TEXT)")
    rows = frame.select("event_id", "victim_key", "rule").rows()
    written = 0
    carry = 0.0
    for start in range(0, len(rows), batch):
        conn.execute("BEGIN")
        for event_id, victim, rule in rows[start : start + batch]:
            conn.execute(
                "INSERT INTO alerts (event_id, victim, body) VALUES (?, ?, ?)", (event_id, victim, rule)
            )
            carry += actions_per_decision
            while carry >= 1:
                carry -= 1
                written += 1
                conn.execute(
                    "INSERT INTO actions (key, status, body) VALUES (?, 'pending', ?)",
                    (f"k{written}", victim),
                )
        conn.execute("COMMIT")
    conn.close()
    return written


def raw_dispatch(path: Path, batch: int, synchronous: str) -> int:
    """Baseline: mark pending rows done, one transaction per row as the outbox does, no adapters."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    done = 0
    while True:
        ids = [
            r[0] for r in conn.execute("SELECT id FROM actions WHERE status = 'pending' LIMIT ?", (batch,))
        ]
        if not ids:
            break
        for action_id in ids:
            conn.execute("BEGIN")
            conn.execute("UPDATE actions SET status = 'done' WHERE id = ?", (action_id,))
            conn.execute("COMMIT")
            done += 1
    conn.close()
    return done


class Timings(NamedTuple):
    """Median seconds of one ``synchronous`` mode's four phases, and what each phase produced."""

    ingest: float
    dispatch: float
    raw_ingest: float
    raw_dispatch: float
    actions: int
    delivered: int
    raw_done: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=5_000, help="decisions (default 5,000)")
    parser.add_argument("--quick", action="store_true", help="2,000 decisions, one repeat")
    parser.add_argument("--batch", type=int, default=1_000, help="decisions per ingest transaction")
    args = parser.parse_args()
    n = 2_000 if args.quick else args.decisions
    repeat = 1 if args.quick else 3

    from rich.console import Console
    from rich.table import Table

    console = Console()
    frame = decisions(n)
    folder = Path(tempfile.mkdtemp(prefix="bench-actions-"))
    ours, raw = folder / "ours.db", folder / "raw.db"

    def clean(path: Path) -> Callable[[], None]:
        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return remove

    def measure(sync: str) -> Timings:
        """Time the workflow and the raw baseline with ``synchronous=sync``."""
        ours_copy = folder / f"ours-dispatch-{sync}.db"
        t_ingest, actions = timed(lambda: ingest(frame, ours, args.batch, sync), repeat, clean(ours))

        def fresh_outbox() -> None:
            clean(ours_copy)()
            ingest(frame, ours_copy, args.batch, sync)

        t_dispatch, delivered = timed(lambda: dispatch(ours_copy, 100, sync), repeat, fresh_outbox)
        per_decision = int(actions) / n
        t_raw_ingest, _ = timed(lambda: raw_ingest(frame, raw, args.batch, per_decision, sync), repeat, clean(raw))

        def fresh_raw() -> None:
            clean(raw)()
            raw_ingest(frame, raw, args.batch, per_decision, sync)

        t_raw_dispatch, raw_done = timed(lambda: raw_dispatch(raw, 100, sync), repeat, fresh_raw)
        return Timings(
            t_ingest, t_dispatch, t_raw_ingest, t_raw_dispatch, int(actions), int(delivered), int(raw_done)
        )

    rates: dict[str, float] = {}
    seconds: dict[str, float] = {}
    ratios: dict[str, float] = {}
    actions = 0
    for sync in ("FULL", "NORMAL"):
        with console.status(f"synchronous={sync}: ingesting {n:,} decisions"):
            t = measure(sync)
        actions = t.actions
        rates[f"{sync}: actions, decisions -> cases + outbox (decisions/s)"] = n / t.ingest
        rates[f"{sync}: baseline, raw alert + action inserts (decisions/s)"] = n / t.raw_ingest
        rates[f"{sync}: actions, outbox delivery via simulators (actions/s)"] = t.delivered / t.dispatch
        rates[f"{sync}: baseline, raw per-row done updates (actions/s)"] = t.raw_done / t.raw_dispatch
        seconds.update(
            {
                f"{sync}_ingest": t.ingest,
                f"{sync}_dispatch": t.dispatch,
                f"{sync}_raw_ingest": t.raw_ingest,
                f"{sync}_raw_dispatch": t.raw_dispatch,
            }
        )
        ratios[f"{sync}_ingest_vs_raw"] = t.raw_ingest / t.ingest
        ratios[f"{sync}_dispatch_vs_raw"] = t.raw_dispatch / t.dispatch

    table = Table(title=f"Action workflow, {n:,} decisions -> {int(actions):,} actions (SQLite WAL)")
    table.add_column("what")
    table.add_column("per second", justify="right")
    for name, rate in rates.items():
        table.add_row(name, f"{rate:,.0f}")
    console.print(table)
    for name, ratio in ratios.items():
        console.print(
            f"{name}: {ratio:.2f}x (below 1 = slower than the bare writes: the workflow's bookkeeping)"
        )
    machine = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "polars": pl.__version__,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }
    console.print(f"machine: {machine}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "decisions": n,
                "actions": int(actions),
                "batch": args.batch,
                "repeat": repeat,
                "seconds": seconds,
                "per_second": rates,
                "ratios": ratios,
                "machine": machine,
            },
            indent=2,
        )
    )
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
