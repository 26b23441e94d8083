"""Serving API speed on loopback against one uvicorn worker: single-record latency at a fixed rate, bulk events/s, RSS.

Run from the repository root: ``python -m benchmarks.api`` (``--quick`` for a short run).
Prints a table and writes ``benchmarks/results/api.json``.

Two modes (``--mode``; ``auto`` picks ``pipeline`` when the live pipeline and models are there):
- ``pipeline``: the server runs the scoring pipeline (``fraud_brain.pipeline.brain.Brain``) on
  the committed sample data: the pre-transfer check ``POST /v1/check/transfer`` with sample
  transfers at a fixed rate, and ``POST /v1/ingest/call`` with the sample's calls in event-time
  batches of 1,000 (JSON, then Arrow IPC). Baseline: the same Brain called in-process (no HTTP)
  on the same batches and transfers, so the ratio is the API's own overhead.
- ``desk``: the request path minus scoring (auth, limits, body decoding, schema validation) on
  ``POST /v1/validate/transfer`` and ``POST /v1/validate/call``. Baselines: the same records
  decoded per record into pydantic models in-process (the usual FastAPI way) and our decode +
  validation in-process (the ceiling without HTTP).
Both modes also time ``GET /health`` at the same fixed rate (the cost of HTTP + uvicorn alone).
Latency is taken from each request's *scheduled* send time, so a slow reply that delays the next
request is counted against the server (no coordinated omission); "service" latency is from the
actual send. A fixed-rate run stops after ``--max-seconds`` so a slow server cannot stall it. The machine is a
shared 2-core box: client and server compete for the same cores, so figures are noisy and pessimistic.
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
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
MODELS = ROOT / "models"


def _transfer(i: int) -> dict:
    return {"transfer_id": f"t-{i}", "time": "2026-11-01T08:05:00Z", "payer_account": f"ACC{i % 5000}",
            "payer_phone": f"138{i % 100000:08d}", "payee_account": f"PAYEE{i % 700}", "payee_bank": "ICBC",
            "amount": float(100 + i % 9000), "channel": "mobile_app", "device_id": f"dev-{i % 3000}"}


def _call(i: int) -> dict:
    return {"call_id": f"c-{i}", "start_time": f"2026-11-01T{8 + i % 10:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z",
            "caller": f"170{i % 20000:08d}", "callee": f"138{(i * 31) % 100000:08d}", "duration_s": (i * 13) % 3000,
            "disposition": "answered", "caller_type": "mobile", "device_id": f"imei-{i % 9000}",
            "cell_id": f"cell-{i % 400}", "region": "district-1", "sim_age_days": i % 900}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(tmp: Path, pipeline: bool) -> tuple[subprocess.Popen, str, dict[str, str]]:
    """``fraud-brain serve`` on a free loopback port with one key per role we use."""
    keys = {role: f"bench-{role}-{os.urandom(4).hex()}" for role in ("feed", "bank", "admin")}
    (tmp / "keys.toml").write_text("".join(
        f'[[key]]\nname = "{role}"\nrole = "{role}"\nsha256 = "{hash_key(key)}"\n' for role, key in keys.items()))
    port = _free_port()
    where = (
        ["--state-dir", str(tmp / "state"), "--subscribers", str(SAMPLE / "subscribers.parquet"),
         "--models-dir", str(MODELS), "--pump-seconds", "0"]
        if pipeline
        else ["--store", str(tmp / "store.sqlite")]
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from fraud_brain.cli import main; main()", "serve",
         "--host", "127.0.0.1", "--port", str(port),
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


def _percentiles(seconds: list[float]) -> dict:
    values = np.asarray(seconds) * 1e3
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "max_ms": float(values.max()),
    }


def fixed_rate(client: httpx.Client, method: str, path: str, bodies: list[bytes] | None, rate: float, count: int,
               max_seconds: float = 60.0) -> dict:
    """Up to ``count`` requests at ``rate``/s on one keep-alive connection, for at most ``max_seconds``."""
    interval = 1.0 / rate
    latencies: list[float] = []
    service: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter() + 0.05
    for i in range(count):
        scheduled = start + i * interval
        wait = scheduled - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        elif time.perf_counter() - start > max_seconds:
            break
        body = bodies[i % len(bodies)] if bodies else None
        sent = time.perf_counter()
        headers = {"Content-Type": "application/json"} if body else None
        reply = client.request(method, path, content=body, headers=headers)
        done = time.perf_counter()
        latencies.append(done - scheduled)
        service.append(done - sent)
        statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
    elapsed = time.perf_counter() - start
    return {"requests": len(latencies), "rate_target": rate, "rate_achieved": len(latencies) / elapsed,
            **_percentiles(latencies), "service": _percentiles(service), "statuses": statuses}


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


def _pipeline_available() -> bool:
    try:
        import fraud_brain.pipeline.brain  # noqa: F401
    except ImportError:
        return False
    return (MODELS / "transfer" / "CHAMPION").exists() and (SAMPLE / "calls.parquet").exists()


def _arrow(frame: pl.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.write_ipc_stream(sink)
    return sink.getvalue()


def pipeline_workload(batches: int, requests: int) -> dict:
    """Sample calls in event-time batches of 1,000 (2 warm-up + ``batches``), and sample transfers to check."""
    from fraud_brain.io import load_kind

    calls = load_kind(SAMPLE, "call").sort("start_time")
    frames = [calls.slice(i * 1000, 1000) for i in range(2 + batches)]
    end = frames[-1]["start_time"].max()
    transfers = load_kind(SAMPLE, "transfer").filter(pl.col("time") > end).sort("time").head(requests)
    checks = [
        {**t, "time": t["time"].isoformat(), "channel": str(t["channel"])} for t in transfers.iter_rows(named=True)
    ]
    return {"warm": frames[:2], "timed": frames[2:], "checks": checks}


def in_process_pipeline(work: dict, tmp: Path) -> dict:
    """The same Brain without HTTP: ingest the same batches and check the same transfers."""
    from fraud_brain.pipeline.brain import Brain
    from fraud_brain.pipeline.config import AppConfig

    brain = Brain.open(
        AppConfig(state_dir=tmp / "inproc", subscribers=SAMPLE / "subscribers.parquet", models_dir=MODELS)
    )
    for frame in work["warm"]:
        brain.ingest("call", frame, "bench")
    start = time.perf_counter()
    for frame in work["timed"]:
        brain.ingest("call", frame, "bench")
    ingest_s = time.perf_counter() - start
    service = []
    for check in work["checks"][: min(200, len(work["checks"]))]:
        t0 = time.perf_counter()
        brain.check_transfer(check)
        service.append(time.perf_counter() - t0)
    return {"ingest_events_per_s": sum(f.height for f in work["timed"]) / ingest_s, "check": _percentiles(service)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run: fewer requests and batches")
    parser.add_argument("--mode", choices=["auto", "pipeline", "desk"], default="auto", help="what the server runs")
    parser.add_argument("--rate", type=float, default=200.0, help="fixed request rate for the single-record check")
    parser.add_argument("--requests", type=int, default=None, help="fixed-rate requests (default 2,000; quick 400)")
    parser.add_argument("--batches", type=int, default=None, help="bulk batches of 1,000 (default 20; quick 6)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap of each fixed-rate run")
    args = parser.parse_args()
    requests = args.requests or (400 if args.quick else 2000)
    batches = args.batches or (6 if args.quick else 20)
    pipeline = args.mode == "pipeline" or (args.mode == "auto" and _pipeline_available())
    per_batch = 1000

    from rich.console import Console
    from rich.table import Table

    console = Console()
    check_path = "/v1/check/transfer" if pipeline else "/v1/validate/transfer"
    bulk_path = "/v1/ingest/call" if pipeline else "/v1/validate/call"
    if pipeline:
        work = pipeline_workload(batches, requests)
        check_bodies = [orjson.dumps(c) for c in work["checks"]]
        half = max(1, len(work["timed"]) // 2)
        json_bodies = [orjson.dumps(f.to_dicts()) for f in work["timed"][:half]]
        arrow_bodies = [_arrow(f) for f in work["timed"][half:]] or [_arrow(work["timed"][-1])]
        warm_bodies = [_arrow(f) for f in work["warm"]]
    else:
        check_bodies = [orjson.dumps([_transfer(i)]) for i in range(requests)]
        call_batches = [[_call(b * per_batch + i) for i in range(per_batch)] for b in range(batches)]
        json_bodies = [orjson.dumps(batch) for batch in call_batches]
        arrow_bodies = [_arrow(pl.DataFrame(batch)) for batch in call_batches]
        warm_bodies = json_bodies[:1]

    with tempfile.TemporaryDirectory() as tmp:
        process, url, keys = start_server(Path(tmp), pipeline)
        try:
            rss_start = _rss_mib(process.pid)
            auth = {"Authorization": f"Bearer {keys['admin']}"}
            with httpx.Client(base_url=url, headers=auth, timeout=120) as client:
                warm_type = "application/vnd.apache.arrow.stream" if pipeline else "application/json"
                bulk(client, bulk_path, warm_bodies, warm_type, per_batch)
                fixed_rate(client, "GET", "/health", None, args.rate, min(200, requests))  # warm-up
                health = fixed_rate(client, "GET", "/health", None, args.rate, requests, args.max_seconds)
                bulk_json = bulk(client, bulk_path, json_bodies, "application/json", per_batch)
                bulk_arrow = bulk(client, bulk_path, arrow_bodies, "application/vnd.apache.arrow.stream", per_batch)
                client.post(check_path, content=check_bodies[0], headers={"Content-Type": "application/json"})
                check = fixed_rate(client, "POST", check_path, check_bodies, args.rate, requests, args.max_seconds)
            rss_end = _rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
        local = (
            in_process_pipeline(work, Path(tmp))
            if pipeline
            else in_process(call_batches[0], repeats=5 if args.quick else 15)
        )

    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
               "polars": pl.__version__, "platform": platform.platform(),
               "load_average": list(os.getloadavg())}
    result = {
        "mode": (
            "pipeline (sample data, committed models)" if pipeline else "desk (no scoring: decode + auth + validation)"
        ),
        "check_endpoint": check_path, "bulk_endpoint": bulk_path,
        "data": {"fixed_rate_requests": requests, "bulk_batches_json": len(json_bodies),
                 "bulk_batches_arrow": len(arrow_bodies), "records_per_batch": per_batch},
        "machine": machine, "health_baseline": health, "check": check,
        "bulk_json": bulk_json, "bulk_arrow": bulk_arrow, "in_process": local,
        "server_rss_mib": {"start": rss_start, "end": rss_end},
        "targets": {"check_p99_ms": 10.0, "check_rate": 200.0, "ingest_events_per_s": 50_000},
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))

    table = Table(title=f"Serving API on loopback, one worker — {result['mode']}")
    for column in ("what", "figure", "baseline", "ratio"):
        table.add_column(column)
    table.add_row(f"{check_path} p50 / p99 at {args.rate:g} req/s (from schedule)",
                  f"{check['p50_ms']:.1f} / {check['p99_ms']:.1f} ms",
                  f"/health {health['p50_ms']:.1f} / {health['p99_ms']:.1f} ms",
                  f"{check['p99_ms'] / health['p99_ms']:.1f}x p99")
    service_base = (
        f"in-process check {local['check']['p50_ms']:.1f} / {local['check']['p99_ms']:.1f} ms" if pipeline else ""
    )
    service_ratio = f"{check['service']['p50_ms'] / local['check']['p50_ms']:.2f}x p50" if pipeline else ""
    table.add_row("  service time p50 / p99 (from send)",
                  f"{check['service']['p50_ms']:.1f} / {check['service']['p99_ms']:.1f} ms",
                  service_base, service_ratio)
    table.add_row("  requests, achieved rate, statuses",
                  f"{check['requests']} at {check['rate_achieved']:.0f}/s {check['statuses']}",
                  "", "")
    if pipeline:
        base = local["ingest_events_per_s"]
        base_json = base_arrow = f"in-process Brain.ingest {base:,.0f} ev/s"
        ratio_json, ratio_arrow = bulk_json["events_per_s"] / base, bulk_arrow["events_per_s"] / base
    else:
        base_json = f"in-process pydantic {local['pydantic_events_per_s']:,.0f} ev/s"
        base_arrow = f"in-process ours {local['ours_events_per_s']:,.0f} ev/s"
        ratio_json = bulk_json["events_per_s"] / local["pydantic_events_per_s"]
        ratio_arrow = bulk_arrow["events_per_s"] / local["ours_events_per_s"]
    table.add_row(f"{bulk_path} JSON, batches of 1,000",
                  f"{bulk_json['events_per_s']:,.0f} ev/s {bulk_json['statuses']}",
                  base_json, f"{ratio_json:.2f}x")
    table.add_row(f"{bulk_path} Arrow IPC, batches of 1,000",
                  f"{bulk_arrow['events_per_s']:,.0f} ev/s {bulk_arrow['statuses']}",
                  base_arrow, f"{ratio_arrow:.2f}x")
    table.add_row("server RSS start → end", f"{rss_start:.0f} → {rss_end:.0f} MiB", "", "")
    console.print(table)
    console.print(f"data: {check['requests']:,} fixed-rate requests, "
                  f"{len(json_bodies)} JSON + {len(arrow_bodies)} Arrow batches of {per_batch:,} call records; "
                  f"machine: {machine['cpus']} CPUs (load average {machine['load_average'][0]:.1f}), "
                  f"Python {machine['python']}, numpy {machine['numpy']}, polars {machine['polars']}")
    console.print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
