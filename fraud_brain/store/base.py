"""The repository interface every store backend implements (SQLite today, PostgreSQL later).

The workflow (``fraud_brain.actions``) talks only to this interface. Methods that change
several rows are meant to run inside ``with repo.transaction():`` so an alert, its case and
its outbox actions are written together or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import polars as pl

from fraud_brain.store.models import Action, AgentTask, Alert, AuditEntry, Case, Label, NewAction, Outcome


class Repository(ABC):
    """Durable state of the warn → dissuade → stop-payment workflow.

    >>> from fraud_brain.store.sqlite import SQLiteRepository
    >>> isinstance(SQLiteRepository(":memory:"), Repository)
    True
    """

    # -- lifecycle -------------------------------------------------------------------------
    @abstractmethod
    def migrate(self) -> list[int]:
        """Apply missing schema migrations; return the versions applied now (idempotent)."""

    @abstractmethod
    def schema_version(self) -> int:
        """The highest applied migration version (0 for an empty database)."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes atomically; nested calls join the outer transaction."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    # -- alerts and cases ------------------------------------------------------------------
    @abstractmethod
    def add_alert(self, alert: Alert, received_at: datetime) -> int | None:
        """Store an alert; ``None`` if the same (event_id, rule) was stored before."""

    @abstractmethod
    def attach_alert(self, alert_id: int, case_id: int) -> None:
        """Link a stored alert to its case."""

    @abstractmethod
    def latest_case(self, victim_key: str, victim_kind: str = "phone") -> Case | None:
        """The most recently active case of a victim (a phone number or an account), open or closed."""

    @abstractmethod
    def get_case(self, case_id: int) -> Case:
        """A case by id (``KeyError`` naming the id if missing)."""

    @abstractmethod
    def create_case(self, case: Case) -> Case:
        """Insert a case (its ``case_id`` is ignored and assigned); return it with its id."""

    @abstractmethod
    def update_case(self, case_id: int, **fields: Any) -> None:
        """Change fields of a case (datetimes as datetimes)."""

    @abstractmethod
    def case_page(self, status: str | None = "open", limit: int = 100) -> list[Case]:
        """A page of the case queue: most urgent tier first, then the latest alert first;
        ``status=None`` pages over every case."""

    @abstractmethod
    def case_assignees(self, case_ids: Sequence[int]) -> dict[int, str]:
        """The current assignee of each of these cases that has one: the agent of its latest
        ``claimed`` timeline entry, unless a ``released`` entry came after it."""

    @abstractmethod
    def case_counts(self) -> dict[str, int]:
        """Number of cases in each status."""

    @abstractmethod
    def case_alerts(self, case_id: int) -> list[Alert]:
        """The alerts of a case in time order."""

    @abstractmethod
    def add_case_event(
        self, case_id: int, at: datetime, kind: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Append an entry to a case timeline."""

    @abstractmethod
    def case_timeline(self, case_id: int) -> list[tuple[datetime, str, dict[str, Any]]]:
        """A case timeline in the order it was written."""

    # -- outbox ----------------------------------------------------------------------------
    @abstractmethod
    def enqueue_action(self, action: NewAction, now: datetime) -> int | None:
        """Write an action to the outbox; ``None`` if its idempotency key already exists."""

    @abstractmethod
    def get_action(self, action_id: int) -> Action:
        """An action by id."""

    @abstractmethod
    def action_by_key(self, idempotency_key: str) -> Action | None:
        """The action with an idempotency key, if any."""

    @abstractmethod
    def case_actions(self, case_id: int, kind: str | None = None) -> list[Action]:
        """The actions of a case, oldest first, optionally of one kind."""

    @abstractmethod
    def count_case_actions(self, case_id: int, kind: str) -> int:
        """How many actions of a kind a case has (in any state)."""

    @abstractmethod
    def count_actions(self, kind: str, subject: str) -> int:
        """How many actions of a kind exist for a subject (e.g. stop-payments per payee account)."""

    @abstractmethod
    def claim_actions(self, now: datetime, lease_until: datetime, token: str, limit: int) -> list[Action]:
        """Atomically lease due actions: one in-flight action whose lease expired if there is one
        (alone, oldest lease first; it counts a lease expiry, not an attempt), else up to ``limit``
        pending/failed actions due by ``now`` (each counts an attempt)."""

    @abstractmethod
    def complete_action(self, action_id: int, token: str, outcome: Outcome, now: datetime) -> bool:
        """Mark a leased action done and record its outcome together; ``False`` if the lease was lost."""

    @abstractmethod
    def fail_action(
        self, action_id: int, token: str, error: str, now: datetime, retry_at: datetime | None
    ) -> bool:
        """Record a failed attempt: retry at ``retry_at``, or ``dead`` when it is ``None``."""

    @abstractmethod
    def cancel_pending(self, case_id: int, kind: str, reason: str, now: datetime) -> int:
        """Withdraw a case's not-yet-claimed actions of a kind; return how many."""

    @abstractmethod
    def next_wakeup(self) -> datetime | None:
        """When the next unfinished action becomes claimable; ``None`` if none is unfinished."""

    @abstractmethod
    def action_status_counts(self) -> dict[str, int]:
        """Number of actions in each outbox status."""

    # -- outcomes, agents, labels, audit ---------------------------------------------------
    @abstractmethod
    def add_outcome(self, outcome: Outcome) -> int | None:
        """Record an outcome; ``None`` if its key was recorded before."""

    @abstractmethod
    def unhandled_outcomes(self, limit: int = 1000) -> list[Outcome]:
        """Outcomes the orchestrator has not reacted to yet, oldest first."""

    @abstractmethod
    def mark_outcome_handled(self, outcome_id: int) -> None:
        """Note that the orchestrator reacted to an outcome."""

    @abstractmethod
    def add_agent_task(self, case_id: int, action_id: int, created_at: datetime, due_at: datetime) -> int:
        """Put a case in the agents' queue with an SLA deadline."""

    @abstractmethod
    def open_agent_task(self, case_id: int) -> AgentTask | None:
        """The open agent task of a case, if any."""

    @abstractmethod
    def open_agent_tasks(self) -> list[AgentTask]:
        """Every open agent task, oldest first."""

    @abstractmethod
    def count_open_agent_tasks(self) -> int:
        """How many agent tasks are open."""

    @abstractmethod
    def due_agent_tasks(self, now: datetime) -> list[AgentTask]:
        """Open tasks past their SLA that have not been marked breached yet."""

    @abstractmethod
    def update_agent_task(self, task_id: int, **fields: Any) -> None:
        """Change fields of an agent task."""

    @abstractmethod
    def add_labels(self, labels: Sequence[Label]) -> int:
        """Store labels (repeats of a label id are ignored); return how many were new."""

    @abstractmethod
    def labels_since(self, since: datetime) -> pl.DataFrame:
        """Labels known at or after ``since``, typed like :data:`fraud_brain.schema.LABELS`."""

    @abstractmethod
    def audit(
        self, at: datetime, actor: str, op: str, subject: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Append to the audit log."""

    @abstractmethod
    def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        """The latest audit entries, newest first."""

    @abstractmethod
    def table(self, name: str) -> pl.DataFrame:
        """A whole table as a polars frame (for reports); times as UTC datetimes."""
