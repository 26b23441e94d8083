"""The case service: the rules of working a case (queue, assignment, calls, outcomes, stop-payment).

A case is *assigned* to the agent who last claimed it (a ``claimed`` case event; a ``released``
event un-assigns it), so assignment lives in the case's own timeline and needs no extra table.
Only the assignee (or an admin) acts on a case; an admin may take a case held by another agent.
Every act is written to the audit log in the same transaction as its effect. The API's desk
presents these operations over HTTP; the orchestrator shares the stop-payment rule
(:mod:`fraud_brain.actions.stop_payment`), so an agent's request and the rules' request for one
transfer never both go out.

>>> from datetime import datetime, timezone
>>> from fraud_brain.actions.clock import ManualClock
>>> from fraud_brain.actions.decisions import decision_frame
>>> from fraud_brain.store import SQLiteRepository
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> cases = CaseService(SQLiteRepository(":memory:"), clock=ManualClock(t))
>>> _ = cases.orchestrator.ingest(decision_frame([{"event_id": "c1", "time": t, "victim_key": "13800000001"}]))
>>> alice = Agent("alice", "agent")
>>> cases.claim(1, alice)
>>> [(case.case_id, who) for case, who in cases.page("open")]
[(1, 'alice')]
>>> cases.log_call(1, alice)
'13800000001'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fraud_brain.actions.clock import Clock, SystemClock
from fraud_brain.actions.orchestrator import Orchestrator, TickReport
from fraud_brain.errors import ConflictError, FraudBrainError, InputError, MissingInputError
from fraud_brain.store.base import Repository
from fraud_brain.store.models import Alert, AuditEntry, Case
from fraud_brain.vocabulary import AGENT_DISPOSITIONS, CASE_STATUSES


class Actor(Protocol):
    """Whoever works a case: a name and a role (an API key's principal is one)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True)
class Agent:
    """A plain :class:`Actor` (the CLI's, the tests')."""

    name: str
    role: str = "agent"


class UnknownCaseError(MissingInputError):
    """The case id names no case."""


class NotAssignedError(FraudBrainError):
    """The case is not assigned to the agent acting on it (the API answers 403)."""


class CaseConflictError(ConflictError):
    """The case's state forbids the act: closed, held by another agent, stop-payment already asked."""


def actor_label(actor: Actor) -> str:
    """How an actor appears in the audit log.

    >>> actor_label(Agent("alice"))
    'agent:alice'
    """
    return f"{actor.role}:{actor.name}"


@dataclass(frozen=True)
class StopPaymentQueued:
    """A stop-payment an agent asked for: the outbox action and the transfer it stops."""

    case_id: int
    action_id: int
    transfer_id: str
    payee_account: str


class CaseService:
    """Case operations for agents, analysts and admins over a :class:`Repository`."""

    def __init__(self, store: Repository, orchestrator: Orchestrator | None = None, clock: Clock | None = None):
        self.store = store
        self.clock: Clock = clock or (orchestrator.clock if orchestrator is not None else SystemClock())
        self.orchestrator = orchestrator or Orchestrator(store, clock=self.clock)

    # -- reading ---------------------------------------------------------------------------
    def get(self, case_id: int) -> Case:
        """A case by id; :class:`UnknownCaseError` if there is none."""
        try:
            return self.store.get_case(case_id)
        except KeyError:
            raise UnknownCaseError(f"case {case_id} does not exist") from None

    def assignee(self, case_id: int) -> str | None:
        """Who the case is assigned to, from its timeline."""
        return self.store.case_assignees([case_id]).get(case_id)

    def page(self, status: str | None = "open", limit: int = 100) -> list[tuple[Case, str | None]]:
        """A page of the queue (most urgent tier, then latest alert first), each case with its assignee."""
        if status is not None and status not in CASE_STATUSES:
            raise InputError(f"status {status!r} must be one of {list(CASE_STATUSES)}")
        cases = self.store.case_page(status, limit)
        assignees = self.store.case_assignees([c.case_id for c in cases])
        return [(case, assignees.get(case.case_id)) for case in cases]

    def alerts(self, case_id: int) -> list[Alert]:
        """The alerts of a case in time order."""
        return self.store.case_alerts(case_id)

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The latest audit entries, newest first."""
        return self.store.audit_entries(limit)

    # -- acting ----------------------------------------------------------------------------
    def audit(self, actor: Actor, op: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        """Write one audit entry for ``actor`` now."""
        with self.store.transaction():
            self.store.audit(self.clock.now(), actor_label(actor), op, subject, detail)

    def _require_assigned(self, case_id: int, actor: Actor) -> str | None:
        who = self.assignee(case_id)
        if actor.role == "agent" and who != actor.name:
            held = f"assigned to {who}" if who else "not assigned to anyone"
            raise NotAssignedError(f"case {case_id} is {held}; claim it before acting on it")
        return who

    def claim(self, case_id: int, actor: Actor, force: bool = False) -> None:
        """Assign the case to ``actor``; a case held by another agent needs ``force`` (admins only)."""
        case = self.get(case_id)
        if case.status != "open":
            raise CaseConflictError(f"case {case_id} is {case.status}; only open cases can be claimed")
        now = self.clock.now()
        with self.store.transaction():
            who = self.assignee(case_id)
            if who is not None and who != actor.name and not (force and actor.role == "admin"):
                raise CaseConflictError(f"case {case_id} is already assigned to {who}")
            if who != actor.name:
                self.store.add_case_event(case_id, now, "claimed", {"agent": actor.name, "previous": who})
                self.store.audit(
                    now, actor_label(actor), "claim_case", case.case_uid, {"case_id": case_id, "previous": who}
                )

    def release(self, case_id: int, actor: Actor) -> None:
        """Give a claimed case back to the queue."""
        case = self.get(case_id)
        now = self.clock.now()
        with self.store.transaction():
            who = self._require_assigned(case_id, actor)
            if who is not None:
                self.store.add_case_event(case_id, now, "released", {"agent": actor.name})
                self.store.audit(
                    now, actor_label(actor), "release_case", case.case_uid, {"case_id": case_id, "was": who}
                )

    def log_call(self, case_id: int, actor: Actor, note: str | None = None) -> str:
        """Record that the agent is calling the victim; returns the number to dial.

        A case keyed by the payer's account (the bank sent no phone) has no number to dial.
        """
        case = self.get(case_id)
        if not case.has_phone:
            raise CaseConflictError(f"case {case_id}: no phone number is known for this victim (bank account "
                                    f"{case.victim_key}); reach them through their bank")
        now = self.clock.now()
        with self.store.transaction():
            self._require_assigned(case_id, actor)
            self.store.add_case_event(case_id, now, "agent_call", {"agent": actor.name, "note": note})
            self.store.audit(now, actor_label(actor), "call_victim", case.case_uid, {"case_id": case_id})
        return case.victim_key

    def record_outcome(self, case_id: int, actor: Actor, disposition: str, note: str | None = None) -> TickReport:
        """Record the agent's disposition: closes the case and makes labels (through the orchestrator)."""
        if disposition not in AGENT_DISPOSITIONS:
            raise InputError(f"case {case_id}: disposition {disposition!r} must be one of {list(AGENT_DISPOSITIONS)}")
        case = self.get(case_id)
        if case.status != "open":
            raise CaseConflictError(f"case {case_id} is already {case.status} ({case.resolution})")
        self._require_assigned(case_id, actor)
        now = self.clock.now()
        report = self.orchestrator.record_agent_disposition(case_id, disposition, at=now, note=note)
        with self.store.transaction():
            self.store.audit(now, actor_label(actor), "record_outcome", case.case_uid,
                             {"case_id": case_id, "disposition": disposition, "note": note})
        return report

    def request_stop_payment(self, case_id: int, actor: Actor, transfer_id: str | None = None) -> StopPaymentQueued:
        """Queue an emergency stop-payment for a transfer in the case (its latest one by default),
        under the same rule as the rules' automatic request (one per transfer, a per-account limit)."""
        case = self.get(case_id)
        self._require_assigned(case_id, actor)
        transfers = [a for a in self.store.case_alerts(case_id) if a.transfer_id and a.payee_account and a.amount]
        if transfer_id is not None:
            transfers = [a for a in transfers if a.transfer_id == transfer_id]
        if not transfers:
            which = f"transfer {transfer_id}" if transfer_id else "any transfer to a payee"
            raise CaseConflictError(f"case {case_id} has no alert on {which}; nothing to stop")
        alert = transfers[-1]
        assert alert.transfer_id is not None and alert.payee_account is not None
        now: datetime = self.clock.now()
        with self.store.transaction():
            action_id, verdict = self.orchestrator.request_stop_payment(
                case, alert, now, f"requested by {actor.name}", requested_by=actor.name
            )
            if action_id is None:
                # Raising rolls the refusal's timeline entry back: the agent is told instead.
                why = verdict.message if verdict is not None else "refused"
                raise CaseConflictError(f"case {case_id}: {why}")
            self.store.audit(now, actor_label(actor), "request_stop_payment", case.case_uid,
                             {"case_id": case_id, "transfer_id": alert.transfer_id,
                              "payee_account": alert.payee_account})
        return StopPaymentQueued(case_id, action_id, alert.transfer_id, alert.payee_account)
