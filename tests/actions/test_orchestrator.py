"""Escalation timelines on a manual clock, dedupe and cooldown, fan-out, stop-payment limits, labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.actions import (
    DecisionError,
    Dispatcher,
    EscalationPolicy,
    ManualClock,
    Orchestrator,
    SimulatedVoiceBot,
    decision_frame,
    simulated_adapters,
)
from fraud_brain.actions.orchestrator import NO_PHONE_WHY
from fraud_brain.store import SQLiteRepository

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
VICTIM = "13800000001"
ALWAYS = {
    "no_answer": (0.0, 0.0, 1.0, 0.0),
    "busy": (0.0, 0.0, 0.0, 1.0),
    "not_convinced": (0.0, 1.0, 0.0, 0.0),
    "convinced": (1.0, 0.0, 0.0, 0.0),
}


class World:
    """A store, a manual clock, the orchestrator and a dispatcher over simulated adapters."""

    def __init__(self, bot: str = "no_answer", policy: EscalationPolicy | None = None):
        self.clock = ManualClock(T0)
        self.store = SQLiteRepository(":memory:")
        self.orch = Orchestrator(self.store, policy, self.clock)
        adapters = simulated_adapters(seed=1)
        adapters["voice_bot"] = SimulatedVoiceBot(odds={"default": ALWAYS[bot], "relatives": ALWAYS[bot]})
        self.bot = adapters["voice_bot"]
        self.dispatcher = Dispatcher(self.store, adapters, self.clock, self.orch.policy.outbox, seed=1)

    def decide(self, **fields: Any) -> None:
        record = {
            "event_id": f"e{self.clock.now().timestamp()}-{fields.get('transfer_id')}",
            "time": self.clock.now(),
            "victim_key": VICTIM,
            **fields,
        }
        report = self.orch.ingest(decision_frame([record]))
        assert not report.rejected, report.rejected

    def run(self) -> None:
        """Do everything due at the current time: react, deliver, react to the answers."""
        for _ in range(10):
            self.orch.tick()
            if not self.dispatcher.run_once().claimed:
                break
        self.orch.tick()

    def advance_to(self, minutes: float) -> None:
        self.clock.set(T0 + timedelta(minutes=minutes))
        self.run()

    def actions(self, kind: str | None = None) -> list:
        return [a for c in self.cases() for a in self.store.case_actions(c, kind)]

    def cases(self) -> list[int]:
        return self.store.table("cases")["case_id"].to_list()

    def timeline(self, case_id: int) -> list[str]:
        return [kind for _, kind, _ in self.store.case_timeline(case_id)]


@pytest.mark.parametrize("failure", ["no_answer", "busy", "not_convinced"])
def test_bot_failures_redial_every_5_minutes_then_hand_over_to_an_agent(failure: str) -> None:
    world = World(bot=failure)
    world.decide(tier="hour", actions=["voice_bot"], typology="impersonating_police")
    world.run()
    for minute in range(1, 20):
        world.advance_to(minute)
    calls = world.actions("voice_bot")
    assert [c.done_at for c in calls] == [T0 + timedelta(minutes=m) for m in (0, 5, 10, 15)]
    assert [c.payload["attempt"] for c in calls] == [1, 2, 3, 4]
    # Two busy lines in a row: the next re-dials go to the relatives.
    relatives = ["victim", "victim", "relatives", "relatives"] if failure == "busy" else ["victim"] * 4
    assert [c.payload["target"] for c in calls] == relatives
    assert {c.payload["script"] for c in calls} == {"impersonating_police_safe_account"}
    agents = world.actions("agent_followup")
    assert len(agents) == 1 and agents[0].created_at == T0 + timedelta(minutes=15)
    task = world.store.open_agent_task(world.cases()[0])
    assert task.due_at == T0 + timedelta(minutes=15 + 60)
    case = world.store.get_case(world.cases()[0])
    assert case.contact_state == "agent" and case.status == "open"
    assert (case.first_contact_at is not None) == (failure == "not_convinced")


def test_max_redials_from_policy_is_respected() -> None:
    world = World(policy=EscalationPolicy(max_redials=1, redial_interval=timedelta(minutes=2)))
    world.decide(actions=["voice_bot"])
    world.run()
    for minute in range(1, 10):
        world.advance_to(minute)
    assert [c.done_at for c in world.actions("voice_bot")] == [T0, T0 + timedelta(minutes=2)]
    assert len(world.actions("agent_followup")) == 1


def test_agent_sla_breach_alerts_the_officer_once() -> None:
    world = World()
    world.decide(tier="minute", score=0.5, actions=["agent_followup"])
    world.run()
    (task,) = world.store.open_agent_tasks()
    assert task.due_at == T0 + timedelta(minutes=10)
    world.advance_to(9.99)
    assert world.actions("officer_alert") == []
    world.advance_to(10)
    (alert,) = world.actions("officer_alert")
    assert (
        alert.status == "done"
        and alert.outcome == "delivered"
        and alert.payload["reason"] == "agent SLA breached"
    )
    world.advance_to(60)
    assert len(world.actions("officer_alert")) == 1
    assert "agent_sla_breached" in world.timeline(world.cases()[0])
    audit = world.store.table("audit_log")
    assert audit.filter(pl.col("op") == "agent_sla_breached").height == 1


def test_highest_tier_fans_out_all_actions_at_once() -> None:
    world = World(bot="no_answer")
    world.decide(
        tier="minute",
        score=0.97,
        actions=["voice_bot"],
        payee_account="MULE1",
        payee_bank="B1",
        amount=20_000.0,
        transfer_id="T1",
        typology="fake_customer_service",
    )
    world.run()
    first = [a for a in world.actions() if a.attempts]
    assert sorted(a.kind for a in first) == ["agent_followup", "officer_alert", "stop_payment", "voice_bot"]
    assert all(a.created_at == T0 and a.done_at == T0 for a in first)
    (redial,) = [a for a in world.actions() if not a.attempts]
    assert (redial.kind, redial.next_attempt_at) == ("voice_bot", T0 + timedelta(minutes=5))
    (stop,) = world.actions("stop_payment")
    assert stop.payload["amount"] == 20_000.0 and stop.payload["hold_hours"] == 48
    assert "fan_out" in world.timeline(world.cases()[0])


def test_high_score_in_slow_tier_does_not_fan_out_and_no_transfer_means_no_stop_payment() -> None:
    world = World()
    world.decide(tier="hour", score=0.99, actions=["voice_bot"])
    assert [a.kind for a in world.actions()] == ["voice_bot"]
    world.decide(tier="minute", score=0.95, actions=["voice_bot"], event_id="second")
    assert sorted(a.kind for a in world.actions()) == ["agent_followup", "officer_alert", "voice_bot"]
    assert "stop_payment_skipped" in world.timeline(world.cases()[0])


def test_stop_payment_at_most_twice_per_payee_account_across_victims() -> None:
    world = World()
    for i in range(4):
        world.decide(
            event_id=f"t{i}",
            victim_key=f"1380000000{i}",
            actions=["stop_payment"],
            payee_account="MULE1",
            payee_bank="B1",
            amount=1000.0 + i,
            transfer_id=f"T{i}",
        )
    world.decide(
        event_id="again",
        victim_key="13800000000",
        actions=["stop_payment"],
        payee_account="MULE1",
        payee_bank="B1",
        amount=1000.0,
        transfer_id="T0",
    )
    world.decide(
        event_id="other",
        victim_key="13800000003",
        actions=["stop_payment"],
        payee_account="MULE2",
        payee_bank="B2",
        amount=50.0,
        transfer_id="T9",
    )
    world.run()
    stops = world.actions("stop_payment")
    assert sorted((a.subject, a.payload["transfer_id"]) for a in stops) == [
        ("MULE1", "T0"),
        ("MULE1", "T1"),
        ("MULE2", "T9"),
    ]
    assert world.store.table("audit_log").filter(pl.col("op") == "stop_payment_limit").height == 2
    held = world.store.table("outcomes").filter(pl.col("source") == "stop_payment")["amount_held"].sum()
    assert 0 < held <= 1000.0 + 1001.0 + 50.0


def test_a_burst_of_decisions_for_one_victim_makes_one_case_and_one_call() -> None:
    world = World(bot="convinced")
    for i in range(10):
        world.clock.set(T0 + timedelta(seconds=10 * i))
        world.decide(event_id=f"burst{i}", rule=f"rule{i % 3}", actions=["voice_bot", "agent_followup"])
    world.run()
    (case_id,) = world.cases()
    assert world.store.table("alerts")["case_id"].to_list() == [case_id] * 10
    assert len(world.actions("voice_bot")) == 1
    assert len(world.actions("agent_followup")) == 1
    assert world.timeline(case_id).count("alert") == 10
    assert world.timeline(case_id).count("deduplicated") == 18


def test_cooldown_after_dissuasion_then_reopen() -> None:
    world = World(bot="convinced")
    world.decide(event_id="a", actions=["voice_bot"])
    world.run()
    case = world.store.get_case(world.cases()[0])
    assert (case.status, case.resolution, case.first_contact_at) == ("closed", "dissuaded_by_bot", T0)
    world.clock.set(T0 + timedelta(minutes=20))
    world.decide(
        event_id="b",
        actions=["voice_bot", "stop_payment"],
        payee_account="M",
        payee_bank="B",
        amount=10.0,
        transfer_id="TB",
    )
    world.run()
    assert len(world.actions("voice_bot")) == 1
    assert len(world.actions("stop_payment")) == 1
    assert "suppressed_in_cooldown" in world.timeline(case.case_id)
    world.clock.set(T0 + timedelta(minutes=31))
    world.decide(event_id="c", actions=["voice_bot"])
    world.run()
    assert world.cases() == [case.case_id]
    assert len(world.actions("voice_bot")) == 2
    assert "reopened" in world.timeline(case.case_id)


def test_a_decision_after_the_episode_gap_opens_a_new_case() -> None:
    world = World(bot="convinced")
    world.decide(event_id="a")
    world.clock.set(T0 + timedelta(hours=25))
    world.decide(event_id="b")
    assert len(world.cases()) == 2


def test_shadow_decisions_are_stored_but_act_on_nothing() -> None:
    world = World()
    world.decide(
        mode="shadow",
        tier="minute",
        score=0.99,
        payee_account="M",
        payee_bank="B",
        amount=5.0,
        transfer_id="T",
    )
    world.run()
    assert world.store.table("alerts")["mode"].to_list() == ["shadow"]
    assert world.cases() == [] and world.store.action_status_counts() == {}


def test_reingesting_the_same_decisions_changes_nothing() -> None:
    world = World()
    frame = decision_frame(
        [{"event_id": f"e{i}", "time": T0, "victim_key": f"13900000{i:03d}"} for i in range(5)]
    )
    first = world.orch.ingest(frame)
    again = world.orch.ingest(frame)
    assert (first.alerts, again.alerts, again.duplicates) == (5, 0, 5)
    assert world.store.action_status_counts() == {"pending": 5}


def test_bad_decisions_are_rejected_with_the_event_rule_and_field() -> None:
    world = World()
    frame = decision_frame(
        [
            {"event_id": "good", "time": T0, "victim_key": VICTIM},
            {"event_id": "bad", "rule": "night_mule", "time": T0, "victim_key": VICTIM, "tier": "week"},
            {"event_id": "noname", "time": T0, "victim_key": ""},
        ]
    )
    report = world.orch.ingest(frame)
    assert report.alerts == 1
    assert report.rejected[0].startswith("decision bad (rule night_mule): tier 'week'")
    assert report.rejected[1].startswith("decision noname (rule rule): victim_key is empty")
    with pytest.raises(DecisionError, match=r"missing column\(s\) \['victim_key'\]"):
        world.orch.ingest(frame.drop("victim_key"))


def test_late_bot_results_recorded_from_outside_drive_the_ladder() -> None:
    world = World()
    world.decide(actions=["voice_bot"])
    (call,) = world.actions("voice_bot")
    world.orch.record_outcome(call.action_id, "busy", at=T0 + timedelta(minutes=1))
    world.orch.record_outcome(call.action_id, "busy", at=T0 + timedelta(minutes=1))
    calls = world.actions("voice_bot")
    assert len(calls) == 2 and calls[1].next_attempt_at == T0 + timedelta(minutes=6)


def test_agent_disposition_closes_the_case_and_teaches_labels() -> None:
    world = World(bot="no_answer")
    world.decide(
        event_id="call",
        tier="minute",
        score=0.95,
        entity_key="17000000009",
        typology="fake_loan",
        payee_account="MULE7",
        payee_bank="B",
        amount=3000.0,
        transfer_id="T7",
    )
    world.run()
    (case_id,) = world.cases()
    world.clock.set(T0 + timedelta(minutes=4))
    world.orch.record_agent_disposition(case_id, "victim_confirmed_scam")
    world.orch.record_agent_disposition(case_id, "victim_confirmed_scam")
    case = world.store.get_case(case_id)
    assert (case.status, case.resolution, case.first_contact_at) == (
        "closed",
        "victim_confirmed_scam",
        T0 + timedelta(minutes=4),
    )
    labels = world.store.labels_since(T0)
    agent = labels.filter(pl.col("source") == "agent")
    assert sorted(agent.select("entity_type", "entity_id", "is_fraud").rows()) == [
        ("account", "MULE7", True),
        ("number", "17000000009", True),
        ("transfer", "T7", True),
    ]
    assert set(agent["typology"].to_list()) == {"fake_loan"}
    assert labels.filter(pl.col("source") == "agent").height == 3
    world.advance_to(60)
    first, redial = world.actions("voice_bot")
    assert (first.status, redial.status) == ("done", "cancelled"), "a closed case does not keep re-dialling"
    assert redial.attempts == 0


def test_false_alarm_clears_transfers_and_unreachable_alerts_the_officer() -> None:
    world = World()
    world.decide(
        event_id="x",
        actions=["agent_followup"],
        transfer_id="T1",
        payee_account="P",
        payee_bank="B",
        amount=10.0,
        victim_key="13800000001",
    )
    world.decide(event_id="y", actions=["agent_followup"], victim_key="13800000002")
    first, second = world.cases()
    world.orch.record_agent_disposition(first, "false_alarm")
    world.orch.record_agent_disposition(second, "unreachable")
    labels = world.store.labels_since(T0)
    assert labels.select("entity_type", "entity_id", "is_fraud").rows() == [("transfer", "T1", False)]
    assert [a.case_id for a in world.actions("officer_alert")] == [second]
    with pytest.raises(ValueError, match="disposition 'maybe'"):
        world.orch.record_agent_disposition(first, "maybe")


# -- property: cases and stop-payments against an obviously-correct reference ------------

decision_strategy = st.lists(
    st.tuples(
        st.tuples(st.integers(0, 3), st.sampled_from(["phone", "account"])),  # victim key and kind
        st.integers(0, 600),  # minute of the day
        st.sampled_from(["active", "active", "shadow"]),
        st.booleans(),  # asks for a bot call
        st.one_of(st.none(), st.tuples(st.integers(0, 2), st.integers(0, 5))),  # (payee, transfer)
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(decision_strategy, st.integers(1, 4))
def test_cases_and_stop_payments_match_a_reference(events: list, batches: int) -> None:
    gap = timedelta(minutes=60)
    policy = EscalationPolicy(episode_gap=gap)
    store = SQLiteRepository(":memory:")
    orch = Orchestrator(store, policy, ManualClock(T0))
    records = []
    for i, ((victim, kind), minute, mode, bot, transfer) in enumerate(events):
        record: dict[str, Any] = {
            "event_id": f"e{i}",
            "time": T0 + timedelta(minutes=minute),
            # The same digits as a phone and as an account are two different victims.
            "victim_key": f"1380000000{victim}",
            "victim_kind": kind,
            "mode": mode,
            "actions": (["voice_bot"] if bot else []) + (["stop_payment"] if transfer else []),
        }
        if transfer:
            payee, tid = transfer
            record.update(
                payee_account=f"MULE{payee}", payee_bank="B", amount=100.0, transfer_id=f"T{payee}-{tid}"
            )
        records.append(record)
    frame = decision_frame(records).sort("time", maintain_order=True)
    size = -(-frame.height // batches)
    for start in range(0, frame.height, size):
        batch = frame.slice(start, size)
        orch.ingest(batch, now=batch["time"].max())

    active = [r for r in sorted(records, key=lambda r: r["time"]) if r["mode"] == "active"]
    # Reference episodes: per victim, a new case whenever the gap since the previous decision exceeds `gap`.
    expected_cases: dict[tuple[str, str], list[list[dict]]] = {}
    for r in active:
        episodes = expected_cases.setdefault((r["victim_kind"], r["victim_key"]), [])
        if not episodes or r["time"] - episodes[-1][-1]["time"] > gap:
            episodes.append([])
        episodes[-1].append(r)
    cases = store.table("cases")
    for (kind, victim), episodes in expected_cases.items():
        assert cases.filter((pl.col("victim_key") == victim) & (pl.col("victim_kind") == kind)).height == len(episodes)
    assert cases.height == sum(len(e) for e in expected_cases.values())
    # One bot call per phone victim's case that any of its decisions asked for (nothing has answered
    # yet); an account victim has no number to call.
    bot_actions = store.table("actions").filter(pl.col("kind") == "voice_bot")
    expected_bot = sum(
        1 for (kind, _), eps in expected_cases.items() for ep in eps
        if kind == "phone" and any("voice_bot" in r["actions"] for r in ep)
    )
    assert bot_actions.height == expected_bot
    assert bot_actions["case_id"].n_unique() == bot_actions.height
    # Reference stop-payments: the first two distinct transfers per payee account, in time order.
    per_payee: dict[str, list[str]] = {}
    for r in active:
        if "stop_payment" in r["actions"]:
            seen = per_payee.setdefault(r["payee_account"], [])
            if r["transfer_id"] not in seen and len(seen) < 2:
                seen.append(r["transfer_id"])
    stops = store.table("actions").filter(pl.col("kind") == "stop_payment")
    got = sorted(
        (subject, json.loads(payload)["transfer_id"])
        for subject, payload in zip(stops["subject"], stops["payload"], strict=True)
    )
    assert got == sorted((payee, t) for payee, ts in per_payee.items() for t in ts)


def test_a_bad_policy_reload_keeps_the_running_policy(tmp_path) -> None:
    world = World()
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text("[voice_bot]\nmax_redials = 1\n")
    bad.write_text("[voice_bot]\nmax_redials = 'many'\n")
    assert world.orch.reload_policy(good) is None and world.orch.policy.max_redials == 1
    error = world.orch.reload_policy(bad)
    assert error is not None and "bad.toml:2" in str(error)
    assert world.orch.policy.max_redials == 1
    ops = world.store.table("audit_log")["op"].to_list()
    assert ops == ["policy_reloaded", "policy_reload_failed"]


class ScriptedBot:
    """A voice-bot platform whose n-th call to the victim ends as the n-th scripted outcome."""

    def __init__(self, script: list[str]):
        self.script = script

    def send(self, action: Any) -> Any:
        from fraud_brain.actions import AdapterResult

        return AdapterResult.success(self.script[action.payload["attempt"] - 1])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 7),
    st.integers(0, 4),
    st.lists(st.sampled_from(["convinced", "not_convinced", "no_answer", "busy"]), min_size=5, max_size=5),
)
def test_bot_ladder_matches_a_reference(interval: int, max_redials: int, script: list[str]) -> None:
    policy = EscalationPolicy(redial_interval=timedelta(minutes=interval), max_redials=max_redials)
    world = World(policy=policy)
    world.dispatcher.adapters["voice_bot"] = ScriptedBot(script)
    world.decide(actions=["voice_bot"])
    for minute in range(interval * (max_redials + 1) + 3):
        world.advance_to(minute)

    # Reference: call at 0, N, 2N, ... until convinced or 1 + M calls; no conviction -> agent at the last call.
    expected_calls, convinced = [], False
    for attempt, outcome in enumerate(script[: max_redials + 1]):
        expected_calls.append(T0 + timedelta(minutes=attempt * interval))
        if outcome == "convinced":
            convinced = True
            break
    calls = world.actions("voice_bot")
    assert [c.done_at for c in calls] == expected_calls
    assert [c.outcome for c in calls] == script[: len(expected_calls)]
    agents = world.actions("agent_followup")
    case = world.store.get_case(world.cases()[0])
    if convinced:
        assert agents == [] and (case.status, case.resolution) == ("closed", "dissuaded_by_bot")
    else:
        assert [a.created_at for a in agents] == [expected_calls[-1]]
        assert (case.status, case.contact_state) == ("open", "agent")
    outcomes = script[: len(expected_calls)]
    answered = [t for t, o in zip(expected_calls, outcomes, strict=True) if o in ("convinced", "not_convinced")]
    assert case.first_contact_at == (answered[0] if answered else None)


def test_unknown_actions_are_noted_and_the_known_ones_still_happen() -> None:
    world = World()
    world.decide(actions=["sms_to_relatives", "voice_bot"])
    assert [a.kind for a in world.actions()] == ["voice_bot"]
    assert "unknown_actions_ignored" in world.timeline(world.cases()[0])


def test_number_review_once_per_suspect_number_across_victims() -> None:
    world = World()
    for i in range(3):
        world.decide(
            event_id=f"w{i}",
            victim_key=f"1380000000{i}",
            entity_key="0088216000001",
            actions=["block_number_review"],
            rule="wangiri_one_ring",
        )
    world.decide(
        event_id="self", victim_key="13800000009", entity_key="13800000009", actions=["block_number_review"]
    )
    world.decide(
        event_id="imei",
        victim_key="13800000008",
        entity_key="356938035643809",
        actions=["block_number_review"],
    )
    world.run()
    (review,) = world.actions("block_number_review")
    assert (review.subject, review.status, review.outcome) == ("0088216000001", "done", "queued_for_review")
    assert review.payload["rule"] == "wangiri_one_ring"
    skipped = [k for c in world.cases() for k in world.timeline(c) if k == "number_review_skipped"]
    assert len(skipped) == 2


def test_officer_alerts_name_the_victims_district() -> None:
    from fraud_brain.actions import district_lookup

    world = World()
    world.orch.districts = district_lookup(pl.DataFrame({"phone": [VICTIM], "district": ["Haizhu"]}))
    world.decide(actions=["officer_alert"], typology="impersonating_police")
    (alert,) = world.actions("officer_alert")
    assert alert.payload["district"] == "Haizhu" and "impersonating_police" in alert.payload["message"]


def test_relatives_calls_can_be_switched_off_and_answer_more_often() -> None:
    world = World(bot="busy", policy=EscalationPolicy(relatives_after_busy=0))
    world.decide(actions=["voice_bot"])
    for minute in range(20):
        world.advance_to(minute)
    assert {c.payload["target"] for c in world.actions("voice_bot")} == {"victim"}
    bot = SimulatedVoiceBot(seed=3)
    from fraud_brain.store import Action

    outcomes = [
        bot.send(Action(1, 1, "voice_bot", f"r{i}", {"target": "relatives"}, "in_flight", 1, T0, T0)).outcome
        for i in range(400)
    ]
    assert "busy" not in outcomes and outcomes.count("convinced") > 150


# -- victims known only by their account (a bank that sends no payer phone) --------------------

ACCOUNT = "6222000011"


def _account_decision(event_id: str, minute: float = 0, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id, "time": T0 + timedelta(minutes=minute), "rule": "mule_stop", "tier": "minute",
        "score": 0.97, "victim_key": ACCOUNT, "victim_kind": "account",
        "actions": ["stop_payment", "voice_bot", "agent_followup", "officer_alert"],
        "payee_account": "MULE1", "payee_bank": "B", "amount": 9000.0, "transfer_id": f"T-{event_id}", **fields,
    }


def test_an_account_victim_gets_the_stop_payment_and_officer_but_no_calls() -> None:
    world = World()
    report = world.orch.ingest(decision_frame([_account_decision("t1")]))
    assert not report.rejected and report.contact_skipped == 2
    assert dict(report.actions) == {"stop_payment": 1, "officer_alert": 1}
    world.run()
    (case_id,) = world.cases()
    case = world.store.get_case(case_id)
    assert (case.victim_key, case.victim_kind, case.has_phone, case.contact_state) == (
        ACCOUNT, "account", False, "none"
    )
    assert sorted(a.kind for a in world.actions()) == ["officer_alert", "stop_payment"]
    assert all(a.status == "done" for a in world.actions())
    assert world.bot.calls == {}
    assert world.timeline(case_id)[:3] == ["opened", "alert", "fan_out"]
    assert "contact_skipped" in world.timeline(case_id)
    officer = world.actions("officer_alert")[0].payload
    assert officer["district"] is None and officer["victim_kind"] == "account"


def test_a_decision_with_neither_phone_nor_account_is_refused_counted_and_audited() -> None:
    world = World()
    frame = decision_frame([
        _account_decision("t-none", victim_key=None, victim_kind=None),
        _account_decision("t-ok", minute=1),
        _account_decision("t-odd", minute=2, victim_kind="email"),
    ])
    report = world.orch.ingest(frame)
    assert (report.alerts, report.no_victim, len(report.rejected)) == (1, 1, 2)
    assert report.rejected[0].startswith("decision t-none (rule mule_stop): victim_key is empty: neither")
    assert report.rejected[1] == (
        "decision t-odd (rule mule_stop): victim_kind 'email' must be one of ['phone', 'account']"
    )
    audit = world.store.table("audit_log").filter(pl.col("op") == "decision_without_victim")
    assert audit["subject"].to_list() == ["t-none"]
    assert json.loads(audit["detail"][0])["transfer_id"] == "T-t-none"


def test_a_phone_and_an_account_with_the_same_digits_are_two_victims() -> None:
    world = World()
    world.orch.ingest(decision_frame([
        {"event_id": "c1", "time": T0, "victim_key": ACCOUNT},  # no victim_kind: a phone, as before
        _account_decision("t1", minute=1),
    ]))
    cases = world.store.table("cases").sort("case_id")
    assert cases.select("victim_key", "victim_kind").rows() == [(ACCOUNT, "phone"), (ACCOUNT, "account")]
    assert cases["case_uid"].n_unique() == 2
    assert [a.kind for a in world.store.case_actions(cases["case_id"][0])] == ["voice_bot"]


def test_a_frame_without_the_victim_kind_column_means_phone_victims() -> None:
    world = World()
    frame = decision_frame([{"event_id": "c1", "time": T0, "victim_key": VICTIM}]).drop("victim_kind")
    report = world.orch.ingest(frame)
    assert report.actions["voice_bot"] == 1 and world.store.get_case(world.cases()[0]).victim_kind == "phone"


def test_agents_work_an_account_victims_case_in_the_desk() -> None:
    from fraud_brain.api.desk import CaseDesk, Principal

    world = World()
    world.orch.ingest(decision_frame([_account_decision("t1")]))
    world.run()
    desk = CaseDesk(world.store, world.orch, world.clock)
    alice = Principal("alice", "agent")
    (listed,) = desk.list_cases(alice)
    case_id = listed["case_id"]
    desk.claim(case_id, alice)
    detail = desk.case_detail(case_id, alice)
    assert any(e["kind"] == "contact_skipped" and e["detail"]["why"] == NO_PHONE_WHY for e in detail["timeline"])
    # Unreachable asks for the officer, who already has this episode's alert; no call is ever queued.
    world.clock.advance(timedelta(minutes=5))
    outcome = desk.record_outcome(case_id, alice, "unreachable")
    assert outcome["status"] == "closed" and outcome["actions"] == {}
    assert sorted(a.kind for a in world.actions()) == ["officer_alert", "stop_payment"]


def test_an_account_victims_case_teaches_labels_when_the_scam_is_confirmed() -> None:
    world = World()
    world.orch.ingest(decision_frame([_account_decision("t1")]))
    world.run()
    (case_id,) = world.cases()
    report = world.orch.record_agent_disposition(case_id, "prevented", at=T0 + timedelta(minutes=3))
    assert world.store.get_case(case_id).status == "closed"
    labels = world.store.labels_since(T0)
    assert ("transfer", "T-t1") in set(labels.select("entity_type", "entity_id").rows()) and report.labels >= 1
    assert ACCOUNT not in labels["entity_id"].to_list()  # the victim's own account is not a mule
