"""The real server with the scoring pipeline inside: HTTP ingest gives the replay's scores; checks, risk, labels,
reload.

Skipped when the pipeline (``fraud_brain.pipeline.brain``) or the committed models are missing.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import orjson
import polars as pl
import pytest

from tests.api.conftest import ROOT_MODELS, Server, start_server, stop_server
from tests.conftest import write_sample_window

pytest.importorskip("fraud_brain.pipeline.brain")
pytestmark = pytest.mark.skipif(not (ROOT_MODELS / "transfer" / "CHAMPION").exists(), reason="no committed models")

HOURS = 3


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first hours of the sample data, as a small data folder."""
    return write_sample_window(tmp_path_factory.mktemp("window"), HOURS)


@pytest.fixture(scope="module")
def brain_server(window: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("brain")
    running = start_server(tmp, "--state-dir", str(tmp / "state"), "--subscribers", str(window / "subscribers.parquet"),
                           "--models-dir", str(ROOT_MODELS), "--pump-seconds", "0")
    yield running
    stop_server(running)


def _body(frame: pl.DataFrame, arrow: bool) -> tuple[bytes, str]:
    if arrow:
        sink = io.BytesIO()
        frame.write_ipc_stream(sink)
        return sink.getvalue(), "application/vnd.apache.arrow.stream"
    return orjson.dumps(frame.to_dicts()), "application/json"


@pytest.fixture(scope="module")
def ingested(brain_server: Server, window: Path) -> pl.DataFrame:
    """The window sent over HTTP in event-time order, in random-sized batches, alternating JSON and Arrow bodies."""
    calls = pl.read_parquet(window / "calls.parquet")
    transfers = pl.read_parquet(window / "transfers.parquet")
    events = pl.concat([
        calls.select(pl.lit("call").alias("kind"), pl.col("start_time").alias("t"), pl.int_range(pl.len()).alias("i")),
        transfers.select(
            pl.lit("transfer").alias("kind"), pl.col("time").alias("t"), pl.int_range(pl.len()).alias("i")
        ),
    ]).sort("t", "kind")
    rng = np.random.default_rng(7)
    frames = {"call": calls, "transfer": transfers}
    scored = []
    start, sent = 0, 0
    with (
        brain_server.client("feed") as feed,
        brain_server.client("bank") as bank,
        brain_server.client("admin") as admin,
    ):
        clients = {"call": feed, "transfer": bank}
        while start < events.height:
            chunk = events.slice(start, int(rng.integers(1, 500)))
            start += chunk.height
            # Consecutive events of one kind go in one request, so every record arrives in event-time order.
            runs = chunk.with_columns(pl.col("kind").rle_id().alias("run"))
            for run in runs.partition_by("run", maintain_order=True):
                kind = run["kind"][0]
                body, media = _body(frames[kind][run["i"]], arrow=sent % 2 == 1)
                sent += 1
                reply = clients[kind].post(f"/v1/ingest/{kind}", content=body, headers={"Content-Type": media})
                assert reply.status_code == 200, reply.text
                assert reply.json()["rejected"] == 0 and reply.json()["late"] == 0
                scored.extend(reply.json()["scored"])
        tail = admin.post("/v1/admin/flush")
        assert tail.status_code == 200, tail.text
        scored.extend(tail.json()["scored"])
    return pl.DataFrame(scored)


def test_http_ingest_gives_the_replay_scores(ingested: pl.DataFrame, window: Path) -> None:
    from fraud_brain.pipeline.batch import score_history

    replayed = score_history(window)
    expected = pl.concat([
        replayed.scored["transfer"].select(pl.col("transfer_id").alias("id"), "score"),
        replayed.scored["call"].select(pl.col("call_id").alias("id"), "score"),
    ])
    joined = expected.join(ingested.select("id", "score"), on="id", how="full", coalesce=True)
    assert joined.height == expected.height == ingested.height
    np.testing.assert_allclose(joined["score_right"].to_numpy(), joined["score"].to_numpy(), rtol=1e-9, atol=1e-12)


def test_alerts_from_ingest_reach_the_case_queue(ingested: pl.DataFrame, brain_server: Server) -> None:
    with brain_server.client("alice") as alice:
        cases = alice.get("/v1/cases", params={"status": "all", "limit": 1000}).json()["cases"]
    assert cases, "the window's scams raised no case"
    assert all("****" in c["victim"] for c in cases)
    metrics = httpx.get(f"{brain_server.url}/metrics").text
    assert "fraud_brain_events_total{kind=\"call\",result=\"accepted\"}" in metrics
    assert "fraud_brain_models_info{" in metrics and "model_transfer" in metrics


def test_pre_transfer_check_answers_and_changes_nothing(
    ingested: pl.DataFrame, brain_server: Server, window: Path
) -> None:
    transfer = pl.read_parquet(window / "transfers.parquet").row(-1, named=True)
    payload = {**transfer, "transfer_id": "check-1", "time": (transfer["time"] + timedelta(minutes=1)).isoformat(),
               "channel": str(transfer["channel"])}
    with brain_server.client("bank") as bank:
        risk_before = bank.get(f"/v1/entities/account/{transfer['payer_account']}").json()
        first = bank.post("/v1/check/transfer", json=payload)
        second = bank.post("/v1/check/transfer", json=payload)
        risk_after = bank.get(f"/v1/entities/account/{transfer['payer_account']}").json()
        bad = bank.post("/v1/check/transfer", json={**payload, "amount": -5})
        unknown = bank.get("/v1/entities/account/NOBODY-0")
    assert first.status_code == 200, first.text
    assert first.json()["decision"] in ("allow", "review", "hold")
    assert first.json() == second.json()
    assert risk_before == risk_after and risk_before["score"] == pytest.approx(ingested.filter(
        pl.col("id") == transfer["transfer_id"])["score"][0])
    assert bad.status_code == 422 and "amount -5" in bad.json()["detail"] and "must be > 0" in bad.json()["detail"]
    assert unknown.status_code == 404


def test_labels_and_reload(ingested: pl.DataFrame, brain_server: Server, window: Path) -> None:
    transfer_id = pl.read_parquet(window / "transfers.parquet")["transfer_id"][0]
    labels = [{"label_id": "api-l1", "entity_type": "transfer", "entity_id": transfer_id, "is_fraud": True,
               "known_at": "2026-10-06T00:00:00Z", "source": "bank"},
              {"label_id": "api-l2", "entity_type": "number", "entity_id": "13800000001", "is_fraud": "maybe",
               "known_at": "2026-10-06T00:00:00Z", "source": "bank"}]
    with brain_server.client("analyst") as analyst, brain_server.client("admin") as admin:
        refused = analyst.post("/v1/labels", json=labels)
        accepted = analyst.post("/v1/labels", json=labels[:1])
        reloaded = admin.post("/v1/admin/reload")
        audit = admin.get("/v1/audit").json()["entries"]
    assert refused.status_code == 422 and refused.json()["errors"][0]["index"] == 1
    assert refused.json()["errors"][0]["field"] == "is_fraud"
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1
    assert reloaded.status_code == 200 and reloaded.json()["models"]["status"] == "reloaded"
    assert any(e["op"] == "reload" and e["actor"] == "admin:admin" for e in audit)
