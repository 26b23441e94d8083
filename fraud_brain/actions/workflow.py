"""Replay decisions through the whole action workflow on a manual clock: ingest, tick, dispatch, agents.

>>> from datetime import datetime, timezone
>>> import polars as pl
>>> from fraud_brain.store import SQLiteRepository
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> decisions = pl.DataFrame({"event_id": ["c1"], "time": [t], "rule": ["r"], "priority": [1],
...     "tier": ["minute"], "actions": [["voice_bot"]], "victim_key": ["138001"], "entity_key": [None],
...     "typology": ["fake_loan"], "mode": ["active"], "score": [0.95], "reasons": [[]],
...     "payee_account": ["M1"], "payee_bank": ["B"], "amount": [900.0], "transfer_id": ["T1"]})
>>> result = replay(decisions, SQLiteRepository(":memory:"), seed=1)
>>> sorted(result.dispatched.outcomes)[0].split(":")[0]
'agent_followup'
>>> result.store.action_status_counts()["done"] >= 4
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from fraud_brain.actions.adapters.base import Adapter
from fraud_brain.actions.adapters.simulators import simulated_adapters
from fraud_brain.actions.agent_desk import SimulatedAgentDesk
from fraud_brain.actions.clock import ManualClock
from fraud_brain.actions.dispatcher import Dispatcher, DispatchReport
from fraud_brain.actions.labels import TELECOM_LABELS, LabelEntities
from fraud_brain.actions.orchestrator import IngestReport, Orchestrator
from fraud_brain.actions.policy import EscalationPolicy
from fraud_brain.store.base import Repository


@dataclass
class ReplayResult:
    """The store after a replay, and what each part did (see :func:`replay`)."""

    store: Repository
    ingested: IngestReport = field(default_factory=IngestReport)
    dispatched: DispatchReport = field(default_factory=DispatchReport)
    steps: int = 0
    ended_at: datetime | None = None


def replay(
    decisions: pl.DataFrame,
    store: Repository,
    *,
    policy: EscalationPolicy | None = None,
    adapters: dict[str, Adapter] | None = None,
    desk: SimulatedAgentDesk | None = None,
    seed: int = 0,
    step: timedelta = timedelta(minutes=1),
    drain: timedelta = timedelta(hours=6),
    progress: Callable[[int, int], None] | None = None,
    districts: Mapping[str, str] | None = None,
    labels: LabelEntities = TELECOM_LABELS,
) -> ReplayResult:
    """Run decisions through the workflow in event-time order, then let timers run out for ``drain``.

    Each step of simulated time ingests the decisions made in it, reacts to outcomes, delivers
    due actions and lets simulated agents work. ``progress(done, total)`` is told how many
    decisions have been ingested; ``districts`` (victim phone → district) addresses officer alerts;
    ``labels`` are the feature spec's label entity types the outcomes are written as.
    """
    result = ReplayResult(store=store)
    if decisions.height == 0:
        return result
    ordered = decisions.sort("time", maintain_order=True)
    times = ordered["time"].to_list()
    first = min(times)
    clock = ManualClock(first)
    orchestrator = Orchestrator(store, policy, clock, districts, labels)
    dispatcher = Dispatcher(
        store, adapters or simulated_adapters(seed), clock, orchestrator.policy.outbox, seed=seed
    )
    desk = desk or SimulatedAgentDesk(seed=seed)
    end = max(times) + drain
    index, total = 0, ordered.height
    while True:
        now = clock.now()
        start = index
        while index < total and times[index] <= now:
            index += 1
        if index > start:
            batch = orchestrator.ingest(ordered.slice(start, index - start), now)
            _fold_ingest(result.ingested, batch)
            if progress is not None:
                progress(index, total)
        for _ in range(50):
            orchestrator.tick(now)
            report = dispatcher.run_once(now)
            result.dispatched.add(report)
            desk.work(orchestrator, now)
            if not report.claimed and not store.unhandled_outcomes(limit=1):
                break
        result.steps += 1
        if index >= total and (now >= end or _idle(store)):
            break
        clock.advance(step)
    result.ended_at = clock.now()
    return result


def _idle(store: Repository) -> bool:
    return (
        store.next_wakeup() is None and not store.open_agent_tasks() and not store.unhandled_outcomes(limit=1)
    )


def _fold_ingest(total: IngestReport, batch: IngestReport) -> None:
    total.alerts += batch.alerts
    total.duplicates += batch.duplicates
    total.shadow += batch.shadow
    total.cases_opened += batch.cases_opened
    total.cases_joined += batch.cases_joined
    total.cases_reopened += batch.cases_reopened
    total.actions.update(batch.actions)
    total.suppressed += batch.suppressed
    total.rejected.extend(batch.rejected)
