"""Crash drill: ``kill -9`` a real ``fraud-brain serve`` at random points and compare with an uninterrupted run.

Run from the repository root: ``python -m benchmarks.crash_drill`` (the sample's first simulated
week, 50 kills) or ``--hours H --kills K``. Prints a table and writes
``benchmarks/results/crash_drill.json``.

A feed sends the sample's calls, transfers and a share of its labels in time order, in small
batches (seeded sizes), over HTTP to a real server (uvicorn on 127.0.0.1) with the action pump
on. A killer thread sends SIGKILL after seeded random sleeps; the feed then restarts the server on
the same state folder and re-sends every batch that got no 2xx. At the end the server is stopped
cleanly and its store compared with that of an uninterrupted run on a fresh folder:

- every record of every batch was taken by the engine exactly once (a final re-send of every
  batch is all duplicates, and no alert exists twice);
- alerts (event, rule, score, victim, tier), cases (uid, victim, rule, max score, last alert)
  and outbox rows (kind, idempotency key, subject, payload) are identical.

Columns written from the wall clock (received/created times, delivery status and attempts of the
pump) are left out of the comparison: the two runs run at different wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

from fraud_brain.api.auth import hash_key

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
KEYS = {"feed": "key-feed-drill", "bank": "key-bank-drill", "admin": "key-admin-drill"}


def sample_batches(hours: float, seed: int = 7, labels_every: int = 6,
                   sizes: tuple[int, int] = (20, 200),
                   folder: Path | None = None) -> tuple[Path, list[tuple[str, bytes]]]:
    """The first ``hours`` of the sample as JSON batches (kind, body) of one kind each, in time order,
    and a folder (``folder`` or a new temporary one) holding the subscriber profiles."""
    from fraud_brain.io import load_kind

    calls = load_kind(SAMPLE, "call")
    transfers = load_kind(SAMPLE, "transfer")
    labels = load_kind(SAMPLE, "label")
    start = transfers["time"].min()
    end = start + timedelta(hours=hours)
    calls = calls.filter(pl.col("start_time") < end)
    transfers = transfers.filter(pl.col("time") < end)
    labels = labels.filter(pl.col("known_at") < end).sort("known_at")
    index = pl.int_range(pl.len()).alias("i")
    events = pl.concat([
        calls.select(pl.lit("call").alias("kind"), pl.col("start_time").alias("t"), index),
        transfers.select(pl.lit("transfer").alias("kind"), pl.col("time").alias("t"), index),
    ]).sort("t", "kind")
    rng = np.random.default_rng(seed)
    out: list[tuple[str, bytes]] = []
    pos, label_pos = 0, 0
    while pos < events.height:
        chunk = events.slice(pos, int(rng.integers(*sizes)))
        pos += chunk.height
        runs = chunk.with_columns((pl.col("kind") != pl.col("kind").shift()).fill_null(True).cum_sum().alias("run"))
        for run in runs.partition_by("run", maintain_order=True):
            kind = run["kind"][0]
            frame = (calls if kind == "call" else transfers)[run["i"]]
            out.append((kind, frame.write_json().encode()))
        if len(out) % labels_every == 0:
            due = labels.slice(label_pos).filter(pl.col("known_at") <= chunk["t"].max())
            label_pos += due.height
            if due.height:
                out.append(("label", due.write_json().encode()))
    folder = folder if folder is not None else Path(tempfile.mkdtemp(prefix="drill-data-"))
    load_kind(SAMPLE, "subscriber").write_parquet(folder / "subscribers.parquet")
    return folder, out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One ``fraud-brain serve`` process over a state folder."""

    state: Path
    data: Path
    pump_seconds: float
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    starts: int = 0

    def start(self) -> None:
        keys = self.state.parent / "keys.toml"
        keys.write_text("".join(f'[[key]]\nname = "{r}"\nrole = "{r}"\nsha256 = "{hash_key(k)}"\n\n'
                                for r, k in KEYS.items()))
        config = self.state.parent / "drill.toml"
        config.write_text("snapshot_records = 400\nsnapshot_seconds = 3.0\n")
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if k != "FRAUD_BRAIN_API_KEYS"}
        log = open(self.state.parent / "server.log", "ab")  # noqa: SIM115 - the child process writes it
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from fraud_brain.cli import main; main()", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--keys", str(keys), "--state-dir", str(self.state), "--config", str(config),
             "--subscribers", str(self.data / "subscribers.parquet"), "--pump-seconds", str(self.pump_seconds)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        self.starts += 1
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_file = self.state.parent / "server.log"
                raise RuntimeError(f"server exited with {self.process.returncode}; see {log_file}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not become healthy within 120 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class RunResult:
    """What a run left: the store's comparable tables and counts."""

    tables: dict[str, pl.DataFrame]
    kills: int = 0
    resent: int = 0
    replay_duplicates: int = 0
    """Records of the final re-send of every batch the engine refused as already taken."""
    replay_records: int = 0
    """Records of that re-send the engine took as new (0 when every acknowledged record was taken)."""
    seconds: float = 0.0
    health: list[dict[str, Any]] = field(default_factory=list)


def _post(client: httpx.Client, url: str, kind: str, body: bytes) -> httpx.Response:
    path = "/v1/labels" if kind == "label" else f"/v1/ingest/{kind}"
    role = "feed" if kind == "call" else "bank"
    return client.post(url + path, content=body, headers={"Authorization": f"Bearer {KEYS[role]}",
                                                     "Content-Type": "application/json"})


def store_tables(state: Path) -> dict[str, pl.DataFrame]:
    """Alerts, cases and outbox rows of a state folder's store, without the wall-clock columns."""
    from fraud_brain.store import SQLiteRepository

    store = SQLiteRepository(state / "brain.sqlite")
    try:
        alerts = store.table("alerts").select("event_id", "rule", "score", "victim_key",
                                              "tier").sort("event_id", "rule")
        cases = store.table("cases").select("case_uid", "victim_key", "rule", "max_score",
                                            "last_alert_at").sort("case_uid")
        actions = store.table("actions").select("kind", "idempotency_key", "subject",
                                                "payload").sort("idempotency_key")
    finally:
        store.close()
    return {"alerts": alerts, "cases": cases, "actions": actions}


def run(workdir: Path, data: Path, batches: list[tuple[str, bytes]], *, kills: int, seed: int,
        pump_seconds: float = 0.5, pause: tuple[float, float] = (0.5, 3.0)) -> RunResult:
    """Send every batch to a server in ``workdir``, killing it ``kills`` times at random moments."""
    state = workdir / "state"
    server = Server(state, data, pump_seconds)
    server.start()
    result = RunResult({})
    started = time.monotonic()
    rng = random.Random(seed)
    stop = threading.Event()
    killed = threading.Event()
    lock = threading.Lock()

    def killer() -> None:
        while result.kills < kills and not stop.is_set():
            if stop.wait(rng.uniform(*pause)):
                return
            with lock:
                server.kill()
                result.kills += 1
                killed.set()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    i = 0
    with httpx.Client(timeout=60) as client:
        while i < len(batches):
            kind, body = batches[i]
            try:
                response = _post(client, server.url, kind, body)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code < 300:
                i += 1
                continue
            if response is not None and response.status_code not in (502, 503):
                raise RuntimeError(f"batch {i} ({kind}): HTTP {response.status_code}: {response.text[:500]}")
            # no answer: the server was killed; bring it back on the same folder and send again
            with lock:
                if server.process is not None and server.process.poll() is None and not killed.is_set():
                    continue
                server.kill()
                killed.clear()
                server.start()
                result.health.append(httpx.get(f"{server.url}/health", timeout=10).json())
            result.resent += 1
        stop.set()
        thread.join()
        with lock:
            if server.process is None or server.process.poll() is not None:
                server.start()
        # every acknowledged record is in the engine: re-sending everything is all duplicates
        for kind, body in batches:
            if kind == "label":
                continue
            answer = _post(client, server.url, kind, body).json()
            result.replay_duplicates += answer["duplicates"]
            result.replay_duplicates += answer["late"]  # older than the dedupe horizon: refused as late, not taken
            result.replay_records += answer["accepted"] - answer["duplicates"] - answer["late"]
    server.stop()
    result.seconds = time.monotonic() - started
    result.tables = store_tables(state)
    return result


def compare(straight: RunResult, crashed: RunResult) -> dict[str, str]:
    """Per table, 'identical' or what differs."""
    out = {}
    for name, frame in straight.tables.items():
        other = crashed.tables[name]
        if frame.equals(other):
            out[name] = "identical"
        else:
            keys = [c for c in frame.columns if c not in ("score", "max_score", "payload")]
            missing = frame.join(other, on=keys, how="anti").height
            extra = other.join(frame, on=keys, how="anti").height
            out[name] = f"differs: {frame.height} vs {other.height} rows, {missing} missing, {extra} extra"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0 * 7)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, nargs=2, default=(200, 2000), help="smallest and largest batch")
    parser.add_argument("--pause", type=float, nargs=2, default=(1.0, 8.0), help="seconds between kills")
    parser.add_argument("--pump", type=float, default=0.5, help="seconds between action pump runs (0: off)")
    parser.add_argument("--out", default="crash_drill.json", help="result file name under benchmarks/results")
    args = parser.parse_args()
    data, batches = sample_batches(args.hours, sizes=tuple(args.batch))
    work = Path(tempfile.mkdtemp(prefix="crash-drill-"))
    (work / "straight").mkdir()
    (work / "crashed").mkdir()
    straight = run(work / "straight", data, batches, kills=0, seed=args.seed, pump_seconds=args.pump)
    crashed = run(work / "crashed", data, batches, kills=args.kills, seed=args.seed, pause=tuple(args.pause),
                  pump_seconds=args.pump)
    verdict = compare(straight, crashed)
    records = crashed.replay_records + crashed.replay_duplicates
    rows = {
        "simulated hours": args.hours, "pump seconds": args.pump, "batches": len(batches),
        "batch sizes": tuple(args.batch),
        "kills": crashed.kills, "restarts": crashed.resent,
        "records re-sent at the end": records, "of which taken again": crashed.replay_records,
        "seconds (uninterrupted / drill)": f"{straight.seconds:.0f} / {crashed.seconds:.0f}",
        **{f"{name} ({straight.tables[name].height} rows)": v for name, v in verdict.items()},
    }
    for key, value in rows.items():
        print(f"{key:<40} {value}")
    print(f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores")
    out = Path(__file__).parent / "results" / args.out
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**{k: str(v) for k, v in rows.items()}, "machine": platform.platform()}, indent=2))


if __name__ == "__main__":
    main()
