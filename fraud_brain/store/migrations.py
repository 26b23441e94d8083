"""Schema migrations of the SQLite store, applied in version order and recorded in ``schema_migrations``.

>>> [m.version for m in MIGRATIONS]
[1, 2, 3, 4, 5, 6]
"""

from __future__ import annotations

from dataclasses import dataclass

from fraud_brain.store.models import ACTION_KINDS, ACTION_STATUSES, VICTIM_KINDS


@dataclass(frozen=True)
class Migration:
    """One schema step: a version, a name and its SQL statements.

    >>> MIGRATIONS[0].name
    'initial tables'
    """

    version: int
    name: str
    statements: tuple[str, ...]


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


_INITIAL = (
    """CREATE TABLE cases (
        case_id INTEGER PRIMARY KEY,
        case_uid TEXT NOT NULL UNIQUE,
        victim_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        tier TEXT NOT NULL,
        typology TEXT,
        rule TEXT NOT NULL,
        opened_at_ms INTEGER NOT NULL,
        active_since_ms INTEGER NOT NULL,
        last_alert_at_ms INTEGER NOT NULL,
        max_score REAL NOT NULL,
        contact_state TEXT NOT NULL DEFAULT 'none',
        closed_at_ms INTEGER,
        resolution TEXT,
        first_contact_at_ms INTEGER
    )""",
    """CREATE TABLE alerts (
        alert_id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        tier TEXT NOT NULL,
        actions TEXT NOT NULL,
        victim_key TEXT NOT NULL,
        entity_key TEXT,
        typology TEXT,
        mode TEXT NOT NULL CHECK (mode IN ('active', 'shadow')),
        score REAL NOT NULL,
        reasons TEXT NOT NULL,
        payee_account TEXT,
        payee_bank TEXT,
        amount REAL,
        transfer_id TEXT,
        case_id INTEGER REFERENCES cases(case_id),
        received_at_ms INTEGER NOT NULL,
        UNIQUE (event_id, rule)
    )""",
    """CREATE TABLE case_events (
        case_event_id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(case_id),
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
    f"""CREATE TABLE actions (
        action_id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(case_id),
        kind TEXT NOT NULL CHECK (kind IN {_in(ACTION_KINDS)}),
        idempotency_key TEXT NOT NULL UNIQUE,
        subject TEXT,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN {_in(ACTION_STATUSES)}),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        leased_until_ms INTEGER,
        lease_token TEXT,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        done_at_ms INTEGER,
        last_error TEXT,
        outcome TEXT,
        result TEXT NOT NULL DEFAULT '{{}}'
    )""",
    """CREATE TABLE outcomes (
        outcome_id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        case_id INTEGER NOT NULL REFERENCES cases(case_id),
        action_id INTEGER REFERENCES actions(action_id),
        source TEXT NOT NULL,
        outcome TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        detail TEXT NOT NULL,
        amount_held REAL,
        handled INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE agent_tasks (
        task_id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(case_id),
        action_id INTEGER NOT NULL UNIQUE REFERENCES actions(action_id),
        created_at_ms INTEGER NOT NULL,
        due_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'done')),
        breached_at_ms INTEGER,
        disposition TEXT,
        done_at_ms INTEGER
    )""",
    """CREATE TABLE labels (
        label_id TEXT PRIMARY KEY,
        entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        is_fraud INTEGER NOT NULL,
        typology TEXT,
        known_at_ms INTEGER NOT NULL,
        source TEXT NOT NULL,
        case_id INTEGER REFERENCES cases(case_id)
    )""",
    """CREATE TABLE audit_log (
        audit_id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        actor TEXT NOT NULL,
        op TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
)

_INDEXES = (
    "CREATE INDEX cases_by_victim ON cases (victim_key, last_alert_at_ms)",
    "CREATE INDEX alerts_by_case ON alerts (case_id)",
    "CREATE INDEX case_events_by_case ON case_events (case_id, case_event_id)",
    "CREATE INDEX actions_due ON actions (status, next_attempt_at_ms)",
    "CREATE INDEX actions_by_case ON actions (case_id, kind)",
    "CREATE INDEX actions_by_subject ON actions (kind, subject)",
    "CREATE INDEX outcomes_unhandled ON outcomes (handled, outcome_id)",
    "CREATE INDEX agent_tasks_open ON agent_tasks (status, due_at_ms)",
    "CREATE INDEX labels_by_time ON labels (known_at_ms)",
)

_KINDS = _in(VICTIM_KINDS)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial tables", _INITIAL),
    Migration(2, "indexes for the outbox, timelines and labels", _INDEXES),
    Migration(
        3,
        "indexes for expired leases and a case's agent task",
        (
            "CREATE INDEX actions_leases ON actions (status, leased_until_ms)",
            "CREATE INDEX agent_tasks_by_case ON agent_tasks (case_id, status)",
        ),
    ),
    Migration(
        4,
        "count lease expiries apart from delivery attempts",
        ("ALTER TABLE actions ADD COLUMN lease_expiries INTEGER NOT NULL DEFAULT 0",),
    ),
    Migration(
        5,
        "say whether a victim key is a phone number or an account (a bank that sends no payer phone)",
        (
            # Every victim stored before this was a phone number.
            f"ALTER TABLE cases ADD COLUMN victim_kind TEXT NOT NULL DEFAULT 'phone' CHECK (victim_kind IN {_KINDS})",
            f"ALTER TABLE alerts ADD COLUMN victim_kind TEXT NOT NULL DEFAULT 'phone' CHECK (victim_kind IN {_KINDS})",
            "CREATE INDEX cases_by_victim_kind ON cases (victim_kind, victim_key, last_alert_at_ms)",
        ),
    ),
    Migration(
        6,
        "indexes for the case queue page and the assignment marks of a page of cases",
        (
            "CREATE INDEX cases_by_status ON cases (status, last_alert_at_ms)",
            "CREATE INDEX case_events_marks ON case_events (kind, case_id, case_event_id)",
        ),
    ),
)
"""Every migration, in version order; append new ones, never edit applied ones."""
