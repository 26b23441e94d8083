"""The webhook adapter against a real receiver on 127.0.0.1: failures, stalls, repeats, signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraud_brain.actions import (
    Dispatcher,
    Orchestrator,
    OutboxSettings,
    SystemClock,
    WebhookAdapter,
    decision_frame,
)
from fraud_brain.actions.adapters.webhook import request_body, sign, verify_signature
from fraud_brain.store import Action, SQLiteRepository

from .conftest import SECRET, Receiver

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _action(key: str = "k1", kind: str = "stop_payment") -> Action:
    payload = {"payee_account": "MULE1", "amount": 2500.0, "transfer_id": "T1"}
    return Action(1, 1, kind, key, payload, "in_flight", 1, T0, T0)


def _adapter(receiver: Receiver, **kw: object) -> WebhookAdapter:
    waits: list[float] = []
    options = {"timeout_s": 0.5, "max_retries": 3, "backoff_base_s": 0.01, "seed": 1, "sleep": waits.append}
    options.update(kw)
    adapter = WebhookAdapter(receiver.url, SECRET, **options)  # type: ignore[arg-type]
    adapter.waits = waits  # type: ignore[attr-defined]
    return adapter


def test_delivers_signed_json_with_the_idempotency_key(receiver: Receiver) -> None:
    result = _adapter(receiver).send(_action())
    assert result.ok and result.outcome == "held" and result.amount_held == 2500.0
    assert receiver.effects == {"k1": 1}
    assert receiver.bodies["k1"] == request_body(_action())
    assert receiver.bad_signatures == 0


def test_wrong_secret_is_rejected_and_not_retried(receiver: Receiver) -> None:
    adapter = WebhookAdapter(receiver.url, b"wrong", max_retries=3, sleep=lambda s: None)
    result = adapter.send(_action())
    assert not result.ok and not result.retryable and "HTTP 401" in (result.error or "")
    assert receiver.bad_signatures == 1 and not receiver.effects


def test_server_errors_are_retried_with_growing_backoff(receiver: Receiver) -> None:
    receiver.plan["k1"] = ["500", "500", "500"]
    adapter = _adapter(receiver)
    result = adapter.send(_action())
    assert result.ok
    assert receiver.deliveries["k1"] == 4 and receiver.effects["k1"] == 1
    waits = adapter.waits  # type: ignore[attr-defined]
    assert len(waits) == 3
    for retry, wait in enumerate(waits, start=1):
        base = 0.01 * 2 ** (retry - 1)
        assert base <= wait <= base * 1.5


def test_retries_run_out_as_a_retryable_failure(receiver: Receiver) -> None:
    receiver.plan["k1"] = ["500"] * 10
    result = _adapter(receiver, max_retries=2).send(_action())
    assert not result.ok and result.retryable and "HTTP 500" in (result.error or "")
    assert receiver.deliveries["k1"] == 3 and not receiver.effects


def test_a_timeout_after_the_effect_is_retried_and_the_repeat_counts_as_success(receiver: Receiver) -> None:
    receiver.plan["k1"] = ["stall"]
    receiver.stall_s = 1.0
    result = _adapter(receiver, timeout_s=0.2).send(_action())
    assert result.ok and result.detail["duplicate"] is True
    assert result.outcome == "held" and result.amount_held == 2500.0
    assert receiver.deliveries["k1"] == 2 and receiver.effects["k1"] == 1


def test_a_409_for_an_already_processed_key_is_success(receiver: Receiver) -> None:
    receiver.plan["k1"] = ["stall", "409"]
    receiver.stall_s = 1.0
    result = _adapter(receiver, timeout_s=0.2).send(_action())
    assert result.ok and result.outcome == "duplicate_accepted" and result.detail["http_status"] == 409
    assert receiver.effects["k1"] == 1


def test_the_same_action_answered_twice_has_one_effect(receiver: Receiver) -> None:
    adapter = _adapter(receiver)
    first, second = adapter.send(_action()), adapter.send(_action())
    assert first.ok and second.ok
    assert (first.detail["duplicate"], second.detail["duplicate"]) == (False, True)
    assert first.outcome == second.outcome == "held"
    assert receiver.deliveries["k1"] == 2 and receiver.effects["k1"] == 1


def test_unreachable_receiver_is_a_retryable_failure() -> None:
    adapter = WebhookAdapter(
        "http://127.0.0.1:9/none", SECRET, timeout_s=0.2, max_retries=1, sleep=lambda s: None
    )
    result = adapter.send(_action())
    assert not result.ok and result.retryable and "cannot reach" in (result.error or "")


def test_signature_checks_reject_tampering_and_stale_requests() -> None:
    body = request_body(_action())
    key = _action().idempotency_key
    signature = sign(SECRET, "1000", body, key=key)
    assert verify_signature(SECRET, body, "1000", signature, key=key, now=1100)
    assert not verify_signature(SECRET, body, "1000", signature, key=key, now=2000)
    assert not verify_signature(SECRET, body.replace(b"2500", b"9999"), "1000", signature, key=key, now=1100)
    assert not verify_signature(SECRET, body, "not-a-time", signature, key=key, now=1100)
    # the idempotency key is signed: a replay under another key does not verify
    assert not verify_signature(SECRET, body, "1000", signature, key=key + "-2", now=1100)
    # non-finite or non-integer timestamps never verify, even when signed as such
    for stamp in ("nan", "NaN", "inf", "-inf", "1e3", "1000.0", "-1000", " 1000", ""):
        forged = sign(SECRET, stamp, body, key=key)
        assert not verify_signature(SECRET, body, stamp, forged, key=key, now=1000), stamp
    with pytest.raises(ValueError, match="empty signing secret"):
        WebhookAdapter("http://127.0.0.1:9", b"")


def test_outbox_over_webhook_loses_and_doubles_nothing(receiver: Receiver) -> None:
    """Failures beyond the adapter's own retries, stalls, repeats and a rejected action, end to end."""
    store = SQLiteRepository(":memory:")
    clock = SystemClock()
    orchestrator = Orchestrator(store, clock=clock)
    now = clock.now()
    records = [
        {
            "event_id": f"e{i}",
            "time": now,
            "victim_key": f"1380000{i:04d}",
            "tier": "minute",
            "score": 0.95,
            "payee_account": f"MULE{i % 2}",
            "payee_bank": "B",
            "amount": 100.0 + i,
            "transfer_id": f"T{i}",
        }
        for i in range(6)
    ]
    orchestrator.ingest(decision_frame(records))
    keys = [a.idempotency_key for c in range(1, 7) for a in store.case_actions(c)]
    assert (
        len(keys) == 6 * 3 + 4
    )  # bot, agent, officer per case; stop-payments capped at two per mule account
    receiver.stall_s = 0.6
    receiver.plan[keys[0]] = ["500"] * 4  # outlasts the adapter's retries: the outbox retries later
    receiver.plan[keys[1]] = ["stall"]
    receiver.plan[keys[2]] = ["500", "stall", "500"]
    # A 409 carries no replayed answer, so it goes on an officer alert, whose outcome matters less.
    receiver.plan[keys[3]] = ["stall", "409"]
    receiver.plan[keys[4]] = ["400"]  # a receiver that refuses the request: dead, never retried
    adapter = WebhookAdapter(receiver.url, SECRET, timeout_s=0.3, max_retries=2, backoff_base_s=0.01, seed=2)
    settings = OutboxSettings(
        lease=timedelta(seconds=10), max_attempts=5, backoff_base=timedelta(seconds=0.05)
    )
    dispatcher = Dispatcher(
        store,
        dict.fromkeys(("voice_bot", "agent_followup", "stop_payment", "officer_alert"), adapter),
        clock,
        settings,
        seed=3,
    )
    dispatcher.run_until_idle(max_wait=timedelta(seconds=5))
    assert store.action_status_counts() == {"done": len(keys) - 1, "dead": 1}
    assert store.action_by_key(keys[4]).status == "dead"
    delivered = set(keys) - {keys[4]}
    assert set(receiver.effects) == delivered
    assert all(receiver.effects[k] == 1 for k in delivered)
    # Three refusals use up the first dispatch (1 try + 2 retries); the outbox tries again and the fifth lands.
    assert receiver.deliveries[keys[0]] == 5 and store.action_by_key(keys[0]).attempts == 2
    assert receiver.deliveries[keys[1]] == 2 and receiver.deliveries[keys[3]] == 2
    assert store.action_by_key(keys[3]).outcome == "duplicate_accepted"
    assert receiver.body_mismatches == 0 and receiver.bad_signatures == 0
    assert sum(o for o in store.table("outcomes")["amount_held"].drop_nulls()) == pytest.approx(
        sum(a.payload["amount"] for c in range(1, 7) for a in store.case_actions(c, "stop_payment"))
    )
    adapter.close()
