"""The agents' desk over HTTP: the case service's operations, masked and shaped for the API.

The rules of working a case (assignment, calls, outcomes, the stop-payment request) live in
:class:`fraud_brain.actions.cases.CaseService`; the desk decides what a viewer may see (agents
see phone numbers masked unless the case is assigned to them), shapes the answers, and maps
the service's errors to HTTP statuses (:class:`DeskError`).

>>> from datetime import datetime, timezone
>>> from fraud_brain.actions import ManualClock, Orchestrator, decision_frame
>>> from fraud_brain.store import SQLiteRepository
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> store = SQLiteRepository(":memory:")
>>> first = decision_frame([{"event_id": "c1", "time": t, "victim_key": "13800000001"}])
>>> _ = Orchestrator(store, clock=ManualClock(t)).ingest(first)
>>> desk = CaseDesk(store, clock=ManualClock(t))
>>> alice = Principal("alice", "agent")
>>> desk.list_cases(alice)[0]["victim"]
'138****0001'
>>> desk.claim(1, alice)["assignee"]
'alice'
>>> desk.list_cases(alice)[0]["victim"]
'13800000001'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from fraud_brain.actions.cases import (
    CaseConflictError,
    CaseService,
    NotAssignedError,
    UnknownCaseError,
    actor_label,
)
from fraud_brain.actions.clock import Clock
from fraud_brain.actions.orchestrator import Orchestrator
from fraud_brain.api.auth import Principal
from fraud_brain.api.masking import mask_phone, mask_value
from fraud_brain.errors import ConflictError, InputError
from fraud_brain.store.base import Repository
from fraud_brain.store.models import Alert, Case

T = TypeVar("T")


class DeskError(Exception):
    """A desk request that cannot be done; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def actor(principal: Principal) -> str:
    """How a principal appears in the audit log.

    >>> actor(Principal("alice", "agent"))
    'agent:alice'
    """
    return actor_label(principal)


@contextmanager
def _statuses() -> Iterator[None]:
    """The case service's errors as HTTP statuses."""
    try:
        yield
    except UnknownCaseError as error:
        raise DeskError(str(error), 404) from None
    except NotAssignedError as error:
        raise DeskError(str(error), 403) from None
    except (CaseConflictError, ConflictError) as error:
        raise DeskError(str(error), 409) from None
    except InputError as error:
        raise DeskError(str(error), 422) from None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class CaseDesk:
    """The case queue for agents, analysts and admins, over a :class:`CaseService`."""

    def __init__(self, store: Repository, orchestrator: Orchestrator | None = None, clock: Clock | None = None,
                 *, cases: CaseService | None = None):
        self.cases = cases or CaseService(store, orchestrator, clock)
        self.store = self.cases.store
        self.clock = self.cases.clock

    @property
    def orchestrator(self) -> Orchestrator:
        """The workflow the desk's cases live in (decisions from outside go through it)."""
        return self.cases.orchestrator

    @staticmethod
    def _run(fn: Callable[[], T]) -> T:
        with _statuses():
            return fn()

    def assignee(self, case_id: int) -> str | None:
        """Who the case is assigned to, from its timeline."""
        return self.cases.assignee(case_id)

    @staticmethod
    def masks_for(principal: Principal, assignee: str | None) -> bool:
        """True when ``principal`` must see this case's numbers masked.

        >>> CaseDesk.masks_for(Principal("bob", "agent"), "alice")
        True
        >>> CaseDesk.masks_for(Principal("eve", "analyst"), None)
        False
        """
        return principal.role == "agent" and assignee != principal.name

    def list_cases(self, principal: Principal, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
        """The case queue, most urgent and most recent first (masked where the viewer may not see numbers)."""
        out = []
        for case, who in self._run(lambda: self.cases.page(status, limit)):
            masked = self.masks_for(principal, who)
            out.append({
                "case_id": case.case_id, "case_uid": case.case_uid,
                "victim": mask_phone(case.victim_key) if masked else case.victim_key,
                "victim_kind": case.victim_kind,
                "status": case.status, "tier": case.tier, "typology": case.typology, "rule": case.rule,
                "max_score": float(case.max_score), "contact_state": case.contact_state,
                "opened_at": _iso(case.opened_at), "last_alert_at": _iso(case.last_alert_at),
                "resolution": case.resolution, "assignee": who, "masked": masked,
            })
        return out

    def case_detail(self, case_id: int, principal: Principal) -> dict[str, Any]:
        """One case with its alerts (reason sentences), timeline and actions; audited for agents and admins."""
        case: Case = self._run(lambda: self.cases.get(case_id))
        who = self.cases.assignee(case_id)
        masked = self.masks_for(principal, who)
        alerts = [self._alert(a) for a in self.cases.alerts(case_id)]
        timeline = [
            {"at": at.isoformat(), "kind": kind, "detail": detail}
            for at, kind, detail in self.store.case_timeline(case_id)
        ]
        actions = [
            {"action_id": a.action_id, "kind": a.kind, "status": a.status, "attempts": a.attempts,
             "created_at": _iso(a.created_at), "done_at": _iso(a.done_at), "outcome": a.outcome, "payload": a.payload}
            for a in self.store.case_actions(case_id)
        ]
        detail: dict[str, Any] = {
            "case_id": case.case_id, "case_uid": case.case_uid, "victim": case.victim_key,
            "victim_kind": case.victim_kind, "status": case.status, "tier": case.tier, "typology": case.typology,
            "rule": case.rule, "max_score": case.max_score,
            "contact_state": case.contact_state, "opened_at": _iso(case.opened_at),
            "last_alert_at": _iso(case.last_alert_at), "closed_at": _iso(case.closed_at),
            "resolution": case.resolution, "assignee": who, "alerts": alerts, "timeline": timeline, "actions": actions,
        }
        if masked:
            detail = mask_value(detail)
            detail["case_uid"] = case.case_uid
        detail["masked"] = masked
        if principal.role in ("agent", "admin"):
            self.cases.audit(principal, "view_case", case.case_uid, {"case_id": case_id, "masked": masked})
        return detail

    @staticmethod
    def _alert(alert: Alert) -> dict[str, Any]:
        return {
            "alert_id": alert.alert_id, "event_id": alert.event_id, "time": _iso(alert.time), "rule": alert.rule,
            "tier": alert.tier, "score": alert.score, "reasons": list(alert.reasons), "typology": alert.typology,
            "transfer_id": alert.transfer_id, "payee_account": alert.payee_account, "payee_bank": alert.payee_bank,
            "amount": alert.amount, "entity_key": alert.entity_key,
        }

    # -- acting ----------------------------------------------------------------------------
    def claim(self, case_id: int, principal: Principal, force: bool = False) -> dict[str, Any]:
        """Assign the case to the caller; a case held by another agent needs ``force`` (admins only)."""
        self._run(lambda: self.cases.claim(case_id, principal, force))
        return {"case_id": case_id, "assignee": principal.name}

    def release(self, case_id: int, principal: Principal) -> dict[str, Any]:
        """Give a claimed case back to the queue."""
        self._run(lambda: self.cases.release(case_id, principal))
        return {"case_id": case_id, "assignee": None}

    def log_call(self, case_id: int, principal: Principal, note: str | None = None) -> dict[str, Any]:
        """Record that the agent is calling the victim; returns the number to dial."""
        return {"case_id": case_id, "dial": self._run(lambda: self.cases.log_call(case_id, principal, note))}

    def record_outcome(
        self, case_id: int, principal: Principal, disposition: str, note: str | None = None,
    ) -> dict[str, Any]:
        """Record the agent's disposition (closes the case, makes labels)."""
        report = self._run(lambda: self.cases.record_outcome(case_id, principal, disposition, note))
        after = self.store.get_case(case_id)
        return {"case_id": case_id, "status": after.status, "resolution": after.resolution,
                "labels": report.labels, "actions": dict(report.actions)}

    def request_stop_payment(
        self, case_id: int, principal: Principal, transfer_id: str | None = None,
    ) -> dict[str, Any]:
        """Queue an emergency stop-payment for a transfer in the case (the latest one by default)."""
        queued = self._run(lambda: self.cases.request_stop_payment(case_id, principal, transfer_id))
        return {"case_id": case_id, "action_id": queued.action_id, "transfer_id": queued.transfer_id,
                "payee_account": queued.payee_account}

    def audit(self, principal: Principal, op: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        """Write one audit entry for ``principal`` now."""
        self.cases.audit(principal, op, subject, detail)

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest audit entries, newest first."""
        return [{"audit_id": e.audit_id, "at": _iso(e.at), "actor": e.actor, "op": e.op, "subject": e.subject,
                 "detail": e.detail} for e in self.cases.audit_log(limit)]
