"""The rules layer's real output (RuleSet hits → Decider) goes into the orchestrator unchanged."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl

from fraud_brain.actions import Dispatcher, ManualClock, Orchestrator, simulated_adapters
from fraud_brain.rules import Decider, RuleSet
from fraud_brain.store import SQLiteRepository

T0 = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
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
