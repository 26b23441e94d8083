"""The outbox worker on a manual clock: backoff, dead letters, adapter crashes, lease expiry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from fraud_brain.actions import (
    AdapterResult,
    Dispatcher,
    ManualClock,
    Orchestrator,
    OutboxSettings,
    decision_frame,
)
from fraud_brain.actions.adapters import SimulatedOfficerPager
from fraud_brain.store import Action, NewAction, SQLiteRepository

T0 = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)


class FlakyPager:
    """An officer pager that fails (or raises) a set number of times before it works."""

    def __init__(self, failures: int, raises: bool = False, retryable: bool = True):
        self.failures = failures
        self.raises = raises
        self.retryable = retryable
        self.seen: list[tuple[str, datetime]] = []
        self.clock: ManualClock | None = None

    def send(self, action: Action) -> AdapterResult:
        assert self.clock is not None
        self.seen.append((action.idempotency_key, self.clock.now()))
        if len(self.seen) <= self.failures:
            if self.raises:
                raise ConnectionResetError("pager gateway reset the connection")
            return AdapterResult.failure("pager gateway busy", retryable=self.retryable)
        return AdapterResult.success("delivered")


def _setup(
    adapter: object, settings: OutboxSettings | None = None
) -> tuple[SQLiteRepository, ManualClock, Dispatcher]:
    clock = ManualClock(T0)
    store = SQLiteRepository(":memory:")
    Orchestrator(store, clock=clock).ingest(
        decision_frame(
            [{"event_id": "e1", "time": T0, "victim_key": "13800000001", "actions": ["officer_alert"]}]
        )
    )
    if isinstance(adapter, FlakyPager):
        adapter.clock = clock
    settings = settings or OutboxSettings(backoff_base=timedelta(seconds=5), jitter=0.25, max_attempts=4)
    return store, clock, Dispatcher(store, {"officer_alert": adapter}, clock, settings, seed=7)  # type: ignore[dict-item]


def test_failures_back_off_exponentially_then_succeed() -> None:
    pager = FlakyPager(failures=2)
    store, clock, dispatcher = _setup(pager)
    report = dispatcher.run_until_idle()
    assert report.done == 1 and report.retrying == 2
    times = [t for _, t in pager.seen]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert 5 <= gaps[0] <= 5 * 1.25 + 0.01 and 10 <= gaps[1] <= 10 * 1.25 + 0.01
    (action,) = store.case_actions(1)
    assert (action.status, action.attempts, action.outcome) == ("done", 3, "delivered")
    assert {key for key, _ in pager.seen} == {action.idempotency_key}


def test_exhausted_retries_go_dead_with_a_timeline_entry_and_audit() -> None:
    pager = FlakyPager(failures=100)
    store, _, dispatcher = _setup(pager)
    report = dispatcher.run_until_idle()
    assert (report.dead, report.done, len(pager.seen)) == (1, 0, 4)
    (action,) = store.case_actions(1)
    assert action.status == "dead" and action.last_error == "pager gateway busy"
    assert "action_dead" in [kind for _, kind, _ in store.case_timeline(1)]
    assert store.table("audit_log").filter(pl.col("op") == "action_dead").height == 1


def test_a_non_retryable_failure_goes_dead_at_once() -> None:
    pager = FlakyPager(failures=1, retryable=False)
    store, _, dispatcher = _setup(pager)
    assert dispatcher.run_until_idle().dead == 1 and len(pager.seen) == 1


def test_an_adapter_that_raises_is_retried_not_fatal() -> None:
    pager = FlakyPager(failures=1, raises=True)
    store, _, dispatcher = _setup(pager)
    report = dispatcher.run_until_idle()
    assert (report.retrying, report.done) == (1, 1)
    assert store.case_actions(1)[0].status == "done"


def test_missing_adapter_is_a_dead_letter_naming_the_kind() -> None:
    store, _, dispatcher = _setup(SimulatedOfficerPager())
    dispatcher.adapters = {}
    dispatcher.run_until_idle()
    (action,) = store.case_actions(1)
    assert action.status == "dead" and "no adapter for kind 'officer_alert'" in (action.last_error or "")


def test_an_expired_lease_is_taken_over_with_the_same_key() -> None:
    pager = FlakyPager(failures=0)
    store, clock, dispatcher = _setup(pager, OutboxSettings(lease=timedelta(seconds=30)))
    # A worker claims the action and dies before sending it.
    (claimed,) = store.claim_actions(clock.now(), clock.now() + timedelta(seconds=30), "dead-worker", 10)
    assert dispatcher.run_once().claimed == 0
    clock.advance(seconds=29)
    assert dispatcher.run_once().claimed == 0
    clock.advance(seconds=1)
    report = dispatcher.run_once()
    assert (report.claimed, report.done) == (1, 1)
    assert pager.seen == [(claimed.idempotency_key, clock.now())]
    assert store.get_action(claimed.action_id).attempts == 2


def test_run_until_idle_waits_for_future_actions_on_the_clock() -> None:
    pager = FlakyPager(failures=0)
    store, clock, dispatcher = _setup(pager)
    store.enqueue_action(NewAction(1, "officer_alert", "later", {}, T0 + timedelta(minutes=3)), T0)
    dispatcher.run_until_idle(max_wait=timedelta(minutes=5))
    assert [t for _, t in pager.seen][-1] >= T0 + timedelta(minutes=3)
    assert store.action_status_counts() == {"done": 2}
    store.enqueue_action(
        NewAction(1, "officer_alert", "much-later", {}, clock.now() + timedelta(hours=2)), clock.now()
    )
    before = clock.now()
    dispatcher.run_until_idle(max_wait=timedelta(minutes=5))
    assert clock.now() == before and store.action_status_counts() == {"done": 2, "pending": 1}


def test_two_workers_on_one_store_never_send_an_action_twice(tmp_path) -> None:
    import threading
    import time
    from collections import Counter

    from fraud_brain.actions import SystemClock

    path = tmp_path / "shared.db"
    store = SQLiteRepository(path)
    Orchestrator(store).ingest(
        decision_frame(
            [
                {
                    "event_id": f"e{i}",
                    "time": T0,
                    "victim_key": f"1380000{i:04d}",
                    "actions": ["officer_alert"],
                }
                for i in range(120)
            ]
        )
    )
    store.close()
    sent: Counter[str] = Counter()
    lock = threading.Lock()

    class CountingPager:
        def send(self, action: Action) -> AdapterResult:
            with lock:
                sent[action.idempotency_key] += 1
            time.sleep(0.001)
            return AdapterResult.success("delivered")

    errors: list[BaseException] = []

    def work() -> None:
        try:
            own = SQLiteRepository(path)
            Dispatcher(own, {"officer_alert": CountingPager()}, SystemClock(), batch_size=5).run_until_idle(
                max_wait=timedelta(seconds=1)
            )
            own.close()
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert len(sent) == 120 and set(sent.values()) == {1}
    assert SQLiteRepository(path).action_status_counts() == {"done": 120}
