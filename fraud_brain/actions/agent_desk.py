"""A simulated call-center desk: agents pick up queued cases after a realistic delay and record a disposition.

Pick-up delays are log-normal (median about 6 minutes, a long tail that breaches the
minute-tier SLA now and then); dispositions lean towards "prevented" for high-score cases and
"false alarm" for low ones. Draws are seeded per task, so a replay is reproducible.

>>> desk = SimulatedAgentDesk(seed=3)
>>> desk.pickup_delay(1) == desk.pickup_delay(1)
True
>>> desk.disposition(1, 0.95) in ("prevented", "victim_confirmed_scam", "false_alarm", "unreachable")
True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from fraud_brain.actions.orchestrator import Orchestrator
from fraud_brain.vocabulary import AGENT_DISPOSITIONS


@dataclass
class SimulatedAgentDesk:
    """Human agents working the queue of a :class:`~fraud_brain.actions.orchestrator.Orchestrator`."""

    seed: int = 0
    median_pickup_minutes: float = 6.0
    pickup_sigma: float = 0.6

    def _rng(self, task_id: int, salt: str) -> random.Random:
        return random.Random(f"{self.seed}:{salt}:{task_id}")

    def pickup_delay(self, task_id: int) -> timedelta:
        """How long task ``task_id`` waits before an agent takes it."""
        draw = self._rng(task_id, "pickup").lognormvariate(
            math.log(self.median_pickup_minutes), self.pickup_sigma
        )
        return timedelta(minutes=draw)

    def disposition(self, task_id: int, score: float) -> str:
        """The disposition an agent records for a case with this risk score."""
        fraud = 0.25 + 0.6 * min(max(score, 0.0), 1.0)
        weights = (fraud * 0.65, fraud * 0.35, (1 - fraud) * 0.8, 0.12)
        return self._rng(task_id, "disposition").choices(AGENT_DISPOSITIONS, weights=weights)[0]

    def work(self, orchestrator: Orchestrator, now: datetime) -> int:
        """Record dispositions for every queued task whose pick-up time has come; return how many."""
        handled = 0
        for task in orchestrator.store.open_agent_tasks():
            picked_up = task.created_at + self.pickup_delay(task.task_id)
            if picked_up > now:
                continue
            case = orchestrator.store.get_case(task.case_id)
            orchestrator.record_agent_disposition(
                task.case_id,
                self.disposition(task.task_id, case.max_score),
                at=picked_up,
                note="simulated agent",
            )
            handled += 1
        return handled
