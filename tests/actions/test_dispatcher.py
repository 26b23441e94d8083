"""The outbox worker on a manual clock: backoff, dead letters, adapter crashes, lease expiry."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.actions import (
    AdapterResult,
    Dispatcher,
    ManualClock,
    Orchestrator,
    OutboxSettings,
    decision_frame,
)
from fraud_brain.actions.adapters import SimulatedOfficerPager
from fraud_brain.store import Action, Case, NewAction, SQLiteRepository

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


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
    store, _, dispatcher = _setup(pager)
    report = dispatcher.run_until_idle()
    assert report.done == 1 and report.retrying == 2
    times = [t for _, t in pager.seen]
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
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
    _, _, dispatcher = _setup(pager)
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
    taken_over = store.get_action(claimed.action_id)
    assert (taken_over.attempts, taken_over.lease_expiries) == (1, 1)


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
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert len(sent) == 120 and set(sent.values()) == {1}
    assert SQLiteRepository(path).action_status_counts() == {"done": 120}


class WorkerCrash(BaseException):
    """The worker process dies (not an error an adapter reports: nothing catches it)."""


class ScriptedReceiver:
    """An idempotent receiver whose n-th delivery of a key does what the key's script says.

    ``ok``: apply the effect, answer; ``fail``: answer an error; ``raise``: the connection
    breaks; ``crash``: apply the effect, then the sending worker dies before recording it.
    """

    def __init__(self, scripts: dict[str, list[str]]):
        self.scripts = scripts
        self.deliveries: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()

    def send(self, action: Action) -> AdapterResult:
        step = self.scripts[action.idempotency_key][self.deliveries[action.idempotency_key]]
        self.deliveries[action.idempotency_key] += 1
        if step in ("ok", "crash") and not self.effects[action.idempotency_key]:
            self.effects[action.idempotency_key] += 1
        if step == "crash":
            raise WorkerCrash
        if step == "raise":
            raise ConnectionResetError("connection reset")
        if step == "fail":
            return AdapterResult.failure("HTTP 503")
        return AdapterResult.success("delivered")


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(0, 2),
    st.lists(
        st.lists(st.sampled_from(["ok", "fail", "raise", "crash"]), min_size=8, max_size=8),
        min_size=1,
        max_size=6,
    ),
)
def test_outbox_with_failures_and_crashes_matches_a_reference(
    max_attempts: int, max_expiries: int, scripts: list[list[str]]
) -> None:
    clock = ManualClock(T0)
    store = SQLiteRepository(":memory:")
    store.create_case(Case(0, "c", "13800000001", "open", "hour", None, "r", T0, T0, T0, 0.5))
    keys = [f"k{i}" for i in range(len(scripts))]
    for key in keys:
        store.enqueue_action(NewAction(1, "officer_alert", key, {}, T0), T0)
    receiver = ScriptedReceiver(dict(zip(keys, scripts, strict=True)))
    settings_ = OutboxSettings(
        lease=timedelta(seconds=30),
        max_attempts=max_attempts,
        max_lease_expiries=max_expiries,
        backoff_base=timedelta(seconds=1),
    )
    for _restart in range(100):
        try:
            # One action per claim, so a crash takes down only the action that caused it.
            Dispatcher(
                store, {"officer_alert": receiver}, clock, settings_, batch_size=1, seed=1
            ).run_until_idle()
            break
        except WorkerCrash:
            continue  # a new worker starts; the dead one's lease must expire first
    for key, script in zip(keys, scripts, strict=True):
        # Reference: walk the script. A failure uses an attempt (dead when none are left); a crash
        # is re-sent after the lease (dead when it has outlived too many workers); "ok" is done.
        attempts, expiries, deliveries, status = 1, 0, 0, ""
        for step in script:
            deliveries += 1
            if step == "ok":
                status = "done"
                break
            if step == "crash":
                expiries += 1
                if expiries > max_expiries:
                    status = "dead"
                    break
            elif attempts >= max_attempts:
                status = "dead"
                break
            else:
                attempts += 1
        action = store.action_by_key(key)
        assert action is not None and status, (key, script)
        assert (action.status, action.attempts, action.lease_expiries) == (status, attempts, expiries), (
            key,
            script,
        )
        assert receiver.deliveries[key] == deliveries
        assert receiver.effects[key] == (1 if {"ok", "crash"} & set(script[:deliveries]) else 0)


def test_a_worker_crash_does_not_cost_its_batch_mates_an_attempt() -> None:
    clock = ManualClock(T0)
    store = SQLiteRepository(":memory:")
    store.create_case(Case(0, "c", "13800000001", "open", "hour", None, "r", T0, T0, T0, 0.5))
    for key in ("poison", "innocent"):
        store.enqueue_action(NewAction(1, "officer_alert", key, {}, T0), T0)
    receiver = ScriptedReceiver({"poison": ["crash"] * 10, "innocent": ["ok"]})
    settings_ = OutboxSettings(lease=timedelta(seconds=30), max_attempts=1, max_lease_expiries=2)
    for _restart in range(10):
        try:
            Dispatcher(store, {"officer_alert": receiver}, clock, settings_, batch_size=2).run_until_idle()
            break
        except WorkerCrash:
            continue
    innocent, poison = store.action_by_key("innocent"), store.action_by_key("poison")
    assert (innocent.status, innocent.attempts, receiver.deliveries["innocent"]) == ("done", 1, 1)
    assert (poison.status, poison.lease_expiries, receiver.deliveries["poison"]) == ("dead", 3, 3)
    assert "workers died holding it" in (poison.last_error or "")
