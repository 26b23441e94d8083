"""Durable ingest: Arrow IPC batches of 1,000 records into the write-ahead log, fsync on, 1 and 4 appenders.

Run from the repository root: ``python -m benchmarks.durable_ingest`` (2,000 batches, 2M events
per row) or ``--quick`` (300 batches). Prints a table and writes
``benchmarks/results/durable_ingest.json``.

The batches are the sample's transfers and calls (``data/sample``) cut into 1,000 records and
encoded as Arrow IPC streams up front, as a feed sends them to ``POST /v1/ingest``; each is
appended as one WAL entry and counts as acknowledged when ``append`` returns. Rows:
- ``WAL group commit``: :class:`fraud_brain.durability.WriteAheadLog` in its default mode (an
  append returns after ``fdatasync``; appenders waiting at the same time share one sync), with
  1 and 4 appender threads.
- baseline ``write + fsync per batch``: the same bytes, one ``os.write`` + ``fdatasync`` per batch
  under a lock, no framing and no group commit (what a naive durable log does), 1 and 4 threads.
- ``WAL, no fsync`` and baseline ``raw append, no fsync``: the CPU cost of framing and CRC
  against a bare ``os.write`` (survives a killed process, not a power cut).
- ``replay``: reading the log back and decoding every batch (what a restart costs).
Ack latency is per ``append`` call (from the call to its return: the time a 2xx would wait).
"cores used" is this process's CPU time over wall time: below 1 means one core suffices.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fraud_brain.durability import WriteAheadLog, ipc_to_table, table_to_ipc

RESULTS = Path(__file__).with_name("results") / "durable_ingest.json"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def sample_batches(batch_size: int) -> list[tuple[str, bytes]]:
    """(stream, Arrow IPC bytes) for every whole batch of the sample's transfers and calls."""
    batches = []
    for stream, name in (("transfer", "transfers"), ("call", "calls")):
        table = pq.read_table(SAMPLE / f"{name}.parquet")
        for start in range(0, table.num_rows - batch_size + 1, batch_size):
            batches.append((stream, table_to_ipc(table.slice(start, batch_size))))
    return batches


def run_threads(appenders: int, total: int, batches: list[tuple[str, bytes]],
                append: Callable[[bytes, str], object]) -> tuple[float, float, np.ndarray]:
    """(wall s, cpu s, per-append latencies s) of ``total`` appends split over ``appenders`` threads."""
    latencies = np.zeros(total)
    start_gate = threading.Barrier(appenders + 1)

    def worker(index: int) -> None:
        start_gate.wait()
        for i in range(index, total, appenders):
            stream, payload = batches[i % len(batches)]
            t0 = time.perf_counter()
            append(payload, stream)
            latencies[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(appenders)]
    for thread in threads:
        thread.start()
    cpu0 = time.process_time()
    start_gate.wait()
    wall0 = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - wall0, time.process_time() - cpu0, latencies


class PlainLog:
    """Baseline: bytes appended to one file, optionally one fdatasync per batch, serialized by a lock."""

    def __init__(self, path: Path, sync: bool) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.sync = sync
        self.lock = threading.Lock()

    def append(self, payload: bytes, stream: str) -> None:
        with self.lock:
            os.write(self.fd, payload)
            if self.sync:
                os.fdatasync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="300 batches per row")
    parser.add_argument("--batches", type=int, default=2000, help="batches appended per row")
    parser.add_argument("--batch-size", type=int, default=1000, help="records per batch")
    parser.add_argument("--dir", default=None, help="folder for the logs (default: a temporary folder)")
    args = parser.parse_args()
    if args.quick:
        args.batches = 300

    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    work = Path(tempfile.mkdtemp(prefix="durable-ingest-", dir=args.dir))
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "pyarrow": pa.__version__,
               "platform": platform.platform(), "load_average": os.getloadavg()[0],
               "log_folder": str(work)}
    console.print(f"machine: {machine}")
    batches = sample_batches(args.batch_size)
    mean_bytes = float(np.mean([len(p) for _, p in batches]))
    console.print(f"{len(batches)} distinct sample batches of {args.batch_size:,} records "
                  f"(transfers and calls), {mean_bytes / 1e3:.0f} kB each as Arrow IPC; "
                  f"{args.batches:,} appends per row")

    rows: list[dict[str, object]] = []
    events = args.batches * args.batch_size

    def record(name: str, appenders: int, wall: float, cpu: float, latencies: np.ndarray | None,
               syncs: int | None, baseline: bool) -> None:
        rows.append({"approach": name, "appenders": appenders, "baseline": baseline, "events": events,
                     "batches": args.batches, "wall_s": wall, "cpu_s": cpu, "events_per_s": events / wall,
                     "cores_used": cpu / wall, "mb_per_s": args.batches * mean_bytes / wall / 1e6,
                     "ack_p50_ms": None if latencies is None else float(np.percentile(latencies, 50) * 1e3),
                     "ack_p99_ms": None if latencies is None else float(np.percentile(latencies, 99) * 1e3),
                     "syncs": syncs})

    try:
        for appenders in (1, 4):
            folder = work / f"wal-{appenders}"
            wal = WriteAheadLog(folder, sync="group")
            wall, cpu, lat = run_threads(appenders, args.batches, batches, wal.append)
            record("WAL group commit (fsync)", appenders, wall, cpu, lat, wal.syncs, False)
            wal.close()
            if appenders == 1:
                replay_wal = WriteAheadLog(folder, sync="none")
                cpu0, wall0 = time.process_time(), time.perf_counter()
                decoded = sum(ipc_to_table(entry.payload).num_rows for entry in replay_wal.replay())
                replay_wall, replay_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                replay_wal.close()
                assert decoded == events, (decoded, events)
                record("replay: read + CRC + Arrow decode", 1, replay_wall, replay_cpu, None, None, False)
            shutil.rmtree(folder)
        for appenders in (1, 4):
            plain = PlainLog(work / f"plain-sync-{appenders}.bin", sync=True)
            wall, cpu, lat = run_threads(appenders, args.batches, batches, plain.append)
            plain.close()
            record("baseline: write + fsync per batch, no group commit", appenders, wall, cpu, lat, args.batches, True)
        wal = WriteAheadLog(work / "wal-nosync", sync="none")
        wall, cpu, lat = run_threads(1, args.batches, batches, wal.append)
        wal.close()
        record("WAL, no fsync", 1, wall, cpu, lat, 0, False)
        plain = PlainLog(work / "plain-nosync.bin", sync=False)
        wall, cpu, lat = run_threads(1, args.batches, batches, plain.append)
        plain.close()
        record("baseline: raw append, no fsync", 1, wall, cpu, lat, 0, True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    naive = {r["appenders"]: r["events_per_s"] for r in rows
             if r["approach"] == "baseline: write + fsync per batch, no group commit"}
    table = Table(title=f"durable ingest: {args.batches:,} Arrow IPC batches of {args.batch_size:,} records per row "
                        f"({events:,} events)")
    for col in ("approach", "appenders", "events/s", "cores used", "MB/s", "ack p50 ms", "ack p99 ms", "syncs",
                "÷ fsync-per-batch"):
        table.add_column(col, justify="left" if col == "approach" else "right")
    for row in rows:
        base = naive.get(row["appenders"])  # type: ignore[call-overload]
        ratio = row["events_per_s"] / base if base and "fsync" in str(row["approach"]) else None  # type: ignore[operator]
        row["ratio_vs_fsync_per_batch"] = ratio
        table.add_row(str(row["approach"]), str(row["appenders"]), f"{row['events_per_s']:,.0f}",
                      f"{row['cores_used']:.2f}", f"{row['mb_per_s']:.0f}",
                      "" if row["ack_p50_ms"] is None else f"{row['ack_p50_ms']:.2f}",
                      "" if row["ack_p99_ms"] is None else f"{row['ack_p99_ms']:.2f}",
                      "" if row["syncs"] is None else f"{row['syncs']:,}",
                      "" if ratio is None else f"{ratio:.2f}x")
    console.print(table)
    console.print("[dim]events/s are wall-clock (the log waits on the disk, not the CPU); the machine is shared, "
                  "so re-run before quoting. Target (issue 11): ≥ 50,000 events/s on one core with fsync on.[/dim]")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine, "batch_size": args.batch_size, "batches_per_row": args.batches,
                                   "distinct_batches": len(batches), "mean_batch_bytes": mean_bytes, "rows": rows},
                                  indent=2))
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
