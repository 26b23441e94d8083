"""Issue 10's acceptance test: a card-payment spec trained, evaluated and served end to end.

Through the CLI: ``simulate --world card`` (a small world), ``train --spec card`` and
``evaluate --spec card``; then a real ``fraud-brain serve --spec card`` process on 127.0.0.1,
fed the card payments and the (days later) fraud reports in event-time order over HTTP (JSON and
Arrow IPC), then labels in the card spec's entity types. The scores, the delayed terminal
fraud-report feature (seen through the rule that reads it), the cases and their actions, the
labels and the customer's risk are checked against the data.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
from typer.testing import CliRunner

from fraud_brain.cli import app
from fraud_brain.rules.defaults import CARD_RULES_PATH
from tests.api.conftest import Server, start_server, stop_server

ARROW = "application/vnd.apache.arrow.stream"
REPORT_WINDOW = timedelta(days=7)
REPORT_DELAY = timedelta(days=7)
"""The card spec's terminal report windows end this long before the payment (card.toml delay)."""


def cli(*args: str) -> str:
    """Run a ``fraud-brain`` command in process; its output (the test fails on a non-zero exit)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"fraud-brain {' '.join(args)} -> {result.exit_code}:\n{result.output}"
    return result.output


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small card world, with model ``tx`` trained on it and published."""
    tmp = tmp_path_factory.mktemp("card")
    data, models = tmp / "data", tmp / "models"
    cli("simulate", "--world", "card", "--out", str(data), "--customers", "300", "--terminals", "200",
        "--days", "40", "--seed", "3")
    trained = cli("train", "--data", str(data), "--spec", "card", "--out", str(models), "--rounds", "60")
    assert "tx" in trained and (models / "tx" / "CHAMPION").is_file()
    evaluated = cli("evaluate", "--data", str(data), "--spec", "card")
    assert "tx" in evaluated
    return tmp


@pytest.fixture(scope="module")
def server(world: Path) -> Iterator[Server]:
    """``fraud-brain serve --spec card`` over the world's models and the bundled card rules."""
    running = start_server(world, "--spec", "card", "--state-dir", str(world / "state"),
                           "--models-dir", str(world / "models"), "--rules", str(CARD_RULES_PATH))
    yield running
    stop_server(running)


def runs(tx: pl.DataFrame, reports: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """Both streams merged in event time and cut where the stream changes: batches a feed would send."""
    merged = pl.concat([
        tx.select(pl.lit("tx").alias("stream"), pl.col("time").alias("at"), pl.int_range(pl.len()).alias("row")),
        reports.select(pl.lit("fraud_report").alias("stream"), pl.col("known_at").alias("at"),
                       pl.int_range(pl.len()).alias("row")),
    ]).sort("at", "stream", maintain_order=True)
    merged = merged.with_columns((pl.col("stream") != pl.col("stream").shift()).fill_null(True).cum_sum().alias("run"))
    out = []
    for (_, stream), part in merged.group_by("run", "stream", maintain_order=True):
        source = tx if stream == "tx" else reports
        out.append((str(stream), source[part["row"].to_list()]))
    return out


def post(client: httpx.Client, stream: str, frame: pl.DataFrame, arrow: bool) -> dict:
    if arrow:
        buffer = io.BytesIO()
        frame.write_ipc_stream(buffer)
        reply = client.post(f"/v1/ingest/{stream}", content=buffer.getvalue(), headers={"Content-Type": ARROW})
    else:
        reply = client.post(f"/v1/ingest/{stream}", content=frame.write_json(),
                            headers={"Content-Type": "application/json"})
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.fixture(scope="module")
def fed(world: Path, server: Server) -> dict[str, object]:
    """Every payment and fraud report posted in event time; what the server answered."""
    tx = pl.read_parquet(world / "data" / "card_tx.parquet")
    reports = pl.read_parquet(world / "data" / "fraud_reports.parquet")
    scored: dict[str, float] = {}
    late = duplicates = 0
    with server.client("feed") as client:
        for i, (stream, batch) in enumerate(runs(tx, reports)):
            answer = post(client, stream, batch, arrow=i % 2 == 1)
            assert answer["accepted"] == batch.height and answer["rejected"] == 0
            late += answer["late"]
            duplicates += answer["duplicates"]
            scored.update((row["id"], row["score"]) for row in answer["scored"])
    return {"tx": tx, "reports": reports, "scored": scored, "late": late, "duplicates": duplicates}


def store(world: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{world / 'state' / 'brain.sqlite'}?mode=ro", uri=True)


def test_every_posted_payment_is_scored_once(world: Path, fed: dict) -> None:
    tx: pl.DataFrame = fed["tx"]
    scored: dict[str, float] = fed["scored"]
    assert fed["late"] == 0 and fed["duplicates"] == 0
    # The engine holds back the last minute (allowed lateness); everything before it is scored.
    watermark = tx["time"].max() - timedelta(minutes=1)
    released = set(tx.filter(pl.col("time") < watermark)["tx_id"].to_list())
    assert released <= set(scored) <= set(tx["tx_id"].to_list())
    assert all(0.0 <= s <= 1.0 for s in scored.values())
    # The served model ranks the simulator's frauds above the legitimate payments.
    truth = pl.read_parquet(world / "data" / "truth_tx.parquet").filter(pl.col("tx_id").is_in(list(scored)))
    frauds = [scored[t] for t in truth.filter("is_fraud")["tx_id"]]
    legit = [scored[t] for t in truth.filter(~pl.col("is_fraud"))["tx_id"]]
    assert frauds and sum(frauds) / len(frauds) > 5 * sum(legit) / len(legit)


def alerts(world: Path) -> pl.DataFrame:
    with store(world) as db:
        rows = db.execute("SELECT event_id, rule, victim_key, payee_account, case_id FROM alerts").fetchall()
    return pl.DataFrame(rows, schema=["event_id", "rule", "victim_key", "payee_account", "case_id"], orient="row")


def test_the_delayed_terminal_report_feature_fires_only_after_reports_are_known(world: Path, fed: dict) -> None:
    """The rule reading terminal_fraud_reports_delayed_7d hits only payments whose terminal had two or
    more reports known (not merely frauds committed: reports arrive days later) in the 7 days that
    ended 7 days before the payment: the delayed window sees nothing newer."""
    tx: pl.DataFrame = fed["tx"]
    reports: pl.DataFrame = fed["reports"]
    hit = alerts(world).filter(pl.col("rule") == "card_reported_terminal")
    assert hit.height > 0
    payments = tx.filter(pl.col("tx_id").is_in(hit["event_id"].to_list()))
    for row in payments.iter_rows(named=True):
        window_end = row["time"] - REPORT_DELAY
        known = reports.filter((pl.col("terminal_id") == row["terminal_id"]) & (pl.col("known_at") <= window_end)
                               & (pl.col("known_at") > window_end - REPORT_WINDOW))
        assert known.height >= 2, row
    assert set(hit["payee_account"].to_list()) <= set(tx["terminal_id"].to_list())


def test_high_scores_open_cases_with_stop_payments_and_agent_follow_ups(world: Path, fed: dict, server: Server) -> None:
    scored: dict[str, float] = fed["scored"]
    found = alerts(world)
    very_high = {t for t, s in scored.items() if s >= 0.9}
    high = {t for t, s in scored.items() if 0.6 <= s < 0.9}
    stopped = set(found.filter(pl.col("rule") == "card_very_high_score_stop")["event_id"].to_list())
    followed = set(found.filter(pl.col("rule") == "card_high_score_followup")["event_id"].to_list())
    # Each rule hits only its score band (a cooldown may hold later hits back). A small world's
    # calibrated scores rarely reach 0.9 (its top bin holds few frauds), so the stop rule may not
    # fire on score; the terminal-report rule below stops payments either way.
    assert stopped <= very_high
    assert followed and followed <= high, f"max score {max(scored.values()):.3f}"
    customers = dict(zip(*fed["tx"].select("tx_id", "customer_id").get_columns(), strict=True))
    assert all(customers[e] == v for e, v in found.select("event_id", "victim_key").iter_rows())
    with store(world) as db:
        kinds = {k for (k,) in db.execute("SELECT kind FROM actions").fetchall()}
        skipped = db.execute("SELECT detail FROM case_events WHERE kind = 'contact_skipped'").fetchall()
        stop = db.execute("SELECT payload FROM actions WHERE kind = 'stop_payment' LIMIT 1").fetchone()
    assert "stop_payment" in kinds
    assert json.loads(stop[0])["transfer_id"] in scored
    # The card holder is an account (no phone): the agent follow-up is asked for, the call skipped.
    assert any("agent_followup" in json.loads(d)["kinds"] for (d,) in skipped)
    assert "voice_bot" not in kinds
    with server.client("alice") as agent:
        queue = agent.get("/v1/cases")
        assert queue.status_code == 200, queue.text
        listed = queue.json()
        cases = listed["cases"] if isinstance(listed, dict) else listed
        assert cases
        detail = agent.get(f"/v1/cases/{cases[0]['case_id']}")
        assert detail.status_code == 200, detail.text


def test_labels_in_the_card_entity_types_are_accepted_and_telecom_ones_refused(world: Path, fed: dict,
                                                                                server: Server) -> None:
    labels = pl.read_parquet(world / "data" / "labels.parquet")
    assert set(labels["entity_type"].unique().to_list()) <= {"tx", "customer", "terminal"}
    with server.client("bank") as bank:
        reply = bank.post("/v1/labels", content=labels.write_json(), headers={"Content-Type": "application/json"})
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"accepted": labels.height, "rejected": 0}
        telecom = labels.head(1).with_columns(pl.lit("transfer").alias("entity_type"), pl.lit("x-1").alias("label_id"))
        refused = bank.post("/v1/labels", content=telecom.write_json(), headers={"Content-Type": "application/json"})
        assert refused.status_code == 422
        assert "entity_type" in refused.text and "tx" in refused.text


def test_the_customer_risk_and_the_server_s_streams(fed: dict, server: Server) -> None:
    tx: pl.DataFrame = fed["tx"]
    scored: dict[str, float] = fed["scored"]
    last = tx.filter(pl.col("tx_id").is_in(list(scored))).sort("time").row(-1, named=True)
    with server.client("bank") as bank:
        risk = bank.get(f"/v1/entities/customer/{last['customer_id']}")
        assert risk.status_code == 200, risk.text
        assert risk.json()["entity_type"] == "customer"
        assert 0.0 <= risk.json()["score"] <= 1.0
        assert bank.get("/v1/entities/number/13800000001").status_code == 422
    with server.client("feed") as feed:
        unknown = feed.post("/v1/ingest/call", content=b"[]", headers={"Content-Type": "application/json"})
        assert unknown.status_code == 404
        assert "fraud_report" in unknown.json()["detail"] and "tx" in unknown.json()["detail"]
    with server.client("bank") as bank:
        bad = tx.head(1).with_columns(pl.lit(-5.0).alias("amount"))
        checked = bank.post("/v1/validate/tx", content=bad.write_json(), headers={"Content-Type": "application/json"})
        assert checked.status_code == 200 and checked.json()["invalid"] == 1
