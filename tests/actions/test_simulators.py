"""Embedded simulators: seeded, idempotent per key, realistic outcome mixes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from fraud_brain.actions import Dispatcher, ManualClock
from fraud_brain.actions.adapters import (
    VOICE_BOT_OUTCOMES,
    SimulatedBank,
    SimulatedVoiceBot,
    simulated_adapters,
)
from fraud_brain.store import Action, Case, NewAction, SQLiteRepository

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _action(kind: str, key: str, **payload: object) -> Action:
    return Action(1, 1, kind, key, dict(payload), "in_flight", 1, T0, T0)


def test_bot_outcomes_follow_the_typology_odds() -> None:
    bot = SimulatedVoiceBot(seed=1)
    police = Counter(
        bot.send(_action("voice_bot", f"p{i}", typology="impersonating_police")).outcome for i in range(2000)
    )
    brushing = Counter(
        bot.send(_action("voice_bot", f"b{i}", typology="order_brushing")).outcome for i in range(2000)
    )
    assert set(police) == set(VOICE_BOT_OUTCOMES)
    # Fake-police victims are kept on the line by the scammer: busy far more often.
    assert police["busy"] / 2000 == pytest.approx(0.35, abs=0.04)
    assert brushing["busy"] / 2000 == pytest.approx(0.07, abs=0.03)


def test_same_key_same_answer_and_seed_changes_answers() -> None:
    keys = [f"k{i}" for i in range(50)]
    one = [SimulatedVoiceBot(seed=1).send(_action("voice_bot", k)).outcome for k in keys]
    again = [SimulatedVoiceBot(seed=1).send(_action("voice_bot", k)).outcome for k in keys]
    other = [SimulatedVoiceBot(seed=2).send(_action("voice_bot", k)).outcome for k in keys]
    assert one == again and one != other


def test_bank_holds_at_most_the_amount_and_mostly_all_of_it() -> None:
    bank = SimulatedBank(seed=3)
    results = [bank.send(_action("stop_payment", f"s{i}", amount=1000.0)) for i in range(1000)]
    assert all(0.0 <= r.amount_held <= 1000.0 for r in results)
    outcomes = Counter(r.outcome for r in results)
    assert outcomes["held"] / 1000 == pytest.approx(0.75, abs=0.05)
    assert all((r.amount_held == 1000.0) == (r.outcome == "held") for r in results)
    assert all(r.detail["hold_hours"] == 48.0 for r in results)


def test_bank_rejects_a_request_without_an_amount() -> None:
    result = SimulatedBank().send(_action("stop_payment", "bad"))
    assert not result.ok and not result.retryable and "stop_payment bad" in (result.error or "")


def test_every_kind_has_a_default_adapter_that_succeeds() -> None:
    adapters = simulated_adapters(seed=0)
    for kind, adapter in adapters.items():
        assert adapter.send(_action(kind, "x", amount=10.0)).ok


def test_a_bot_call_to_an_account_fails_for_good_and_others_still_go_out() -> None:
    t = T0
    store = SQLiteRepository(":memory:")
    case = store.create_case(Case(0, "case-a", "6222000011", "open", "minute", None, "r", t, t, t, 0.9,
                                  victim_kind="account"))
    # Not something the orchestrator asks; an external tool writing to the outbox could.
    store.enqueue_action(NewAction(case.case_id, "voice_bot", "bot-1",
                                   {"victim": "6222000011", "victim_kind": "account"}, t), t)
    store.enqueue_action(NewAction(case.case_id, "officer_alert", "off-1", {"victim": "6222000011"}, t), t)
    Dispatcher(store, simulated_adapters(1), ManualClock(t)).run_until_idle()
    bot, officer = store.case_actions(case.case_id)
    assert (bot.status, bot.attempts) == ("dead", 1) and "not a phone number" in (bot.last_error or "")
    assert officer.status == "done"
