"""The ``fraud-brain actions`` commands on real files and a real webhook receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from fraud_brain.actions import Orchestrator, decision_frame
from fraud_brain.cli import app
from fraud_brain.schema import LABELS
from fraud_brain.store import SQLiteRepository

from .conftest import SECRET, Receiver

runner = CliRunner()
T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _decisions() -> pl.DataFrame:
    return decision_frame(
        [
            {
                "event_id": f"e{i}",
                "time": T0 + timedelta(minutes=i),
                "victim_key": f"1380000{i % 5:04d}",
                "tier": "minute" if i % 3 == 0 else "hour",
                "score": 0.95 if i % 3 == 0 else 0.6,
                "typology": "fake_loan",
                "payee_account": f"M{i % 4}",
                "payee_bank": "B",
                "amount": 500.0 + i,
                "transfer_id": f"T{i}",
                "rule": "new_payee",
                "actions": ["voice_bot", "stop_payment"],
            }
            for i in range(20)
        ]
    )


def test_replay_report_case_and_labels(tmp_path: Path) -> None:
    _decisions().write_parquet(tmp_path / "decisions.parquet")
    db = tmp_path / "a.db"
    result = runner.invoke(
        app, ["actions", "replay", str(tmp_path / "decisions.parquet"), "--db", str(db), "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "money protected" in result.output and "fake_loan" in result.output
    assert set(SQLiteRepository(db).action_status_counts()) <= {"done", "cancelled"}
    result = runner.invoke(app, ["actions", "report", "--db", str(db)])
    assert result.exit_code == 0 and "Actions by kind and outcome" in result.output
    result = runner.invoke(app, ["actions", "case", "1", "--db", str(db)])
    assert result.exit_code == 0 and "opened" in result.output and "voice_bot" in result.output
    assert runner.invoke(app, ["actions", "case", "999", "--db", str(db)]).exit_code == 2
    result = runner.invoke(app, ["actions", "labels", str(tmp_path / "labels.parquet"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    labels = pl.read_parquet(tmp_path / "labels.parquet")
    assert labels.height > 0 and labels.columns == LABELS.column_names()


def test_replay_rejects_a_file_missing_columns(tmp_path: Path) -> None:
    _decisions().drop("tier").write_ndjson(tmp_path / "d.jsonl")
    result = runner.invoke(
        app, ["actions", "replay", str(tmp_path / "d.jsonl"), "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 2 and "missing column(s) ['tier']" in result.output


def test_check_policy_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[voice_bot]\nmax_redials = 3\nredial_every = 5\n")
    result = runner.invoke(app, ["actions", "check-policy", str(bad)])
    assert result.exit_code == 1 and "bad.toml:3" in result.output and "redial_every" in result.output
    good = tmp_path / "good.toml"
    good.write_text("[voice_bot]\nmax_redials = 2\n")
    result = runner.invoke(app, ["actions", "check-policy", str(good)])
    assert result.exit_code == 0 and "up to 2 times" in result.output


def test_dispatch_over_a_webhook(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "w.db"
    store = SQLiteRepository(db)
    Orchestrator(store).ingest(_decisions().with_columns(pl.lit(datetime.now(UTC)).alias("time")))
    pending = store.action_status_counts()["pending"]
    store.close()
    empty_secret = runner.invoke(
        app, ["actions", "dispatch", "--db", str(db), "--webhook", receiver.url],
        env={"FRAUD_BRAIN_WEBHOOK_SECRET": ""},
    )
    assert empty_secret.exit_code == 2 and "FRAUD_BRAIN_WEBHOOK_SECRET is empty" in empty_secret.output
    result = runner.invoke(
        app,
        ["actions", "dispatch", "--db", str(db), "--webhook", receiver.url],
        env={"FRAUD_BRAIN_WEBHOOK_SECRET": SECRET.decode()},
    )
    assert result.exit_code == 0, result.output
    assert f"done {pending}" in result.output
    assert sum(receiver.effects.values()) == pending and set(receiver.effects.values()) == {1}


def test_replay_addresses_officer_alerts_to_districts(tmp_path: Path) -> None:
    from fraud_brain.io import write_frame
    from fraud_brain.schema import SUBSCRIBERS

    _decisions().write_parquet(tmp_path / "decisions.parquet")
    subscribers = (
        pl.DataFrame({"phone": ["13800000000"], "district": ["Yuexiu"]})
        .with_columns(
            [
                pl.lit(None, dtype=dtype).alias(name)
                for name, dtype in SUBSCRIBERS.polars_schema().items()
                if name not in ("phone", "district")
            ]
        )
        .select(SUBSCRIBERS.column_names())
    )
    write_frame(subscribers, tmp_path / "subscribers.parquet")
    db = tmp_path / "d.db"
    result = runner.invoke(
        app,
        [
            "actions",
            "replay",
            str(tmp_path / "decisions.parquet"),
            "--db",
            str(db),
            "--subscribers",
            str(tmp_path / "subscribers.parquet"),
        ],
    )
    assert result.exit_code == 0, result.output
    alerts = SQLiteRepository(db).table("actions").filter(pl.col("kind") == "officer_alert")
    districts = {json.loads(p)["victim"]: json.loads(p)["district"] for p in alerts["payload"]}
    assert districts["13800000000"] == "Yuexiu" and districts.get("13800000003") is None
