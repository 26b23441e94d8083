"""Serving API speed on loopback against one uvicorn worker: single-record latency at a fixed rate, bulk events/s, RSS.

Run from the repository root: ``python -m benchmarks.api`` (``--quick`` for a short run).
Prints a table and writes ``benchmarks/results/api.json``.

What is measured depends on what the server has:
- with ``--state-dir`` (the scoring pipeline, ``fraud_brain.pipeline.Brain``) the pre-transfer
  check ``POST /v1/check/transfer`` and ``POST /v1/ingest/call``;
- without it (the default while the pipeline is not wired in) the same request path minus
  scoring: auth, limits, body decoding and schema validation, on ``POST /v1/validate/transfer``
  (one record) and ``POST /v1/validate/call`` (batches of 1,000).
Baselines in the same run: ``GET /health`` at the same fixed rate (the cost of HTTP + uvicorn
alone), and for bulk bodies the same records decoded per record into pydantic models in-process
(the usual FastAPI way) and our decode + validation in-process (the ceiling without HTTP).
Latency is taken from each request's *scheduled* send time, so a slow reply that delays the next
request is counted against the server (no coordinated omission). The machine is a shared 2-core
box: client and server compete for the same cores, so figures are noisy and pessimistic.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import polars as pl

from fraud_brain.api.auth import hash_key

RESULTS = Path(__file__).with_name("results") / "api.json"


def _transfer(i: int) -> dict:
    return {"transfer_id": f"t-{i}", "time": "2026-11-01T08:05:00Z", "payer_account": f"ACC{i % 5000}",
            "payer_phone": f"138{i % 100000:08d}", "payee_account": f"PAYEE{i % 700}", "payee_bank": "ICBC",
            "amount": float(100 + i % 9000), "channel": "mobile_app", "device_id": f"dev-{i % 3000}"}


def _call(i: int) -> dict:
    return {"call_id": f"c-{i}", "start_time": f"2026-11-01T{8 + i % 10:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z",
            "caller": f"170{i % 20000:08d}", "callee": f"138{(i * 31) % 100000:08d}", "duration_s": (i * 13) % 3000,
            "disposition": "answered", "caller_type": "mobile", "device_id": f"imei-{i % 9000}", "cell_id": f"cell-{i % 400}",
            "region": "district-1", "sim_age_days": i % 900}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(tmp: Path, state_dir: Path | None) -> tuple[subprocess.Popen, str, dict[str, str]]:
    """``fraud-brain serve`` on a free loopback port with one key per role we use."""
    keys = {role: f"bench-{role}-{os.urandom(4).hex()}" for role in ("feed", "bank", "admin")}
    (tmp / "keys.toml").write_text("".join(
        f'[[key]]\nname = "{role}"\nrole = "{role}"\nsha256 = "{hash_key(key)}"\n' for role, key in keys.items()))
    port = _free_port()
    where = ["--state-dir", str(state_dir)] if state_dir else ["--store", str(tmp / "store.sqlite")]
    process = subprocess.Popen(
        [sys.executable, "-c", "from fraud_brain.cli import main; main()", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--keys", str(tmp / "keys.toml"), "--max-in-flight", "256", *where],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited while starting")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url, keys
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start within 120 s")


def fixed_rate(client: httpx.Client, method: str, path: str, bodies: list[bytes] | None, rate: float, count: int) -> dict:
    """``count`` requests at ``rate``/s on one keep-alive connection; latency from the scheduled send time."""
    interval = 1.0 / rate
    latencies = np.empty(count)
    statuses: dict[int, int] = {}
    start = time.perf_counter() + 0.05
    for i in range(count):
        scheduled = start + i * interval
        wait = scheduled - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        body = bodies[i % len(bodies)] if bodies else None
        reply = client.request(method, path, content=body, headers={"Content-Type": "application/json"} if body else None)
        latencies[i] = time.perf_counter() - scheduled
        statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
    elapsed = time.perf_counter() - start
    return {"requests": count, "rate_target": rate, "rate_achieved": count / elapsed,
            "p50_ms": float(np.percentile(latencies, 50) * 1e3), "p99_ms": float(np.percentile(latencies, 99) * 1e3),
            "max_ms": float(latencies.max() * 1e3), "statuses": statuses}


def bulk(client: httpx.Client, path: str, bodies: list[bytes], media: str, per_batch: int) -> dict:
    """Send every body in turn (one connection, back to back); events per second end to end."""
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    for body in bodies:
        reply = client.post(path, content=body, headers={"Content-Type": media})
        statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
    elapsed = time.perf_counter() - start
    return {"batches": len(bodies), "events": len(bodies) * per_batch, "seconds": elapsed,
            "events_per_s": len(bodies) * per_batch / elapsed, "statuses": statuses}


def in_process(records: list[dict], repeats: int) -> dict:
    """Decode + validate 1,000 records in-process: ours (orjson → polars → validate) vs pydantic per record."""
    from pydantic import BaseModel, TypeAdapter

    from fraud_brain.api.bodies import decode_records
    from fraud_brain.schema.validate import validate

    class CallIn(BaseModel):
        call_id: str
        start_time: str
        caller: str
        callee: str
        duration_s: int
        disposition: str
        caller_type: str
        device_id: str | None = None
        cell_id: str | None = None
        region: str | None = None
        sim_age_days: int | None = None

    body = orjson.dumps(records)
    adapter = TypeAdapter(list[CallIn])

    def timed(work) -> float:
        work()
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            work()
            runs.append(time.perf_counter() - t0)
        return len(records) / float(np.median(runs))

    ours = timed(lambda: validate(decode_records(body, "application/json"), "call"))
    pydantic = timed(lambda: adapter.validate_json(body))
    return {"ours_events_per_s": ours, "pydantic_events_per_s": pydantic}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run: 400 fixed-rate requests, 10 batches")
    parser.add_argument("--rate", type=float, default=200.0, help="fixed request rate for the single-record check")
    parser.add_argument("--requests", type=int, default=None, help="fixed-rate requests (default 3,000; quick 400)")
    parser.add_argument("--batches", type=int, default=None, help="bulk batches of 1,000 (default 50; quick 10)")
    parser.add_argument("--state-dir", type=Path, default=None, help="pipeline state folder: measure scoring endpoints")
    args = parser.parse_args()
    requests = args.requests or (400 if args.quick else 3000)
    batches = args.batches or (10 if args.quick else 50)
    per_batch = 1000

    from rich.console import Console
    from rich.table import Table

    console = Console()
    engine = args.state_dir is not None
    check_path = "/v1/check/transfer" if engine else "/v1/validate/transfer"
    bulk_path = "/v1/ingest/call" if engine else "/v1/validate/call"
    transfers = [_transfer(i) for i in range(requests)]
    check_bodies = [orjson.dumps(t if engine else [t]) for t in transfers]
    call_batches = [[_call(b * per_batch + i) for i in range(per_batch)] for b in range(batches)]
    json_bodies = [orjson.dumps(batch) for batch in call_batches]
    arrow_bodies = []
    for batch in call_batches:
        sink = io.BytesIO()
        pl.DataFrame(batch).write_ipc_stream(sink)
        arrow_bodies.append(sink.getvalue())

    with tempfile.TemporaryDirectory() as tmp:
        process, url, keys = start_server(Path(tmp), args.state_dir)
        try:
            rss_start = _rss_mib(process.pid)
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=60) as client:
                fixed_rate(client, "GET", "/health", None, args.rate, min(200, requests))  # warm-up
                health = fixed_rate(client, "GET", "/health", None, args.rate, requests)
                check = fixed_rate(client, "POST", check_path, check_bodies, args.rate, requests)
                bulk_json = bulk(client, bulk_path, json_bodies, "application/json", per_batch)
                bulk_arrow = bulk(client, bulk_path, arrow_bodies, "application/vnd.apache.arrow.stream", per_batch)
            rss_end = _rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=20)
    local = in_process(call_batches[0], repeats=5 if args.quick else 15)

    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
               "polars": pl.__version__, "platform": platform.platform()}
    result = {
        "mode": "pipeline" if engine else "desk-only (no scoring: decode + auth + validation)",
        "check_endpoint": check_path, "bulk_endpoint": bulk_path,
        "data": {"fixed_rate_requests": requests, "bulk_batches": batches, "records_per_batch": per_batch},
        "machine": machine, "health_baseline": health, "check": check,
        "bulk_json": bulk_json, "bulk_arrow": bulk_arrow, "in_process_1000": local,
        "server_rss_mib": {"start": rss_start, "end": rss_end},
        "targets": {"check_p99_ms": 10.0, "check_rate": 200.0, "ingest_events_per_s": 50_000},
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))

    table = Table(title=f"Serving API on loopback, one worker — {result['mode']}")
    for column in ("what", "figure", "baseline", "ratio"):
        table.add_column(column)
    table.add_row(f"{check_path} p50 / p99 at {args.rate:g} req/s", f"{check['p50_ms']:.2f} / {check['p99_ms']:.2f} ms",
                  f"/health {health['p50_ms']:.2f} / {health['p99_ms']:.2f} ms", f"{check['p99_ms'] / health['p99_ms']:.1f}x p99")
    table.add_row("  achieved rate, statuses", f"{check['rate_achieved']:.0f}/s {check['statuses']}", "", "")
    table.add_row(f"{bulk_path} JSON, batches of 1,000", f"{bulk_json['events_per_s']:,.0f} ev/s {bulk_json['statuses']}",
                  f"in-process pydantic {local['pydantic_events_per_s']:,.0f} ev/s",
                  f"{bulk_json['events_per_s'] / local['pydantic_events_per_s']:.2f}x")
    table.add_row(f"{bulk_path} Arrow IPC, batches of 1,000", f"{bulk_arrow['events_per_s']:,.0f} ev/s {bulk_arrow['statuses']}",
                  f"in-process ours {local['ours_events_per_s']:,.0f} ev/s",
                  f"{bulk_arrow['events_per_s'] / local['ours_events_per_s']:.2f}x")
    table.add_row("server RSS start → end", f"{rss_start:.0f} → {rss_end:.0f} MiB", "", "")
    console.print(table)
    console.print(f"data: {requests:,} fixed-rate requests, {batches} × {per_batch:,} call records per format; "
                  f"machine: {machine['cpus']} CPUs, Python {machine['python']}, numpy {machine['numpy']}, polars {machine['polars']}")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
