"""The orchestrator: decisions in, cases and outbox actions out, escalated as outcomes come back.

One case per victim episode: a decision joins the victim's latest case when it comes within
the episode gap, so a burst of alerts for one scam makes one case with one timeline and one
bot-call ladder. Bot failures (no answer, busy, not convinced) re-dial every few minutes, then
hand over to a human agent whose SLA, when breached, alerts the community officer. Highest-risk
decisions fan out to every action at once. Every action is written to the outbox in the same
transaction as the alert and case change that caused it; the dispatcher delivers it later.

A decision's victim is a phone number or, for a transfer whose bank sent no payer phone, the
payer's account (``victim_kind``); cases are keyed by both. An account victim's case gets
everything that needs no phone (the bank's stop-payment, the officer alert, number reviews),
never a call (:data:`PHONE_CONTACT_KINDS`), and its timeline says why; agents still see and
work it in the desk. A decision with neither is refused, counted and written to the audit log.

>>> from datetime import datetime, timezone
>>> import polars as pl
>>> from fraud_brain.actions.clock import ManualClock
>>> from fraud_brain.store import SQLiteRepository
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> orch = Orchestrator(SQLiteRepository(":memory:"), clock=ManualClock(t))
>>> frame = pl.DataFrame({"event_id": ["c1", "c2"], "time": [t, t], "rule": ["long_call", "long_call"],
...     "priority": [1, 1], "tier": ["hour", "hour"], "actions": [["voice_bot"], ["voice_bot"]],
...     "victim_key": ["13800000001"] * 2, "entity_key": ["17000000009"] * 2, "typology": [None, None],
...     "mode": ["active"] * 2, "score": [0.7, 0.8], "reasons": [["long call"], ["long call"]]})
>>> report = orch.ingest(frame)
>>> report.cases_opened, report.cases_joined, dict(report.actions)
(1, 1, {'voice_bot': 1})
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from fraud_brain.actions import stop_payment
from fraud_brain.actions.clock import Clock, SystemClock
from fraud_brain.actions.decisions import REQUIRED_COLUMNS, DecisionError, NoVictimError
from fraud_brain.actions.labels import (
    TELECOM_LABELS,
    LabelEntities,
    is_suspect_number,
    labels_from_bank,
    labels_from_disposition,
)
from fraud_brain.actions.policy import EscalationPolicy, PolicyError, load_policy
from fraud_brain.actions.stop_payment import Verdict
from fraud_brain.store.base import Repository
from fraud_brain.store.models import Action, Alert, Case, NewAction, Outcome
from fraud_brain.vocabulary import (
    ACTION_KINDS,
    AGENT_DISPOSITIONS,
    BOT_ANSWERED,
    BOT_FAILURES,
    MODES,
    PHONE_CONTACT_KINDS,
    TIER_RANK,
    TIERS,
    VICTIM_KINDS,
)

_CONTACT_KINDS = ("voice_bot", "agent_followup", "officer_alert")
FAN_OUT_KINDS = ("voice_bot", "agent_followup", "stop_payment", "officer_alert")
"""What a highest-risk decision gets at once (stop-payment only when it names a transfer)."""
NO_PHONE_WHY = "no phone number for the victim: contact skipped"
"""What a case timeline says when a call to the victim was wanted but no number is known."""


@dataclass
class IngestReport:
    """What one :meth:`Orchestrator.ingest` call did.

    >>> IngestReport().cases_opened
    0
    """

    alerts: int = 0
    duplicates: int = 0
    shadow: int = 0
    cases_opened: int = 0
    cases_joined: int = 0
    cases_reopened: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0
    rejected: list[str] = field(default_factory=list)
    unknown_actions: Counter[str] = field(default_factory=Counter)
    held_back_upstream: int = 0
    no_victim: int = 0
    """Decisions refused because they name neither the victim's phone nor their account (in ``rejected`` too)."""
    contact_skipped: int = 0
    """Calls to the victim not requested because the victim is an account with no known phone number."""


@dataclass
class TickReport:
    """What one :meth:`Orchestrator.tick` did.

    >>> TickReport().sla_breaches
    0
    """

    outcomes: int = 0
    redials: int = 0
    agent_escalations: int = 0
    sla_breaches: int = 0
    cases_closed: int = 0
    labels: int = 0
    actions: Counter[str] = field(default_factory=Counter)


def district_lookup(subscribers: pl.DataFrame) -> dict[str, str]:
    """Phone → district from subscriber reference data (the SUBSCRIBERS shape), for officer alerts.

    >>> district_lookup(pl.DataFrame({"phone": ["138", "139"], "district": ["Tianhe", None]}))
    {'138': 'Tianhe'}
    """
    if "phone" not in subscribers.columns or "district" not in subscribers.columns:
        raise ValueError(f"subscriber frame needs phone and district columns; has {subscribers.columns}")
    rows = (
        subscribers.select("phone", "district").drop_nulls().unique("phone", keep="last", maintain_order=True)
    )
    return dict(rows.iter_rows())


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _alert_from_row(row: dict[str, Any]) -> Alert:
    """A decision row as an :class:`Alert`, raising a readable error for a bad field."""
    event_id = row.get("event_id")
    where = f"decision {event_id} (rule {row.get('rule')})"
    if event_id is None or row.get("rule") is None:
        raise DecisionError(f"{where}: event_id and rule must not be null")
    if row.get("time") is None or not isinstance(row["time"], datetime):
        raise DecisionError(f"{where}: time {row.get('time')!r} must be a datetime")
    if row.get("tier") not in TIERS:
        raise DecisionError(f"{where}: tier {row.get('tier')!r} must be one of {list(TIERS)}")
    if row.get("mode") not in MODES:
        raise DecisionError(f"{where}: mode {row.get('mode')!r} must be one of {list(MODES)}")
    if not row.get("victim_key"):
        raise NoVictimError(
            f"{where}: victim_key is empty: neither the likely victim's phone number nor their account is "
            "known, so no case can hold it (for transfers, a rule's victim can fall back to payer_account)"
        )
    victim_kind = row.get("victim_kind") or "phone"  # absent or null: a phone, as every victim once was
    if victim_kind not in VICTIM_KINDS:
        raise DecisionError(f"{where}: victim_kind {victim_kind!r} must be one of {list(VICTIM_KINDS)}")
    actions = tuple(row.get("actions") or ())
    score = row.get("score")
    if score is None:
        raise DecisionError(f"{where}: score must not be null")
    amount = row.get("amount")
    return Alert(
        event_id=str(event_id),
        time=_aware(row["time"]),
        rule=str(row["rule"]),
        priority=int(row.get("priority") or 0),
        tier=row["tier"],
        actions=actions,
        victim_key=str(row["victim_key"]),
        victim_kind=victim_kind,
        entity_key=row.get("entity_key"),
        typology=row.get("typology"),
        mode=row["mode"],
        score=float(score),
        reasons=tuple(row.get("reasons") or ()),
        payee_account=row.get("payee_account"),
        payee_bank=row.get("payee_bank"),
        amount=None if amount is None else float(amount),
        transfer_id=row.get("transfer_id"),
    )


class Orchestrator:
    """Turns rule decisions into cases and outbox actions and escalates on outcomes and timers.

    ``tick(now)`` reacts to outcomes recorded since the last tick (re-dials, agent hand-over,
    case closure, labels) and fires SLA breaches; due actions themselves are sent by the
    :class:`~fraud_brain.actions.dispatcher.Dispatcher`.

    >>> from fraud_brain.actions.clock import ManualClock
    >>> from fraud_brain.actions.decisions import decision_frame
    >>> from fraud_brain.store import SQLiteRepository
    >>> t = datetime(2026, 3, 1, 9, tzinfo=UTC)
    >>> orch = Orchestrator(SQLiteRepository(":memory:"), clock=ManualClock(t))
    >>> _ = orch.ingest(decision_frame([{"event_id": "e1", "time": t, "victim_key": "138001"}]))
    >>> (call,) = orch.store.case_actions(1)
    >>> orch.record_outcome(call.action_id, "no_answer").redials
    1
    """

    def __init__(
        self,
        store: Repository,
        policy: EscalationPolicy | None = None,
        clock: Clock | None = None,
        districts: Mapping[str, str] | None = None,
        labels: LabelEntities = TELECOM_LABELS,
    ):
        self.store = store
        self.labels = labels
        """The label entity types outcomes are written as (the feature spec's)."""
        self.policy = policy or EscalationPolicy()
        self.clock = clock or SystemClock()
        self.districts: Mapping[str, str] = districts or {}
        """Victim phone → home district, so an officer alert reaches the right community officer."""

    def reload_policy(self, path: str | Path) -> PolicyError | None:
        """Switch to the policy in ``path``; a bad file keeps the current policy and is returned as the error.

        Timers already written to the outbox keep the times they were given.
        """
        try:
            policy = load_policy(path)
        except PolicyError as error:
            self.store.audit(
                self.clock.now(), "orchestrator", "policy_reload_failed", str(path), {"error": str(error)}
            )
            return error
        self.policy = policy
        self.store.audit(self.clock.now(), "orchestrator", "policy_reloaded", str(path))
        return None

    # -- decisions -------------------------------------------------------------------------
    def ingest(self, decisions: pl.DataFrame, now: datetime | None = None) -> IngestReport:
        """Store a batch of decisions and the cases and actions they call for, in one transaction.

        Re-ingesting a decision already stored (same event_id and rule) does nothing, so a
        replay restarted after a crash does not repeat actions. Rows that break the contract
        are skipped and listed in ``rejected``; a frame missing a column raises. A frame straight
        from the rules' ``Decider.decide`` (with an ``active`` column) is taken as the rules meant
        it: active-mode hits the rules held back in cooldown are counted, not acted on.
        """
        missing = [c for c in REQUIRED_COLUMNS if c not in decisions.columns]
        if missing:
            raise DecisionError(f"decision frame is missing column(s) {missing}; has {decisions.columns}")
        now = now or self.clock.now()
        report = IngestReport()
        if decisions.height == 0:
            return report
        if "active" in decisions.columns:
            held_back = pl.col("active").not_() & (pl.col("mode") == "active")
            report.held_back_upstream = decisions.filter(held_back).height
            decisions = decisions.filter(held_back.not_())
        with self.store.transaction():
            for row in decisions.sort("time", maintain_order=True).iter_rows(named=True):
                try:
                    alert = _alert_from_row(row)
                except DecisionError as error:
                    report.rejected.append(str(error))
                    if isinstance(error, NoVictimError):
                        report.no_victim += 1
                        # Nothing can act on it, so it is at least on record for an analyst to find.
                        self.store.audit(
                            now,
                            "orchestrator",
                            "decision_without_victim",
                            str(row.get("event_id")),
                            {"rule": row.get("rule"), "actions": list(row.get("actions") or ()),
                             "transfer_id": row.get("transfer_id"), "error": str(error)},
                        )
                    continue
                self._ingest_one(alert, now, report)
        return report

    def _ingest_one(self, alert: Alert, now: datetime, report: IngestReport) -> None:
        alert_id = self.store.add_alert(alert, now)
        if alert_id is None:
            report.duplicates += 1
            return
        report.alerts += 1
        if alert.mode == "shadow":
            report.shadow += 1
            return
        case = self.store.latest_case(alert.victim_key, alert.victim_kind)
        in_cooldown = False
        if case is None or abs(alert.time - case.last_alert_at) > self.policy.episode_gap:
            case = self._open_case(alert, now)
            report.cases_opened += 1
        else:
            report.cases_joined += 1
            self.store.update_case(
                case.case_id,
                last_alert_at=max(case.last_alert_at, alert.time),
                max_score=max(case.max_score, alert.score),
                tier=min(case.tier, alert.tier, key=TIER_RANK.__getitem__),
                typology=case.typology or alert.typology,
            )
            if case.status == "closed":
                assert case.closed_at is not None
                if now - case.closed_at >= self.policy.cooldown:
                    self.store.update_case(
                        case.case_id,
                        status="open",
                        active_since=now,
                        contact_state="none",
                        closed_at=None,
                        resolution=None,
                    )
                    self.store.add_case_event(case.case_id, now, "reopened", {"event_id": alert.event_id})
                    report.cases_reopened += 1
                else:
                    in_cooldown = True
            case = self.store.get_case(case.case_id)
        self.store.attach_alert(alert_id, case.case_id)
        self.store.add_case_event(
            case.case_id,
            now,
            "alert",
            {
                "event_id": alert.event_id,
                "rule": alert.rule,
                "tier": alert.tier,
                "score": alert.score,
                "reasons": list(alert.reasons),
                "transfer_id": alert.transfer_id,
            },
        )
        unknown = [a for a in alert.actions if a not in ACTION_KINDS]
        if unknown:
            # A newer rule vocabulary must not stop the actions this layer does know.
            report.unknown_actions.update(unknown)
            self.store.add_case_event(case.case_id, now, "unknown_actions_ignored", {"actions": unknown})
        wanted = set(alert.actions)
        if self.policy.fans_out(alert.tier, alert.score):
            wanted |= set(FAN_OUT_KINDS)
            self.store.add_case_event(
                case.case_id, now, "fan_out", {"event_id": alert.event_id, "score": alert.score}
            )
        if not case.has_phone:
            skipped = [kind for kind in PHONE_CONTACT_KINDS if kind in wanted]
            if skipped:
                wanted -= set(skipped)
                report.contact_skipped += len(skipped)
                self.store.add_case_event(
                    case.case_id,
                    now,
                    "contact_skipped",
                    {"why": NO_PHONE_WHY, "kinds": skipped, "event_id": alert.event_id,
                     "victim_kind": case.victim_kind},
                )
        for kind in ACTION_KINDS:
            if kind not in wanted:
                continue
            if in_cooldown and kind in _CONTACT_KINDS:
                report.suppressed += 1
                self.store.add_case_event(
                    case.case_id, now, "suppressed_in_cooldown", {"kind": kind, "event_id": alert.event_id}
                )
                continue
            # The case row read above stays valid here: requests only change contact_state, which
            # only the voice_bot request (the first kind in order) reads.
            if self._request(case, kind, now, f"rule {alert.rule}", alert) is not None:
                report.actions[kind] += 1
            else:
                report.suppressed += 1

    def _open_case(self, alert: Alert, now: datetime) -> Case:
        # A phone's uid is as it always was; an account's says so, so the two can never share one.
        victim = alert.victim_key if alert.victim_kind == "phone" else f"{alert.victim_kind}:{alert.victim_key}"
        uid = hashlib.sha1(f"{victim}|{alert.event_id}|{alert.rule}".encode()).hexdigest()[:20]
        case = self.store.create_case(
            Case(
                case_id=0,
                case_uid=f"case-{uid}",
                victim_key=alert.victim_key,
                victim_kind=alert.victim_kind,
                status="open",
                tier=alert.tier,
                typology=alert.typology,
                rule=alert.rule,
                opened_at=alert.time,
                active_since=now,
                last_alert_at=alert.time,
                max_score=alert.score,
            )
        )
        self.store.add_case_event(
            case.case_id,
            now,
            "opened",
            {"event_id": alert.event_id, "rule": alert.rule, "victim_kind": alert.victim_kind},
        )
        return case

    # -- actions ---------------------------------------------------------------------------
    def _enqueue(
        self,
        case: Case,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        reason: str,
        due: datetime | None = None,
        subject: str | None = None,
        key: str | None = None,
    ) -> int | None:
        if key is None:
            key = f"{case.case_uid}:{kind}:{self.store.count_case_actions(case.case_id, kind) + 1}"
        action_id = self.store.enqueue_action(
            NewAction(case.case_id, kind, key, payload, due or now, subject=subject), now
        )
        if action_id is None:
            return None
        self.store.add_case_event(
            case.case_id,
            now,
            "action_queued",
            {"kind": kind, "action_id": action_id, "reason": reason, "due_at": (due or now).isoformat()},
        )
        if kind == "agent_followup":
            sla = self.policy.sla_for(case.tier)
            self.store.add_agent_task(case.case_id, action_id, now, now + sla)
        return action_id

    def _episode_actions(self, case: Case, kind: str) -> list[Action]:
        return [a for a in self.store.case_actions(case.case_id, kind) if a.created_at >= case.active_since]

    def _request(
        self, case: Case, kind: str, now: datetime, reason: str, alert: Alert | None = None
    ) -> int | None:
        """Queue one action of ``kind`` for a case unless the case already has it in hand."""
        base: dict[str, Any] = {
            "case_uid": case.case_uid,
            "victim": case.victim_key,
            "victim_kind": case.victim_kind,
            "typology": case.typology,
            "tier": case.tier,
        }
        if kind in PHONE_CONTACT_KINDS and not case.has_phone:
            # Timers and outcomes (an SLA breach policy, an unreachable victim) land here too.
            self.store.add_case_event(
                case.case_id, now, "contact_skipped", {"why": NO_PHONE_WHY, "kinds": [kind], "reason": reason}
            )
            return None
        if kind == "voice_bot":
            if case.status != "open" or case.contact_state != "none":
                self.store.add_case_event(
                    case.case_id, now, "deduplicated", {"kind": kind, "contact_state": case.contact_state}
                )
                return None
            self.store.update_case(case.case_id, contact_state="bot")
            payload = {
                **base,
                "script": self.policy.script_for(case.typology),
                "attempt": 1,
                "target": "victim",
            }
            return self._enqueue(case, kind, payload, now, reason)
        if kind == "agent_followup":
            if self.store.open_agent_task(case.case_id) is not None:
                self.store.add_case_event(case.case_id, now, "deduplicated", {"kind": kind})
                return None
            payload = {
                **base,
                "sla_minutes": self.policy.sla_for(case.tier).total_seconds() / 60,
                "reason": reason,
                "max_score": case.max_score,
            }
            return self._enqueue(case, kind, payload, now, reason)
        if kind == "officer_alert":
            if self._episode_actions(case, kind):
                self.store.add_case_event(case.case_id, now, "deduplicated", {"kind": kind})
                return None
            payload = {
                **base,
                "reason": reason,
                "district": self.districts.get(case.victim_key) if case.has_phone else None,
                "message": (
                    f"Likely {case.typology or 'scam'} victim {case.victim_key}: please check on them."
                    if case.has_phone
                    else f"Likely {case.typology or 'scam'} victim holding account {case.victim_key} "
                    "(no phone number known): please find and check on them."
                ),
            }
            return self._enqueue(case, kind, payload, now, reason)
        if kind == "stop_payment":
            return self.request_stop_payment(case, alert, now, reason)[0]
        if kind == "block_number_review":
            return self._request_number_review(case, now, reason, alert)
        raise ValueError(f"case {case.case_id}: unknown action kind {kind!r}")

    def request_stop_payment(
        self, case: Case, alert: Alert | None, now: datetime, reason: str, requested_by: str | None = None
    ) -> tuple[int | None, Verdict | None]:
        """Queue a stop-payment of ``alert``'s transfer for ``case`` under the one stop-payment rule
        (:mod:`fraud_brain.actions.stop_payment`): its action id, or None and the verdict saying why not.

        A refusal is written to the case timeline (and a reached limit to the audit log); call it
        inside the store's transaction, as the rules' path and the case service both do.
        """
        if alert is None:
            return None, None
        verdict = stop_payment.judge(self.store, alert, self.policy.stop_payment_max_per_account)
        if verdict.refusal == "no_transfer":
            self.store.add_case_event(
                case.case_id, now, "stop_payment_skipped", {"why": verdict.message, "event_id": alert.event_id}
            )
            return None, verdict
        if verdict.refusal == "duplicate":
            self.store.add_case_event(
                case.case_id, now, "deduplicated", {"kind": "stop_payment", "transfer_id": alert.transfer_id}
            )
            return None, verdict
        if verdict.refusal == "limit":
            self.store.add_case_event(
                case.case_id,
                now,
                "stop_payment_skipped",
                {"why": "limit per payee account reached", "payee_account": alert.payee_account,
                 "requests": verdict.requests},
            )
            self.store.audit(
                now, "orchestrator", "stop_payment_limit", str(alert.payee_account),
                {"case_id": case.case_id, "transfer_id": alert.transfer_id},
            )
            return None, verdict
        body = stop_payment.payload(case, alert, self.policy.stop_payment_hold, requested_by)
        action_id = self._enqueue(
            case, "stop_payment", body, now, reason, subject=alert.payee_account, key=verdict.key
        )
        return action_id, verdict

    def _request_number_review(
        self, case: Case, now: datetime, reason: str, alert: Alert | None
    ) -> int | None:
        number = alert.entity_key if alert is not None else None
        if alert is None or not is_suspect_number(number, case.victim_key):
            self.store.add_case_event(
                case.case_id,
                now,
                "number_review_skipped",
                {"why": "no suspect number in the decision", "entity_key": number},
            )
            return None
        key = f"block_number_review:{number}"
        if self.store.action_by_key(key) is not None:
            # One review per number, however many victims it called.
            self.store.add_case_event(
                case.case_id, now, "deduplicated", {"kind": "block_number_review", "number": number}
            )
            return None
        payload = {
            "number": number,
            "victim": case.victim_key,
            "typology": case.typology,
            "rule": alert.rule,
            "score": alert.score,
            "reasons": list(alert.reasons),
        }
        return self._enqueue(case, "block_number_review", payload, now, reason, subject=number, key=key)

    # -- outcomes and timers ---------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> TickReport:
        """React to new outcomes and fire due SLA breaches."""
        now = now or self.clock.now()
        report = TickReport()
        # Cheap reads first, then the reads that decide again inside the write transaction, so two
        # orchestrators on one store never react to the same outcome or breach twice.
        while self.store.unhandled_outcomes(limit=1):
            # A batch of reactions commits together, each marked handled in the same transaction:
            # a crash redoes the whole batch and nothing twice.
            with self.store.transaction():
                for outcome in self.store.unhandled_outcomes(limit=500):
                    self._react(outcome, now, report)
                    assert outcome.outcome_id is not None
                    self.store.mark_outcome_handled(outcome.outcome_id)
                    report.outcomes += 1
        if not self.store.due_agent_tasks(now):
            return report
        with self.store.transaction():
            for task in self.store.due_agent_tasks(now):
                self.store.update_agent_task(task.task_id, breached_at=now)
                case = self.store.get_case(task.case_id)
                late = (now - task.due_at).total_seconds() / 60
                self.store.add_case_event(
                    case.case_id,
                    now,
                    "agent_sla_breached",
                    {"task_id": task.task_id, "due_at": task.due_at.isoformat()},
                )
                self.store.audit(
                    now,
                    "orchestrator",
                    "agent_sla_breached",
                    case.case_uid,
                    {"task_id": task.task_id, "minutes_late": late},
                )
                report.sla_breaches += 1
                for kind in self.policy.on_sla_breach:
                    if kind == "agent_followup":
                        continue  # The case is already in the agents' queue; breaching it again cannot help.
                    if (
                        self._request(self.store.get_case(case.case_id), kind, now, "agent SLA breached")
                        is not None
                    ):
                        report.actions[kind] += 1
        return report

    def _react(self, outcome: Outcome, now: datetime, report: TickReport) -> None:
        case = self.store.get_case(outcome.case_id)
        detail = {
            k: v for k, v in outcome.detail.items() if k in ("amount_held", "duplicate", "script", "note")
        }
        self.store.add_case_event(
            case.case_id,
            outcome.at,
            f"{outcome.source}_outcome",
            {"outcome": outcome.outcome, "action_id": outcome.action_id, **detail},
        )
        if outcome.source == "voice_bot":
            self._on_bot(case, outcome, now, report)
        elif outcome.source == "stop_payment" and (outcome.amount_held or 0) > 0:
            account = outcome.detail.get("payee_account")
            if account is None and outcome.action_id is not None:
                account = self.store.get_action(outcome.action_id).subject
            if account:
                report.labels += self.store.add_labels(
                    labels_from_bank(case.case_uid, case.case_id, account, case.typology, outcome.at, self.labels)
                )
        elif outcome.source == "agent":
            self._on_agent(case, outcome, now, report)

    def _on_bot(self, case: Case, outcome: Outcome, now: datetime, report: TickReport) -> None:
        answered = outcome.outcome in BOT_ANSWERED
        if answered and case.first_contact_at is None:
            self.store.update_case(case.case_id, first_contact_at=outcome.at)
        if case.status != "open" or case.contact_state != "bot":
            return
        calls = self._episode_actions(case, "voice_bot")
        if not calls or calls[-1].action_id != outcome.action_id:
            return  # An older call's late answer; the ladder has moved on.
        if outcome.outcome == "convinced":
            self.store.update_case(case.case_id, contact_state="acknowledged")
            if self.store.open_agent_task(case.case_id) is None:
                self._close(case, "dissuaded_by_bot", outcome.at, report)
            return
        if outcome.outcome not in BOT_FAILURES:
            return
        if len(calls) <= self.policy.max_redials:
            due = outcome.at + self.policy.redial_interval
            busy = calls[-1].payload.get("busy_in_a_row", 0) + 1 if outcome.outcome == "busy" else 0
            # A line busy again and again usually means the scammer is still on it: try the family.
            relatives = 0 < self.policy.relatives_after_busy <= busy
            payload = {
                **calls[-1].payload,
                "attempt": len(calls) + 1,
                "previous": outcome.outcome,
                "busy_in_a_row": busy,
                "target": "relatives" if relatives else "victim",
            }
            if (
                self._enqueue(case, "voice_bot", payload, now, f"re-dial after {outcome.outcome}", due=due)
                is not None
            ):
                report.redials += 1
                report.actions["voice_bot"] += 1
            return
        self.store.update_case(case.case_id, contact_state="agent")
        if (
            self._request(
                self.store.get_case(case.case_id), "agent_followup", now, f"bot failed {len(calls)} times"
            )
            is not None
        ):
            report.agent_escalations += 1
            report.actions["agent_followup"] += 1

    def _on_agent(self, case: Case, outcome: Outcome, now: datetime, report: TickReport) -> None:
        disposition = outcome.outcome
        if disposition != "unreachable" and case.first_contact_at is None:
            self.store.update_case(case.case_id, first_contact_at=outcome.at)
        alerts = self.store.case_alerts(case.case_id)
        report.labels += self.store.add_labels(
            labels_from_disposition(case.case_uid, case.case_id, alerts, disposition, outcome.at, self.labels)
        )
        if disposition == "unreachable" and self.policy.officer_on_unreachable and (
            self._request(self.store.get_case(case.case_id), "officer_alert", now, "agent could not reach the victim")
            is not None
        ):
            report.actions["officer_alert"] += 1
        if case.status == "open":
            self._close(case, disposition, outcome.at, report)

    def _close(self, case: Case, resolution: str, at: datetime, report: TickReport) -> None:
        self.store.update_case(case.case_id, status="closed", closed_at=at, resolution=resolution)
        cancelled = self.store.cancel_pending(case.case_id, "voice_bot", f"case closed: {resolution}", at)
        self.store.add_case_event(
            case.case_id, at, "closed", {"resolution": resolution, "redials_cancelled": cancelled}
        )
        report.cases_closed += 1

    # -- outcomes from outside -------------------------------------------------------------
    def record_outcome(
        self,
        action_id: int,
        outcome: str,
        *,
        at: datetime | None = None,
        detail: dict[str, Any] | None = None,
        amount_held: float | None = None,
    ) -> TickReport:
        """Record a late answer to a delivered action (a bot platform's call result, a bank's
        confirmation) and react to it at once. Recording the same answer twice is harmless."""
        at = at or self.clock.now()
        action = self.store.get_action(action_id)
        key = f"{action.idempotency_key}:answer:{outcome}"
        self.store.add_outcome(
            Outcome(key, action.case_id, action.kind, outcome, at, action_id, detail or {}, amount_held)
        )
        return self.tick()

    def record_agent_disposition(
        self, case_id: int, disposition: str, *, at: datetime | None = None, note: str | None = None
    ) -> TickReport:
        """Record how a human agent closed a case (prevented, victim confirmed scam, false alarm,
        unreachable), close its agent task, and react (labels, officer alert, case closure)."""
        if disposition not in AGENT_DISPOSITIONS:
            raise ValueError(
                f"case {case_id}: disposition {disposition!r} must be one of {list(AGENT_DISPOSITIONS)}"
            )
        at = at or self.clock.now()
        with self.store.transaction():
            case = self.store.get_case(case_id)
            task = self.store.open_agent_task(case_id)
            task_part = f"task{task.task_id}" if task else f"since{int(case.active_since.timestamp())}"
            if task is not None:
                self.store.update_agent_task(task.task_id, status="done", disposition=disposition, done_at=at)
            self.store.add_outcome(
                Outcome(
                    f"{case.case_uid}:agent:{task_part}",
                    case_id,
                    "agent",
                    disposition,
                    at,
                    task.action_id if task else None,
                    {"note": note} if note else {},
                )
            )
        return self.tick()
