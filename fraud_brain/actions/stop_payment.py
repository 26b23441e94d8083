"""The stop-payment rule, written once: which transfer may be stopped, how often, with what payload.

Both the rules' automatic request (:class:`~fraud_brain.actions.orchestrator.Orchestrator`) and an
agent's manual one (:class:`~fraud_brain.actions.cases.CaseService`) go through :func:`judge`, so
one idempotency key per transfer and payee account, one per-account limit and one payload shape
hold for both: an agent's request and the rules' request for the same transfer never both go out.

>>> from datetime import datetime, timedelta, timezone
>>> from fraud_brain.store import SQLiteRepository
>>> from fraud_brain.store.models import Alert
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> alert = Alert("t1", t, "r", 1, "minute", (), "138001", transfer_id="T1", payee_account="MULE",
...               payee_bank="B", amount=900.0)
>>> verdict = judge(SQLiteRepository(":memory:"), alert, max_per_account=2)
>>> verdict.key, verdict.refusal
('stop_payment:T1:MULE', None)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from fraud_brain.store.base import Repository
from fraud_brain.store.models import Alert, Case

Refusal = Literal["no_transfer", "duplicate", "limit"]


@dataclass(frozen=True)
class Verdict:
    """Whether a stop-payment for an alert's transfer may be requested, and if not, why."""

    key: str | None
    """The idempotency key of the request (one per transfer and payee account)."""
    refusal: Refusal | None
    """``None`` when the request may go out."""
    message: str = ""
    """Why not, in words naming the transfer or the account."""
    requests: int = 0
    """Stop-payment requests already made for the payee account."""


def key_for(transfer_id: str, payee_account: str) -> str:
    """The idempotency key of the stop-payment of one transfer to one payee account.

    >>> key_for("T1", "MULE")
    'stop_payment:T1:MULE'
    """
    return f"stop_payment:{transfer_id}:{payee_account}"


def stoppable(alert: Alert) -> bool:
    """Whether an alert names a transfer to a payee, with an amount: something a bank can stop."""
    return bool(alert.payee_account and alert.transfer_id and alert.amount)


def judge(store: Repository, alert: Alert, max_per_account: int) -> Verdict:
    """May a stop-payment for ``alert``'s transfer be requested now? (Read inside the write transaction.)"""
    if not stoppable(alert):
        return Verdict(None, "no_transfer", "no transfer to a payee in the decision")
    assert alert.transfer_id is not None and alert.payee_account is not None
    key = key_for(alert.transfer_id, alert.payee_account)
    if store.action_by_key(key) is not None:
        return Verdict(key, "duplicate", f"stop-payment for transfer {alert.transfer_id} was already requested")
    used = store.count_actions("stop_payment", alert.payee_account)
    if used >= max_per_account:
        return Verdict(
            key, "limit",
            f"payee account {alert.payee_account} already had {used} stop-payment request(s) (limit {max_per_account})",
            used,
        )
    return Verdict(key, None, requests=used)


def payload(case: Case, alert: Alert, hold: timedelta, requested_by: str | None = None) -> dict[str, Any]:
    """What the payee's bank receives: the case, the transfer, the amount and how long to hold it."""
    out: dict[str, Any] = {
        "case_uid": case.case_uid,
        "victim": case.victim_key,
        "victim_kind": case.victim_kind,
        "typology": case.typology,
        "payee_account": alert.payee_account,
        "payee_bank": alert.payee_bank,
        "amount": alert.amount,
        "transfer_id": alert.transfer_id,
        "hold_hours": hold.total_seconds() / 3600,
    }
    if requested_by is not None:
        out["requested_by"] = requested_by
    return out
