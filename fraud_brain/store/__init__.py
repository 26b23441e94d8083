"""Durable workflow state: alerts, cases and timelines, the action outbox, outcomes, labels, audit log.

:class:`Repository` is the interface; :class:`SQLiteRepository` the default backend.
"""

from fraud_brain.store.base import Repository
from fraud_brain.store.models import (
    ACTION_KINDS,
    ACTION_STATUSES,
    TIERS,
    VICTIM_KINDS,
    Action,
    AgentTask,
    Alert,
    AuditEntry,
    Case,
    Label,
    NewAction,
    Outcome,
    from_ms,
    to_ms,
)
from fraud_brain.store.sqlite import SQLiteRepository

__all__ = [
    "ACTION_KINDS",
    "ACTION_STATUSES",
    "TIERS",
    "VICTIM_KINDS",
    "Action",
    "AgentTask",
    "Alert",
    "AuditEntry",
    "Case",
    "Label",
    "NewAction",
    "Outcome",
    "Repository",
    "SQLiteRepository",
    "from_ms",
    "to_ms",
]
