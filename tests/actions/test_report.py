"""Report helpers over a hand-built store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraud_brain.actions import ManualClock, Orchestrator, decision_frame
from fraud_brain.actions.report import (
    actions_by_kind_outcome,
    cases_by,
    money_protected,
    render,
    summarize,
    time_to_first_contact,
)
from fraud_brain.store import Outcome, SQLiteRepository

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _store() -> SQLiteRepository:
    store = SQLiteRepository(":memory:")
    orch = Orchestrator(store, clock=ManualClock(T0))
    orch.ingest(
        decision_frame(
            [
                {
                    "event_id": "a",
                    "time": T0,
                    "victim_key": "13800000001",
                    "typology": "fake_loan",
                    "rule": "r1",
                },
                {
                    "event_id": "b",
                    "time": T0,
                    "victim_key": "13800000002",
                    "typology": "fake_loan",
                    "rule": "r2",
                },
                {
                    "event_id": "c",
                    "time": T0,
                    "victim_key": "13800000003",
                    "typology": None,
                    "rule": "r2",
                    "actions": ["stop_payment"],
                    "payee_account": "M",
                    "payee_bank": "B",
                    "amount": 900.0,
                    "transfer_id": "T",
                },
            ]
        )
    )
    store.update_case(1, first_contact_at=T0 + timedelta(minutes=3))
    store.update_case(2, first_contact_at=T0 + timedelta(minutes=9))
    store.add_outcome(Outcome("sp", 3, "stop_payment", "partially_held", T0, 3, {}, amount_held=450.5))
    store.add_outcome(Outcome("bot", 1, "voice_bot", "convinced", T0, 1))
    return store


def test_counts_by_typology_and_rule() -> None:
    store = _store()
    assert cases_by(store, "typology").rows() == [("fake_loan", 2), (None, 1)]
    assert cases_by(store, "rule").rows() == [("r2", 2), ("r1", 1)]
    with pytest.raises(ValueError, match="cannot group cases by 'victim_key'"):
        cases_by(store, "victim_key")


def test_actions_money_and_contact_times() -> None:
    store = _store()
    assert sorted(actions_by_kind_outcome(store).rows()) == [
        ("stop_payment", "pending", None, 1),
        ("voice_bot", "pending", None, 2),
    ]
    assert money_protected(store) == 450.5
    assert sorted(time_to_first_contact(store)["minutes"].to_list()) == [3.0, 9.0]
    summary = summarize(store)
    assert (summary.contacted, summary.contact_minutes_median, summary.contact_minutes_p90) == (2, 6.0, 9.0)
    assert len(render(summary)) == 5
