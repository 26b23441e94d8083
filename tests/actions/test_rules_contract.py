"""The rules layer's real output (RuleSet hits → Decider) goes into the orchestrator unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl

from fraud_brain.actions import Dispatcher, ManualClock, Orchestrator, simulated_adapters
from fraud_brain.actions.adapters.webhook import WebhookAdapter
from fraud_brain.actions.orchestrator import NO_PHONE_WHY
from fraud_brain.rules import DEFAULT_RULES_PATH, Decider, RuleSet, expected_scored_schemas
from fraud_brain.store import SQLiteRepository

from .conftest import SECRET

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
RULES = """
[[rule]]
name = "mule_transfer"
event = "transfer"
when = "score >= 0.9"
actions = ["stop_payment", "voice_bot"]
priority = 100
tier = "minute"
victim = "payer_phone"
cooldown = "10m"
cooldown_key = "payee_account"

[[rule]]
name = "high_risk_caller"
event = "call"
when = "score >= 0.8"
actions = ["block_number_review", "voice_bot"]
tier = "hour"
victim = "callee"
cooldown = "30m"
cooldown_key = "caller"
"""


def test_rule_decisions_make_cases_and_actions() -> None:
    calls = pl.DataFrame(
        {
            "call_id": ["c1", "c2", "c3"],
            "start_time": [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)],
            "caller": ["17000000009"] * 3,
            "callee": ["13800000001", "13800000002", "13800000003"],
            "score": [0.85, 0.95, 0.1],
        }
    )
    transfers = pl.DataFrame(
        {
            "transfer_id": ["t1", "t2"],
            "time": [T0 + timedelta(minutes=20), T0 + timedelta(minutes=21)],
            "payer_phone": ["13800000001", "13800000001"],
            "payee_account": ["MULE1", "MULE1"],
            "payee_bank": ["B", "B"],
            "amount": [5000.0, 8000.0],
            "score": [0.95, 0.97],
        }
    )
    store = SQLiteRepository(":memory:")
    clock = ManualClock(T0 + timedelta(minutes=30))
    orchestrator = Orchestrator(store, clock=clock)
    decider = Decider()
    rules = RuleSet.from_text(RULES, {"call": calls.schema, "transfer": transfers.schema})
    for batch in (calls, transfers):
        hits = rules.evaluate(batch)
        report = orchestrator.ingest(decider.active(hits))
        assert not report.rejected and not report.unknown_actions
    Dispatcher(store, simulated_adapters(1), clock).run_until_idle()

    cases = store.table("cases")
    # The caller's second call is inside the rule's per-caller cooldown; callee 1's call and the
    # transfer to a mule after it are one episode: one case, not two.
    assert cases["victim_key"].to_list() == ["13800000001"]
    assert store.table("alerts")["event_id"].to_list() == ["c1", "t1"]
    actions = store.table("actions")
    kinds = actions.group_by("kind").len().sort("kind").rows()
    # The minute-tier mule transfer fans out; its bot call is the one the call already started.
    assert kinds == [
        ("agent_followup", 1),
        ("block_number_review", 1),
        ("officer_alert", 1),
        ("stop_payment", 1),
        ("voice_bot", 1),
    ]
    assert set(actions["status"].to_list()) == {"done"}
    (stop,) = [json.loads(p) for p in actions.filter(pl.col("kind") == "stop_payment")["payload"]]
    assert (stop["transfer_id"], stop["amount"], stop["payee_account"]) == ("t1", 5000.0, "MULE1")


def test_the_deciders_full_output_is_taken_as_the_rules_meant_it() -> None:
    transfers = pl.DataFrame(
        {
            "transfer_id": ["t1", "t2"],
            "time": [T0, T0 + timedelta(minutes=1)],
            "payer_phone": ["13800000001", "13800000002"],
            "payee_account": ["MULE1", "MULE1"],
            "payee_bank": ["B", "B"],
            "amount": [5000.0, 8000.0],
            "score": [0.95, 0.97],
        }
    )
    calls = pl.DataFrame(
        {"call_id": ["c"], "start_time": [T0], "caller": ["1"], "callee": ["2"], "score": [0.0]}
    )
    rules = RuleSet.from_text(
        RULES.replace('tier = "minute"', 'tier = "hour"'),
        {"call": calls.schema, "transfer": transfers.schema},
    )
    decided = Decider().decide(rules.evaluate(transfers))
    assert decided["status"].to_list() == ["fired", "cooldown"]
    store = SQLiteRepository(":memory:")
    report = Orchestrator(store, clock=ManualClock(T0)).ingest(decided)
    assert (report.alerts, report.held_back_upstream) == (1, 1)
    assert store.table("alerts")["transfer_id"].to_list() == ["t1"]


# -- a transfer whose bank sends no payer phone ------------------------------------------------

def _scored_transfers(rows: list[dict]) -> pl.DataFrame:
    """Scored transfers in the bundled rules' schema: every feature null except the ones given."""
    schema = expected_scored_schemas()["transfer"]
    return pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema)


def _mule_transfer(transfer_id: str, payer_phone: str | None, minutes: int = 0) -> dict:
    return {
        "transfer_id": transfer_id, "time": T0 + timedelta(minutes=minutes), "payer_account": "6222000011",
        "payer_phone": payer_phone, "payee_account": "MULE7", "payee_bank": "B9", "amount": 42_000.0,
        "channel": "mobile_app", "score": 0.96, "payee_confirmed_mule": 1.0,
    }


def test_a_stop_payment_is_not_lost_when_the_bank_sends_no_payer_phone(receiver) -> None:
    rules = RuleSet.load(DEFAULT_RULES_PATH, expected_scored_schemas())
    transfers = _scored_transfers([_mule_transfer("t-nophone", None)])
    decisions = Decider().active(rules.evaluate(transfers))
    # The very high score also hits high_score_transfer (a bot call and an agent): same victim, same case.
    assert decisions.select("rule", "victim_key", "victim_kind").rows() == [
        ("mule_transfer_stop_payment", "6222000011", "account"), ("high_score_transfer", "6222000011", "account")
    ]
    store = SQLiteRepository(":memory:")
    clock = ManualClock(T0 + timedelta(minutes=1))
    orchestrator = Orchestrator(store, clock=clock)
    report = orchestrator.ingest(decisions)
    assert not report.rejected and report.no_victim == 0
    assert report.actions["stop_payment"] == 1 and report.actions["officer_alert"] == 1
    assert report.contact_skipped == 4  # each rule's bot call and agent follow-up
    assert (report.cases_opened, report.cases_joined) == (1, 1)

    (case,) = store.table("cases").iter_rows(named=True)
    assert (case["victim_key"], case["victim_kind"], case["status"]) == ("6222000011", "account", "open")
    kinds = sorted(store.table("actions")["kind"].to_list())
    assert kinds == ["officer_alert", "stop_payment"]  # no voice-bot call, no agent call
    skipped = [d for _, kind, d in store.case_timeline(case["case_id"]) if kind == "contact_skipped"]
    assert [d["why"] for d in skipped] == [NO_PHONE_WHY] * 2
    assert [d["kinds"] for d in skipped] == [["voice_bot", "agent_followup"]] * 2

    bank = WebhookAdapter(receiver.url, SECRET, sleep=lambda s: None)
    adapters = {**simulated_adapters(3), "stop_payment": bank}
    try:
        Dispatcher(store, adapters, clock).run_until_idle()
        # A replayed batch (a restart after a crash) and a second dispatcher pass change nothing.
        assert orchestrator.ingest(decisions).duplicates == 2
        Dispatcher(store, adapters, clock).run_until_idle()
    finally:
        bank.close()
    (stop,) = store.case_actions(case["case_id"], "stop_payment")
    assert stop.status == "done" and stop.outcome == "held"
    assert receiver.effects[stop.idempotency_key] == 1 and receiver.deliveries[stop.idempotency_key] == 1
    sent = json.loads(receiver.bodies[stop.idempotency_key])["payload"]
    assert (sent["transfer_id"], sent["amount"], sent["victim"], sent["victim_kind"]) == (
        "t-nophone", 42_000.0, "6222000011", "account")
    (officer,) = store.case_actions(case["case_id"], "officer_alert")
    assert officer.status == "done" and "account 6222000011" in officer.payload["message"]
    assert {a.status for a in store.case_actions(case["case_id"])} == {"done"}


def test_the_payer_phone_stays_the_victim_when_the_bank_sends_it() -> None:
    rules = RuleSet.load(DEFAULT_RULES_PATH, expected_scored_schemas())
    transfers = _scored_transfers([_mule_transfer("t-phone", "13800000001"), _mule_transfer("t-empty", "", 1)])
    hits = rules.evaluate(transfers)
    assert hits.select("event_id", "victim_key", "victim_kind").unique(maintain_order=True).rows() == [
        ("t-phone", "13800000001", "phone"), ("t-empty", "6222000011", "account")]
    store = SQLiteRepository(":memory:")
    report = Orchestrator(store, clock=ManualClock(T0 + timedelta(minutes=2))).ingest(hits)
    assert report.contact_skipped == 4 and not report.rejected
    cases = store.table("cases").sort("case_id")
    assert cases.select("victim_key", "victim_kind").rows() == [("13800000001", "phone"), ("6222000011", "account")]
    phone_case, account_case = cases["case_id"].to_list()
    assert {a.kind for a in store.case_actions(phone_case)} >= {"voice_bot", "stop_payment"}
    assert "voice_bot" not in {a.kind for a in store.case_actions(account_case)}
