"""Plain records the store reads and writes: alerts, cases, actions, outcomes, agent tasks, labels.

Times are timezone-aware UTC ``datetime`` objects at this interface and integer epoch
milliseconds inside the database, so every backend compares them the same way.

>>> to_ms(from_ms(1_700_000_000_000))
1700000000000
>>> from_ms(0).isoformat()
'1970-01-01T00:00:00+00:00'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fraud_brain.vocabulary import ACTION_KINDS, MODES, TIERS, VICTIM_KINDS  # noqa: F401 - re-exported

ACTION_STATUSES = ("pending", "in_flight", "done", "failed", "dead", "cancelled")
"""Outbox states: ``failed`` waits for a retry at ``next_attempt_at``; ``dead`` has given up;
``cancelled`` was withdrawn before dispatch (a re-dial for a case that closed meanwhile)."""


def to_ms(when: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive datetimes are rejected, not guessed).

    >>> to_ms(datetime(2026, 1, 1, tzinfo=UTC))
    1767225600000
    """
    if when.tzinfo is None:
        raise ValueError(f"datetime {when.isoformat()} has no time zone; use UTC-aware datetimes")
    return round(when.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The UTC datetime of epoch milliseconds.

    >>> from_ms(1767225600000).year
    2026
    """
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True)
class Alert:
    """One rule decision as stored: what fired, for whom, and which actions it asked for.

    >>> Alert("e1", datetime(2026, 1, 1, tzinfo=UTC), "r1", 1, "hour", ("voice_bot",), "138000").tier
    'hour'
    """

    event_id: str
    time: datetime
    rule: str
    priority: int
    tier: str
    actions: tuple[str, ...]
    victim_key: str
    entity_key: str | None = None
    typology: str | None = None
    mode: str = "active"
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    payee_account: str | None = None
    payee_bank: str | None = None
    amount: float | None = None
    transfer_id: str | None = None
    victim_kind: str = "phone"
    alert_id: int | None = None
    case_id: int | None = None


@dataclass(frozen=True)
class Case:
    """One victim episode: the alerts that belong to it, its contact state and its resolution.

    ``active_since`` is when the case was opened or last re-opened; per-episode limits
    (one officer alert, one bot ladder) count actions from then on. A case is keyed by
    ``(victim_kind, victim_key)``: an account victim's case never collides with a phone's.
    """

    case_id: int
    case_uid: str
    victim_key: str
    status: str
    tier: str
    typology: str | None
    rule: str
    opened_at: datetime
    active_since: datetime
    last_alert_at: datetime
    max_score: float
    contact_state: str = "none"
    closed_at: datetime | None = None
    resolution: str | None = None
    first_contact_at: datetime | None = None
    victim_kind: str = "phone"

    @property
    def has_phone(self) -> bool:
        """Whether the victim can be called (the victim key is a phone number)."""
        return self.victim_kind == "phone"


@dataclass(frozen=True)
class NewAction:
    """An action to write to the outbox; ``due_at`` is when it may first be dispatched.

    >>> NewAction(1, "voice_bot", "k1", {"victim": "138"}, datetime(2026, 1, 1, tzinfo=UTC)).kind
    'voice_bot'
    """

    case_id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    due_at: datetime
    subject: str | None = None


@dataclass(frozen=True)
class Action:
    """An outbox row: an action with its delivery state.

    ``attempts`` counts claims of a pending or failed action (deliveries started);
    ``lease_expiries`` counts re-claims after a worker died holding the action.
    """

    action_id: int
    case_id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    subject: str | None = None
    leased_until: datetime | None = None
    lease_token: str | None = None
    last_error: str | None = None
    outcome: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    done_at: datetime | None = None
    lease_expiries: int = 0


@dataclass(frozen=True)
class Outcome:
    """A result from the world: a bot call result, an agent disposition, a bank answer.

    ``key`` makes recording idempotent: recording the same key twice keeps the first.
    """

    key: str
    case_id: int
    source: str
    outcome: str
    at: datetime
    action_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    amount_held: float | None = None
    outcome_id: int | None = None
    handled: bool = False


@dataclass(frozen=True)
class AgentTask:
    """An item in the human agents' queue, with the SLA deadline ``due_at``."""

    task_id: int
    case_id: int
    action_id: int
    created_at: datetime
    due_at: datetime
    status: str
    breached_at: datetime | None = None
    disposition: str | None = None
    done_at: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log: who did what to which subject, when."""

    audit_id: int
    at: datetime
    actor: str
    op: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Label:
    """A label learned from an outcome, in the shape of :data:`fraud_brain.schema.LABELS`."""

    label_id: str
    entity_type: str
    entity_id: str
    is_fraud: bool
    known_at: datetime
    source: str
    typology: str | None = None
    case_id: int | None = None
