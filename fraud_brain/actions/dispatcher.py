"""The outbox worker: lease due actions, deliver them through adapters, record the answers.

An action is marked done only after its adapter succeeded, in the same transaction that
records the outcome. A worker that dies mid-delivery leaves the action in flight; once its
lease expires any worker claims it again and re-sends it with the same idempotency key.
Delivery is therefore at least once, and receivers that apply each key once make the
effect exactly once.

>>> from datetime import datetime, timezone
>>> import polars as pl
>>> from fraud_brain.actions.adapters import simulated_adapters
>>> from fraud_brain.actions.clock import ManualClock
>>> from fraud_brain.actions.orchestrator import Orchestrator
>>> from fraud_brain.store import SQLiteRepository
>>> clock = ManualClock(datetime(2026, 3, 1, 9, tzinfo=timezone.utc))
>>> store = SQLiteRepository(":memory:")
>>> _ = Orchestrator(store, clock=clock).ingest(pl.DataFrame({"event_id": ["c1"], "time": [clock.now()],
...     "rule": ["r"], "priority": [1], "tier": ["hour"], "actions": [["officer_alert"]], "victim_key": ["138001"],
...     "entity_key": [None], "typology": [None], "mode": ["active"], "score": [0.5], "reasons": [[]]}))
>>> Dispatcher(store, simulated_adapters(), clock=clock).run_once().done
1
>>> store.action_status_counts()
{'done': 1}
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fraud_brain.actions.adapters.base import Adapter, AdapterResult
from fraud_brain.actions.clock import Clock, SystemClock
from fraud_brain.actions.policy import OutboxSettings
from fraud_brain.store.base import Repository
from fraud_brain.store.models import Action, Outcome


@dataclass
class DispatchReport:
    """What one or more dispatch rounds did.

    >>> total = DispatchReport(done=1); total.add(DispatchReport(done=2, dead=1)); (total.done, total.dead)
    (3, 1)
    """

    claimed: int = 0
    done: int = 0
    retrying: int = 0
    dead: int = 0
    lost_lease: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, other: DispatchReport) -> None:
        """Fold another report into this one."""
        self.claimed += other.claimed
        self.done += other.done
        self.retrying += other.retrying
        self.dead += other.dead
        self.lost_lease += other.lost_lease
        self.outcomes.update(other.outcomes)


class Dispatcher:
    """Delivers outbox actions through one adapter per action kind.

    ``settings`` sets the lease (how long a claimed action is reserved for this worker) and
    the retry schedule (exponential backoff with jitter, then ``dead``).

    >>> from fraud_brain.store import SQLiteRepository
    >>> Dispatcher(SQLiteRepository(":memory:"), {}).run_once().claimed
    0
    """

    def __init__(
        self,
        store: Repository,
        adapters: Mapping[str, Adapter],
        clock: Clock | None = None,
        settings: OutboxSettings | None = None,
        *,
        batch_size: int = 20,
        seed: int | None = None,
    ):
        self.store = store
        self.adapters = dict(adapters)
        self.clock = clock or SystemClock()
        self.settings = settings or OutboxSettings()
        self.batch_size = batch_size
        self._rng = random.Random(seed)

    def run_once(self, now: datetime | None = None) -> DispatchReport:
        """Claim one batch of due actions and deliver each; return what happened."""
        now = now or self.clock.now()
        token = uuid.uuid4().hex
        report = DispatchReport()
        claimed = self.store.claim_actions(now, now + self.settings.lease, token, self.batch_size)
        report.claimed = len(claimed)
        for action in claimed:
            self._deliver(action, token, report)
        return report

    def _deliver(self, action: Action, token: str, report: DispatchReport) -> None:
        adapter = self.adapters.get(action.kind)
        if action.lease_expiries > self.settings.max_lease_expiries:
            # An action whose workers keep dying while holding it is probably what kills them.
            result = AdapterResult.failure(
                f"action {action.action_id}: {action.lease_expiries} workers died holding it; giving up "
                "(the receiver may have applied it)",
                retryable=False,
            )
        elif adapter is None:
            result = AdapterResult.failure(
                f"action {action.action_id}: no adapter for kind {action.kind!r}", retryable=False
            )
        else:
            try:
                result = adapter.send(action)
            except Exception as exc:  # an adapter bug must not stop the outbox; it is retried.
                result = AdapterResult.failure(
                    f"action {action.action_id} ({action.kind}): adapter raised {exc!r}"
                )
        now = self.clock.now()
        if result.ok:
            outcome = Outcome(
                key=f"{action.idempotency_key}:result",
                case_id=action.case_id,
                source=action.kind,
                outcome=result.outcome,
                at=now,
                action_id=action.action_id,
                detail=result.detail,
                amount_held=result.amount_held,
            )
            if self.store.complete_action(action.action_id, token, outcome, now):
                report.done += 1
                report.outcomes[f"{action.kind}:{result.outcome}"] += 1
            else:
                report.lost_lease += 1
            return
        give_up = not result.retryable or action.attempts >= self.settings.max_attempts
        retry_at = None if give_up else now + self.settings.backoff(action.attempts, self._rng.random())
        with self.store.transaction():
            if not self.store.fail_action(action.action_id, token, result.error or "failed", now, retry_at):
                report.lost_lease += 1
                return
            if give_up:
                self.store.add_case_event(
                    action.case_id,
                    now,
                    "action_dead",
                    {"kind": action.kind, "action_id": action.action_id, "error": result.error},
                )
                self.store.audit(
                    now,
                    "dispatcher",
                    "action_dead",
                    action.idempotency_key,
                    {"attempts": action.attempts, "error": result.error},
                )
        if give_up:
            report.dead += 1
        else:
            report.retrying += 1

    def run_until_idle(
        self, *, max_wait: timedelta = timedelta(hours=1), max_rounds: int = 100_000
    ) -> DispatchReport:
        """Deliver until no action is unfinished, sleeping (on the clock) until the next one is due.

        Stops early when the next due action is more than ``max_wait`` away (e.g. a re-dial
        scheduled for later: the caller's loop will come back for it).
        """
        total = DispatchReport()
        for _ in range(max_rounds):
            report = self.run_once()
            total.add(report)
            if report.claimed:
                continue
            wake = self.store.next_wakeup()
            if wake is None:
                break
            wait = (wake - self.clock.now()).total_seconds()
            if wait > max_wait.total_seconds():
                break
            self.clock.sleep(max(wait, 0.0) + 0.001)
        return total
