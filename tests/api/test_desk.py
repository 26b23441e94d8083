"""The case desk on a real SQLite file: assignment from the timeline, stop-payment limits, audit rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.actions import ManualClock, Orchestrator, decision_frame
from fraud_brain.api.auth import Principal
from fraud_brain.api.desk import CaseDesk, DeskError
from fraud_brain.store import SQLiteRepository

T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)
ALICE, BOB, ADMIN = Principal("alice", "agent"), Principal("bob", "agent"), Principal("root", "admin")


def _desk(path: Path | str, victims: list[str], **fields: object) -> CaseDesk:
    store = SQLiteRepository(path)
    clock = ManualClock(T0)
    frame = decision_frame([{"event_id": f"e{i}", "time": T0, "victim_key": v, "tier": "hour", "score": 0.5, **fields}
                            for i, v in enumerate(victims)])
    Orchestrator(store, clock=clock).ingest(frame)
    return CaseDesk(store, clock=clock)


def test_stop_payment_respects_the_per_account_limit(tmp_path: Path) -> None:
    desk = _desk(tmp_path / "s.sqlite", ["13800000001", "13800000002", "13800000003"])
    store = desk.store
    # Three victims paid the same mule: give each case a transfer alert on it.
    for case_id, victim in ((1, "13800000001"), (2, "13800000002"), (3, "13800000003")):
        Orchestrator(store, clock=desk.clock).ingest(decision_frame([{
            "event_id": f"t{case_id}", "time": T0, "victim_key": victim, "tier": "hour", "score": 0.5, "actions": [],
            "transfer_id": f"T{case_id}", "payee_account": "MULE", "payee_bank": "B", "amount": 1000.0}]))
        desk.claim(case_id, ALICE)
    assert desk.request_stop_payment(1, ALICE)["transfer_id"] == "T1"
    assert desk.request_stop_payment(2, ALICE)["transfer_id"] == "T2"
    with pytest.raises(DeskError, match="limit 2") as caught:
        desk.request_stop_payment(3, ALICE)
    assert caught.value.status == 409
    assert store.count_actions("stop_payment", "MULE") == 2
    with pytest.raises(DeskError, match="no alert on transfer T9"):
        desk.request_stop_payment(1, ALICE, transfer_id="T9")


def test_unknown_cases_and_bad_dispositions(tmp_path: Path) -> None:
    desk = _desk(tmp_path / "u.sqlite", ["13800000001"])
    with pytest.raises(DeskError) as missing:
        desk.case_detail(99, ALICE)
    assert missing.value.status == 404
    desk.claim(1, ALICE)
    with pytest.raises(DeskError) as bad:
        desk.record_outcome(1, ALICE, "solved")
    assert bad.value.status == 422
    assert desk.store.get_case(1).status == "open"


@given(st.lists(
    st.tuples(st.sampled_from(["claim", "release", "force"]), st.sampled_from([ALICE, BOB, ADMIN])), max_size=12,
))
@settings(max_examples=40, deadline=None)
def test_assignee_matches_a_simple_replay_of_claims(steps: list[tuple[str, Principal]]) -> None:
    desk = _desk(":memory:", ["13800000001"])
    expected: str | None = None  # the reference: who holds the case after each accepted step
    for op, who in steps:
        try:
            if op == "claim":
                desk.claim(1, who)
            elif op == "force":
                desk.claim(1, who, force=True)
            else:
                desk.release(1, who)
        except DeskError:
            refused = True
        else:
            refused = False
        if op == "release":
            may = who.role != "agent" or expected == who.name
            assert refused == (not may)
            if may:
                expected = None
        else:
            may = expected in (None, who.name) or (op == "force" and who.role == "admin")
            assert refused == (not may)
            if may:
                expected = who.name
        assert desk.assignee(1) == expected
        assert dict((case.case_id, who) for case, who in desk.cases.page(None))[1] == expected
        assert desk.store.case_assignees([1, 2]) == ({} if expected is None else {1: expected})
    claims = [e for e in desk.audit_log(1000) if e["op"] == "claim_case"]
    assert all(e["actor"].split(":")[0] in ("agent", "admin") for e in claims)


def test_a_case_keyed_by_an_account_shows_its_kind_and_has_no_number_to_dial(tmp_path: Path) -> None:
    desk = _desk(tmp_path / "a.sqlite", ["ACC-77"], victim_kind="account", actions=["stop_payment"],
                 transfer_id="T1", payee_account="MULE", payee_bank="B", amount=5000.0)
    listed = desk.list_cases(ALICE)
    assert [(c["victim_kind"], c["masked"]) for c in listed] == [("account", True)]
    desk.claim(1, ALICE)
    assert desk.case_detail(1, ALICE)["victim_kind"] == "account"
    with pytest.raises(DeskError, match="no phone number") as refused:
        desk.log_call(1, ALICE)
    assert refused.value.status == 409
    phone = _desk(tmp_path / "p.sqlite", ["13800000001"])
    phone.claim(1, ALICE)
    assert phone.log_call(1, ALICE)["dial"] == "13800000001"
    assert phone.list_cases(ALICE)[0]["victim_kind"] == "phone"
