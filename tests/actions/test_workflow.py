"""A whole replay on the simulators: every decision handled, every action finished, report figures consistent."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from fraud_brain.actions import decision_frame, replay
from fraud_brain.store import SQLiteRepository

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
TYPOLOGIES = [
    "order_brushing",
    "fake_investment",
    "fake_loan",
    "fake_customer_service",
    "impersonating_police",
    None,
]


def _decisions(n: int, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        transfer = rng.random() < 0.4
        records.append(
            {
                "event_id": f"e{i}",
                "time": T0 + timedelta(minutes=rng.uniform(0, 300)),
                "rule": rng.choice(["long_call", "mule_fan_in"]),
                "tier": rng.choice(["minute", "hour", "same_day"]),
                "victim_key": f"1380000{rng.randrange(40):04d}",
                "entity_key": f"1700000{rng.randrange(20):04d}",
                "typology": rng.choice(TYPOLOGIES),
                "score": rng.random(),
                "actions": ["voice_bot"] + (["stop_payment"] if transfer else []),
                "mode": "shadow" if rng.random() < 0.1 else "active",
                **(
                    {
                        "payee_account": f"M{rng.randrange(10)}",
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


def test_replay_finishes_every_action_and_reports(tmp_path: Path) -> None:
    from fraud_brain.actions import summarize

    decisions = _decisions(120, seed=5)
    store = SQLiteRepository(tmp_path / "replay.db", synchronous="NORMAL")
    result = replay(decisions, store, seed=5)
    assert result.ingested.alerts == 120 and not result.ingested.rejected
    counts = store.action_status_counts()
    assert set(counts) <= {"done", "cancelled"} and counts["done"] > 0
    assert store.open_agent_tasks() == []
    cases = store.table("cases")
    assert cases.filter(pl.col("status") == "open").height == 0
    summary = summarize(store)
    assert summary.cases == cases.height
    assert summary.alerts == 120
    assert summary.by_typology["cases"].sum() == summary.by_rule["cases"].sum() == summary.cases
    stops = store.table("outcomes").filter(pl.col("source") == "stop_payment")
    assert summary.money_protected == stops["amount_held"].sum() > 0
    assert 0 < summary.contacted <= summary.cases and summary.contact_minutes_median >= 0
    assert summary.labels == store.labels_since(T0).height > 0
    # Every case's first decision is no later than its first contact.
    with_contact = cases.filter(pl.col("first_contact_at").is_not_null())
    assert (with_contact["first_contact_at"] >= with_contact["opened_at"]).all()
    # The timeline of each case starts with its opening.
    for case_id in cases["case_id"].to_list()[:10]:
        assert store.case_timeline(case_id)[0][1] == "opened"


def test_replay_is_reproducible(tmp_path: Path) -> None:
    decisions = _decisions(40, seed=9)
    tables = []
    for run in range(2):
        store = SQLiteRepository(tmp_path / f"r{run}.db", synchronous="NORMAL")
        replay(decisions, store, seed=1)
        tables.append(
            store.table("actions").drop(
                "lease_token", "updated_at", "created_at", "next_attempt_at", "done_at", "leased_until"
            )
        )
    assert tables[0].equals(tables[1])
