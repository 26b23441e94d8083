"""The agents' desk over the store: case queue, case detail, claim, call, outcome, stop-payment, audit.

A case is *assigned* to the agent who last claimed it (a ``claimed`` case event; a ``released``
event un-assigns it), so assignment lives in the case's own timeline and needs no extra table.
Agents see phone numbers masked unless the case is assigned to them. Every agent and admin
action is written to the store's audit log in the same transaction as its effect.

>>> from datetime import datetime, timezone
>>> from fraud_brain.actions import ManualClock, Orchestrator, decision_frame
>>> from fraud_brain.store import SQLiteRepository
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> store = SQLiteRepository(":memory:")
>>> _ = Orchestrator(store, clock=ManualClock(t)).ingest(decision_frame([{"event_id": "c1", "time": t, "victim_key": "13800000001"}]))
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

from datetime import datetime
from typing import Any

import orjson
import polars as pl

from fraud_brain.actions.adapters.simulators import AGENT_DISPOSITIONS
from fraud_brain.actions.clock import Clock, SystemClock
from fraud_brain.actions.orchestrator import Orchestrator
from fraud_brain.api.auth import Principal
from fraud_brain.api.masking import mask_phone, mask_value
from fraud_brain.store.base import Repository
from fraud_brain.store.models import Alert, Case, NewAction

CASE_STATUSES = ("open", "closed")


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
    return f"{principal.role}:{principal.name}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class CaseDesk:
    """Case queue operations for agents, analysts and admins, backed by a :class:`Repository`."""

    def __init__(self, store: Repository, orchestrator: Orchestrator | None = None, clock: Clock | None = None):
        self.store = store
        self.clock = clock or SystemClock()
        self.orchestrator = orchestrator or Orchestrator(store, clock=self.clock)

    # -- reading ---------------------------------------------------------------------------
    def _case(self, case_id: int) -> Case:
        try:
            return self.store.get_case(case_id)
        except KeyError:
            raise DeskError(f"case {case_id} does not exist", 404) from None

    def assignees(self) -> dict[int, str]:
        """The current assignee of every assigned case."""
        events = self.store.table("case_events")
        if events.height == 0:
            return {}
        marks = events.filter(pl.col("kind").is_in(["claimed", "released"])).sort("case_event_id")
        out: dict[int, str] = {}
        for case_id, kind, detail in marks.select("case_id", "kind", "detail").iter_rows():
            if kind == "claimed":
                out[int(case_id)] = orjson.loads(detail)["agent"]
            else:
                out.pop(int(case_id), None)
        return out

    def assignee(self, case_id: int) -> str | None:
        """Who the case is assigned to, from its timeline."""
        who: str | None = None
        for _at, kind, detail in self.store.case_timeline(case_id):
            if kind == "claimed":
                who = detail.get("agent")
            elif kind == "released":
                who = None
        return who

    @staticmethod
    def masks_for(principal: Principal, assignee: str | None) -> bool:
        """True when ``principal`` must see this case's numbers masked.

        >>> CaseDesk.masks_for(Principal("bob", "agent"), "alice"), CaseDesk.masks_for(Principal("eve", "analyst"), None)
        (True, False)
        """
        return principal.role == "agent" and assignee != principal.name

    def list_cases(self, principal: Principal, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
        """The case queue, most urgent and most recent first (masked where the viewer may not see numbers)."""
        if status is not None and status not in CASE_STATUSES:
            raise DeskError(f"status {status!r} must be one of {list(CASE_STATUSES)}", 422)
        cases = self.store.table("cases")
        if cases.height == 0:
            return []
        if status is not None:
            cases = cases.filter(pl.col("status") == status)
        tier_rank = {"minute": 0, "hour": 1, "same_day": 2}
        cases = (
            cases.with_columns(pl.col("tier").replace_strict(tier_rank, default=3).alias("_rank"))
            .sort(["_rank", "last_alert_at"], descending=[False, True])
            .head(limit)
        )
        assignees = self.assignees()
        out = []
        for row in cases.iter_rows(named=True):
            who = assignees.get(int(row["case_id"]))
            masked = self.masks_for(principal, who)
            out.append({
                "case_id": int(row["case_id"]), "case_uid": row["case_uid"],
                "victim": mask_phone(row["victim_key"]) if masked else row["victim_key"],
                "victim_kind": row.get("victim_kind") or "phone",
                "status": row["status"], "tier": row["tier"], "typology": row["typology"], "rule": row["rule"],
                "max_score": float(row["max_score"]), "contact_state": row["contact_state"],
                "opened_at": _iso(row["opened_at"]), "last_alert_at": _iso(row["last_alert_at"]),
                "resolution": row["resolution"], "assignee": who, "masked": masked,
            })
        return out

    def case_detail(self, case_id: int, principal: Principal) -> dict[str, Any]:
        """One case with its alerts (reason sentences), timeline and actions; audited for agents and admins."""
        case = self._case(case_id)
        who = self.assignee(case_id)
        masked = self.masks_for(principal, who)
        alerts = [self._alert(a) for a in self.store.case_alerts(case_id)]
        timeline = [{"at": at.isoformat(), "kind": kind, "detail": detail} for at, kind, detail in self.store.case_timeline(case_id)]
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
            with self.store.transaction():
                self.store.audit(self.clock.now(), actor(principal), "view_case", case.case_uid, {"case_id": case_id, "masked": masked})
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
    def _require_assigned(self, case_id: int, principal: Principal) -> str | None:
        who = self.assignee(case_id)
        if principal.role == "agent" and who != principal.name:
            held = f"assigned to {who}" if who else "not assigned to anyone"
            raise DeskError(f"case {case_id} is {held}; claim it before acting on it", 403)
        return who

    def claim(self, case_id: int, principal: Principal, force: bool = False) -> dict[str, Any]:
        """Assign the case to the caller; a case held by another agent needs ``force`` (admins only)."""
        case = self._case(case_id)
        if case.status != "open":
            raise DeskError(f"case {case_id} is {case.status}; only open cases can be claimed", 409)
        now = self.clock.now()
        with self.store.transaction():
            who = self.assignee(case_id)
            held_by_another = who is not None and who != principal.name
            if held_by_another and not (force and principal.role == "admin"):
                raise DeskError(f"case {case_id} is already assigned to {who}", 409)
            if who != principal.name:
                self.store.add_case_event(case_id, now, "claimed", {"agent": principal.name, "previous": who})
                self.store.audit(now, actor(principal), "claim_case", case.case_uid, {"case_id": case_id, "previous": who})
        return {"case_id": case_id, "assignee": principal.name}

    def release(self, case_id: int, principal: Principal) -> dict[str, Any]:
        """Give a claimed case back to the queue."""
        case = self._case(case_id)
        now = self.clock.now()
        with self.store.transaction():
            who = self._require_assigned(case_id, principal)
            if who is not None:
                self.store.add_case_event(case_id, now, "released", {"agent": principal.name})
                self.store.audit(now, actor(principal), "release_case", case.case_uid, {"case_id": case_id, "was": who})
        return {"case_id": case_id, "assignee": None}

    def log_call(self, case_id: int, principal: Principal, note: str | None = None) -> dict[str, Any]:
        """Record that the agent is calling the victim; returns the number to dial.

        A case keyed by the payer's account (the bank sent no phone) has no number to dial.
        """
        case = self._case(case_id)
        now = self.clock.now()
        if not case.has_phone:
            raise DeskError(f"case {case_id}: no phone number is known for this victim (bank account "
                            f"{case.victim_key}); reach them through their bank", 409)
        with self.store.transaction():
            self._require_assigned(case_id, principal)
            self.store.add_case_event(case_id, now, "agent_call", {"agent": principal.name, "note": note})
            self.store.audit(now, actor(principal), "call_victim", case.case_uid, {"case_id": case_id})
        return {"case_id": case_id, "dial": case.victim_key}

    def record_outcome(self, case_id: int, principal: Principal, disposition: str, note: str | None = None) -> dict[str, Any]:
        """Record the agent's disposition (closes the case, makes labels) through the orchestrator."""
        if disposition not in AGENT_DISPOSITIONS:
            raise DeskError(f"case {case_id}: disposition {disposition!r} must be one of {list(AGENT_DISPOSITIONS)}", 422)
        case = self._case(case_id)
        if case.status != "open":
            raise DeskError(f"case {case_id} is already {case.status} ({case.resolution})", 409)
        self._require_assigned(case_id, principal)
        now = self.clock.now()
        report = self.orchestrator.record_agent_disposition(case_id, disposition, at=now, note=note)
        with self.store.transaction():
            self.store.audit(now, actor(principal), "record_outcome", case.case_uid,
                             {"case_id": case_id, "disposition": disposition, "note": note})
        after = self.store.get_case(case_id)
        return {"case_id": case_id, "status": after.status, "resolution": after.resolution,
                "labels": report.labels, "actions": dict(report.actions)}

    def request_stop_payment(self, case_id: int, principal: Principal, transfer_id: str | None = None) -> dict[str, Any]:
        """Queue an emergency stop-payment for a transfer in the case (the latest one by default).

        Uses the orchestrator's idempotency key and per-account limit, so an agent's request
        and the rules' automatic one never both go out.
        """
        case = self._case(case_id)
        self._require_assigned(case_id, principal)
        transfers = [a for a in self.store.case_alerts(case_id) if a.transfer_id and a.payee_account and a.amount]
        if transfer_id is not None:
            transfers = [a for a in transfers if a.transfer_id == transfer_id]
        if not transfers:
            which = f"transfer {transfer_id}" if transfer_id else "any transfer to a payee"
            raise DeskError(f"case {case_id} has no alert on {which}; nothing to stop", 409)
        alert = transfers[-1]
        policy = self.orchestrator.policy
        key = f"stop_payment:{alert.transfer_id}:{alert.payee_account}"
        now = self.clock.now()
        with self.store.transaction():
            if self.store.action_by_key(key) is not None:
                raise DeskError(f"case {case_id}: stop-payment for transfer {alert.transfer_id} was already requested", 409)
            used = self.store.count_actions("stop_payment", alert.payee_account)
            if used >= policy.stop_payment_max_per_account:
                raise DeskError(
                    f"case {case_id}: payee account {alert.payee_account} already had {used} stop-payment request(s) "
                    f"(limit {policy.stop_payment_max_per_account})", 409)
            payload = {
                "case_uid": case.case_uid, "victim": case.victim_key, "typology": case.typology,
                "payee_account": alert.payee_account, "payee_bank": alert.payee_bank, "amount": alert.amount,
                "transfer_id": alert.transfer_id, "hold_hours": policy.stop_payment_hold.total_seconds() / 3600,
                "requested_by": principal.name,
            }
            action_id = self.store.enqueue_action(
                NewAction(case_id, "stop_payment", key, payload, now, subject=alert.payee_account), now)
            self.store.add_case_event(case_id, now, "action_queued",
                                      {"kind": "stop_payment", "action_id": action_id, "reason": f"requested by {principal.name}",
                                       "due_at": now.isoformat()})
            self.store.audit(now, actor(principal), "request_stop_payment", case.case_uid,
                             {"case_id": case_id, "transfer_id": alert.transfer_id, "payee_account": alert.payee_account})
        return {"case_id": case_id, "action_id": action_id, "transfer_id": alert.transfer_id, "payee_account": alert.payee_account}

    def audit(self, principal: Principal, op: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        """Write one audit entry for ``principal`` now."""
        with self.store.transaction():
            self.store.audit(self.clock.now(), actor(principal), op, subject, detail)

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest audit entries, newest first."""
        log = self.store.table("audit_log")
        if log.height == 0:
            return []
        rows = log.sort("audit_id", descending=True).head(limit).iter_rows(named=True)
        return [{"audit_id": r["audit_id"], "at": _iso(r["at"]), "actor": r["actor"], "op": r["op"],
                 "subject": r["subject"], "detail": orjson.loads(r["detail"])} for r in rows]
