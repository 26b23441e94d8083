"""The case service on a real SQLite file: one stop-payment rule for the rules and the agents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fraud_brain.actions import ManualClock, Orchestrator, decision_frame
from fraud_brain.actions.cases import (
    Agent,
    CaseConflictError,
    CaseService,
    NotAssignedError,
    UnknownCaseError,
)
from fraud_brain.errors import InputError
from fraud_brain.store import SQLiteRepository

T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)
ALICE = Agent("alice")


def _transfer(event_id: str, victim: str, transfer_id: str, actions: list[str]) -> dict[str, object]:
    return {"event_id": event_id, "time": T0, "victim_key": victim, "tier": "hour", "score": 0.6, "actions": actions,
            "transfer_id": transfer_id, "payee_account": "MULE", "payee_bank": "B", "amount": 900.0}


def test_an_agent_and_the_rules_share_one_stop_payment_per_transfer(tmp_path: Path) -> None:
    store = SQLiteRepository(tmp_path / "c.sqlite")
    orchestrator = Orchestrator(store, clock=ManualClock(T0))
    cases = CaseService(store, orchestrator)
    orchestrator.ingest(decision_frame([_transfer("t1", "13800000001", "T1", ["stop_payment"])]))
    cases.claim(1, ALICE)
    with pytest.raises(CaseConflictError, match="transfer T1 was already requested"):
        cases.request_stop_payment(1, ALICE)
    (automatic,) = store.case_actions(1, "stop_payment")
    orchestrator.ingest(decision_frame([_transfer("t2", "13800000002", "T2", [])]))
    cases.claim(2, ALICE)
    manual = cases.request_stop_payment(2, ALICE)
    by_agent = store.get_action(manual.action_id)
    # One payload shape: the agent's request says who asked, and nothing else differs in kind.
    assert set(by_agent.payload) - set(automatic.payload) == {"requested_by"}
    assert by_agent.idempotency_key == "stop_payment:T2:MULE"
    # The per-account limit (2 by default) holds across both paths.
    orchestrator.ingest(decision_frame([_transfer("t3", "13800000003", "T3", ["stop_payment"])]))
    assert store.count_actions("stop_payment", "MULE") == 2
    assert any(kind == "stop_payment_skipped" for _, kind, _ in store.case_timeline(3))


def test_the_service_refuses_with_errors_of_the_hierarchy(tmp_path: Path) -> None:
    store = SQLiteRepository(tmp_path / "e.sqlite")
    cases = CaseService(store, clock=ManualClock(T0))
    cases.orchestrator.ingest(decision_frame([{"event_id": "c1", "time": T0, "victim_key": "13800000001"}]))
    with pytest.raises(UnknownCaseError):
        cases.get(7)
    with pytest.raises(NotAssignedError):
        cases.log_call(1, ALICE)
    with pytest.raises(InputError):
        cases.page("pending")
    cases.claim(1, ALICE)
    with pytest.raises(InputError):
        cases.record_outcome(1, ALICE, "solved")
    assert cases.record_outcome(1, ALICE, "false_alarm").cases_closed == 1
    with pytest.raises(CaseConflictError):
        cases.claim(1, Agent("bob"))
    assert [e.op for e in cases.audit_log(10)][:2] == ["record_outcome", "claim_case"]
