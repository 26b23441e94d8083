"""The SQLite implementation of :class:`~fraud_brain.store.base.Repository` (one file, WAL mode).

One object holds one connection and must be used from one thread; open one per thread or
process (SQLite's file locking keeps several processes consistent, and WAL lets readers
read while a writer writes).

>>> repo = SQLiteRepository(":memory:")
>>> repo.schema_version()
6
>>> repo.migrate()
[]
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from fraud_brain.schema.records import LABELS
from fraud_brain.store.base import Repository
from fraud_brain.store.migrations import MIGRATIONS
from fraud_brain.store.models import (
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
from fraud_brain.vocabulary import TIERS

_TABLES = ("alerts", "cases", "case_events", "actions", "outcomes", "agent_tasks", "labels", "audit_log")
_CASE_FIELDS = {
    "status",
    "tier",
    "typology",
    "active_since",
    "last_alert_at",
    "max_score",
    "contact_state",
    "closed_at",
    "resolution",
    "first_contact_at",
}
_TASK_FIELDS = {"status", "breached_at", "disposition", "done_at"}


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def _opt_ms(when: datetime | None) -> int | None:
    return None if when is None else to_ms(when)


def _opt_dt(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


def _column_updates(fields: dict[str, Any], allowed: set[str], what: str) -> tuple[str, list[Any]]:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(f"cannot update {what} field(s) {unknown}; allowed: {sorted(allowed)}")
    sets, values = [], []
    for name, value in fields.items():
        if isinstance(value, datetime) or name.endswith("_at") or name == "active_since":
            sets.append(f"{name}_ms = ?")
            values.append(_opt_ms(value))
        else:
            sets.append(f"{name} = ?")
            values.append(value)
    return ", ".join(sets), values


class SQLiteRepository(Repository):
    """Workflow state in one SQLite file (``":memory:"`` for a throwaway store).

    Migrations run on open unless ``migrate=False``. ``synchronous="FULL"`` makes every
    committed outbox write survive a power cut, not only a process crash.

    >>> with SQLiteRepository(":memory:") as repo:
    ...     repo.action_status_counts()
    {}
    """

    def __init__(
        self,
        path: str | Path,
        *,
        migrate: bool = True,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 10_000,
    ):
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        self._conn.row_factory = sqlite3.Row
        self._depth = 0
        if self.path != ":memory:":
            self._switch_to_wal(busy_timeout_ms / 1000)
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(
                f"store {self.path}: synchronous must be OFF/NORMAL/FULL/EXTRA, not {synchronous!r}"
            )
        self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if migrate:
            self.migrate()

    def _switch_to_wal(self, timeout_s: float) -> None:
        # Switching a fresh file to WAL can answer "locked" at once, without waiting on the
        # busy handler, while another process opens the same file; so retry until the timeout.
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise RuntimeError(f"store {self.path}: could not switch to WAL mode: {error}") from None
                time.sleep(0.01)
        if mode.lower() != "wal":
            raise RuntimeError(f"store {self.path}: could not switch to WAL mode (got {mode!r})")

    def __enter__(self) -> SQLiteRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lifecycle -------------------------------------------------------------------------
    def journal_mode(self) -> str:
        """The SQLite journal mode in force (``wal`` for a file store)."""
        return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    def migrate(self) -> list[int]:
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied: list[int] = []
        for migration in MIGRATIONS:
            with self.transaction():
                # Re-checked inside the write lock so two processes opening one file apply each step once.
                done = self._conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
                ).fetchone()
                if done:
                    continue
                for statement in migration.statements:
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, datetime('now'))",
                    (migration.version, migration.name),
                )
                applied.append(migration.version)
        return applied

    def schema_version(self) -> int:
        try:
            row = self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0] or 0)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        # IMMEDIATE takes the write lock up front, so read-then-write sequences cannot interleave.
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    # -- alerts and cases ------------------------------------------------------------------
    def add_alert(self, alert: Alert, received_at: datetime) -> int | None:
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO alerts (event_id, rule, time_ms, priority, tier, actions, victim_key, "
            "entity_key, typology, mode, score, reasons, payee_account, payee_bank, amount, transfer_id, "
            "case_id, received_at_ms, victim_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert.event_id,
                alert.rule,
                to_ms(alert.time),
                alert.priority,
                alert.tier,
                _json(list(alert.actions)),
                alert.victim_key,
                alert.entity_key,
                alert.typology,
                alert.mode,
                alert.score,
                _json(list(alert.reasons)),
                alert.payee_account,
                alert.payee_bank,
                alert.amount,
                alert.transfer_id,
                alert.case_id,
                to_ms(received_at),
                alert.victim_kind,
            ),
        )
        return int(cur.lastrowid) if cur.rowcount else None

    def attach_alert(self, alert_id: int, case_id: int) -> None:
        self._conn.execute("UPDATE alerts SET case_id = ? WHERE alert_id = ?", (case_id, alert_id))

    @staticmethod
    def _case(row: sqlite3.Row) -> Case:
        return Case(
            case_id=row["case_id"],
            case_uid=row["case_uid"],
            victim_key=row["victim_key"],
            status=row["status"],
            tier=row["tier"],
            typology=row["typology"],
            rule=row["rule"],
            opened_at=from_ms(row["opened_at_ms"]),
            active_since=from_ms(row["active_since_ms"]),
            last_alert_at=from_ms(row["last_alert_at_ms"]),
            max_score=row["max_score"],
            contact_state=row["contact_state"],
            closed_at=_opt_dt(row["closed_at_ms"]),
            resolution=row["resolution"],
            first_contact_at=_opt_dt(row["first_contact_at_ms"]),
            victim_kind=row["victim_kind"],
        )

    def latest_case(self, victim_key: str, victim_kind: str = "phone") -> Case | None:
        row = self._conn.execute(
            "SELECT * FROM cases WHERE victim_kind = ? AND victim_key = ? "
            "ORDER BY last_alert_at_ms DESC, case_id DESC LIMIT 1",
            (victim_kind, victim_key),
        ).fetchone()
        return None if row is None else self._case(row)

    def get_case(self, case_id: int) -> Case:
        row = self._conn.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if row is None:
            raise KeyError(f"case {case_id} does not exist in store {self.path}")
        return self._case(row)

    def create_case(self, case: Case) -> Case:
        cur = self._conn.execute(
            "INSERT INTO cases (case_uid, victim_key, status, tier, typology, rule, opened_at_ms, active_since_ms, "
            "last_alert_at_ms, max_score, contact_state, closed_at_ms, resolution, first_contact_at_ms, victim_kind) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                case.case_uid,
                case.victim_key,
                case.status,
                case.tier,
                case.typology,
                case.rule,
                to_ms(case.opened_at),
                to_ms(case.active_since),
                to_ms(case.last_alert_at),
                case.max_score,
                case.contact_state,
                _opt_ms(case.closed_at),
                case.resolution,
                _opt_ms(case.first_contact_at),
                case.victim_kind,
            ),
        )
        return self.get_case(int(cur.lastrowid))

    def update_case(self, case_id: int, **fields: Any) -> None:
        if not fields:
            return
        sets, values = _column_updates(fields, _CASE_FIELDS, f"case {case_id}")
        self._conn.execute(f"UPDATE cases SET {sets} WHERE case_id = ?", (*values, case_id))

    def case_page(self, status: str | None = "open", limit: int = 100) -> list[Case]:
        rank = " ".join(f"WHEN '{tier}' THEN {i}" for i, tier in enumerate(TIERS))
        where, args = ("WHERE status = ?", [status]) if status is not None else ("", [])
        rows = self._conn.execute(
            f"SELECT * FROM cases {where} ORDER BY CASE tier {rank} ELSE {len(TIERS)} END, last_alert_at_ms DESC, "
            "case_id DESC LIMIT ?",
            (*args, int(limit)),
        ).fetchall()
        return [self._case(r) for r in rows]

    def case_assignees(self, case_ids: Sequence[int]) -> dict[int, str]:
        ids = [int(i) for i in case_ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        # The latest claim/release mark per case decides; one row per case comes back.
        rows = self._conn.execute(
            "SELECT e.case_id, e.kind, e.detail FROM case_events e JOIN ("
            f"  SELECT case_id, MAX(case_event_id) AS last FROM case_events WHERE kind IN ('claimed', 'released') "
            f"  AND case_id IN ({marks}) GROUP BY case_id"
            ") m ON e.case_event_id = m.last",
            ids,
        ).fetchall()
        return {int(r[0]): json.loads(r[2])["agent"] for r in rows if r[1] == "claimed"}

    def case_counts(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT status, COUNT(*) FROM cases GROUP BY status").fetchall()
        return {r[0]: r[1] for r in rows}

    def case_alerts(self, case_id: int) -> list[Alert]:
        rows = self._conn.execute(
            "SELECT * FROM alerts WHERE case_id = ? ORDER BY time_ms, alert_id", (case_id,)
        ).fetchall()
        return [
            Alert(
                event_id=r["event_id"],
                time=from_ms(r["time_ms"]),
                rule=r["rule"],
                priority=r["priority"],
                tier=r["tier"],
                actions=tuple(json.loads(r["actions"])),
                victim_key=r["victim_key"],
                entity_key=r["entity_key"],
                typology=r["typology"],
                mode=r["mode"],
                score=r["score"],
                reasons=tuple(json.loads(r["reasons"])),
                payee_account=r["payee_account"],
                payee_bank=r["payee_bank"],
                amount=r["amount"],
                transfer_id=r["transfer_id"],
                victim_kind=r["victim_kind"],
                alert_id=r["alert_id"],
                case_id=r["case_id"],
            )
            for r in rows
        ]

    def add_case_event(
        self, case_id: int, at: datetime, kind: str, detail: dict[str, Any] | None = None
    ) -> None:
        self._conn.execute(
            "INSERT INTO case_events (case_id, at_ms, kind, detail) VALUES (?, ?, ?, ?)",
            (case_id, to_ms(at), kind, _json(detail or {})),
        )

    def case_timeline(self, case_id: int) -> list[tuple[datetime, str, dict[str, Any]]]:
        rows = self._conn.execute(
            "SELECT at_ms, kind, detail FROM case_events WHERE case_id = ? ORDER BY case_event_id", (case_id,)
        ).fetchall()
        return [(from_ms(r[0]), r[1], json.loads(r[2])) for r in rows]

    # -- outbox ----------------------------------------------------------------------------
    @staticmethod
    def _action(row: sqlite3.Row) -> Action:
        return Action(
            action_id=row["action_id"],
            case_id=row["case_id"],
            kind=row["kind"],
            idempotency_key=row["idempotency_key"],
            payload=json.loads(row["payload"]),
            status=row["status"],
            attempts=row["attempts"],
            lease_expiries=row["lease_expiries"],
            next_attempt_at=from_ms(row["next_attempt_at_ms"]),
            created_at=from_ms(row["created_at_ms"]),
            subject=row["subject"],
            leased_until=_opt_dt(row["leased_until_ms"]),
            lease_token=row["lease_token"],
            last_error=row["last_error"],
            outcome=row["outcome"],
            result=json.loads(row["result"]),
            done_at=_opt_dt(row["done_at_ms"]),
        )

    def enqueue_action(self, action: NewAction, now: datetime) -> int | None:
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO actions (case_id, kind, idempotency_key, subject, payload, status, "
            "next_attempt_at_ms, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            (
                action.case_id,
                action.kind,
                action.idempotency_key,
                action.subject,
                _json(action.payload),
                to_ms(action.due_at),
                to_ms(now),
                to_ms(now),
            ),
        )
        return int(cur.lastrowid) if cur.rowcount else None

    def get_action(self, action_id: int) -> Action:
        row = self._conn.execute("SELECT * FROM actions WHERE action_id = ?", (action_id,)).fetchone()
        if row is None:
            raise KeyError(f"action {action_id} does not exist in store {self.path}")
        return self._action(row)

    def action_by_key(self, idempotency_key: str) -> Action | None:
        row = self._conn.execute(
            "SELECT * FROM actions WHERE idempotency_key = ?", (idempotency_key,)
        ).fetchone()
        return None if row is None else self._action(row)

    def case_actions(self, case_id: int, kind: str | None = None) -> list[Action]:
        if kind is None:
            rows = self._conn.execute(
                "SELECT * FROM actions WHERE case_id = ? ORDER BY action_id", (case_id,)
            )
        else:
            rows = self._conn.execute(
                "SELECT * FROM actions WHERE case_id = ? AND kind = ? ORDER BY action_id", (case_id, kind)
            )
        return [self._action(r) for r in rows.fetchall()]

    def count_case_actions(self, case_id: int, kind: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM actions WHERE case_id = ? AND kind = ?", (case_id, kind)
        ).fetchone()
        return int(row[0])

    def count_actions(self, kind: str, subject: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM actions WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        return int(row[0])

    def claim_actions(self, now: datetime, lease_until: datetime, token: str, limit: int) -> list[Action]:
        now_ms = to_ms(now)
        with self.transaction():
            # One indexed range query per state (an OR across states would scan the whole outbox).
            expired = self._conn.execute(
                "SELECT leased_until_ms, action_id FROM actions WHERE status = 'in_flight' AND leased_until_ms <= ? "
                "ORDER BY leased_until_ms, action_id LIMIT 1",
                (now_ms,),
            ).fetchall()
            chosen: list[tuple[int, int, bool]]
            if expired:
                # An action left behind by a dead worker is taken alone: if it is what killed that
                # worker, it can only take itself down again, not a batch of innocent actions.
                chosen = [(expired[0][0], expired[0][1], True)]
            else:
                due: list[tuple[int, int, bool]] = []
                for status in ("pending", "failed"):
                    due += [
                        (row[0], row[1], False)
                        for row in self._conn.execute(
                            "SELECT next_attempt_at_ms, action_id FROM actions WHERE status = ? "
                            "AND next_attempt_at_ms <= ? ORDER BY next_attempt_at_ms LIMIT ?",
                            (status, now_ms, limit),
                        ).fetchall()
                    ]
                chosen = sorted(due)[:limit]
            if not chosen:
                return []
            ids = [action_id for _, action_id, _ in chosen]
            # A re-claim after an expired lease is not a new attempt: the worker that held it died,
            # perhaps before sending it at all (it may have been later in that worker's batch).
            for expired, counter in ((False, "attempts"), (True, "lease_expiries")):
                group = [action_id for _, action_id, was_in_flight in chosen if was_in_flight == expired]
                if group:
                    marks = ",".join("?" * len(group))
                    self._conn.execute(
                        f"UPDATE actions SET status = 'in_flight', {counter} = {counter} + 1, leased_until_ms = ?, "
                        f"lease_token = ?, updated_at_ms = ? WHERE action_id IN ({marks})",
                        (to_ms(lease_until), token, now_ms, *group),
                    )
            marks = ",".join("?" * len(ids))
            rows = self._conn.execute(
                f"SELECT * FROM actions WHERE action_id IN ({marks}) ORDER BY next_attempt_at_ms, action_id",
                ids,
            ).fetchall()
        return [self._action(r) for r in rows]

    def complete_action(self, action_id: int, token: str, outcome: Outcome, now: datetime) -> bool:
        with self.transaction():
            cur = self._conn.execute(
                "UPDATE actions SET status = 'done', done_at_ms = ?, updated_at_ms = ?, outcome = ?, result = ?, "
                "leased_until_ms = NULL, last_error = NULL "
                "WHERE action_id = ? AND status = 'in_flight' AND lease_token = ?",
                (to_ms(now), to_ms(now), outcome.outcome, _json(outcome.detail), action_id, token),
            )
            if not cur.rowcount:
                return False
            self.add_outcome(outcome)
        return True

    def fail_action(
        self, action_id: int, token: str, error: str, now: datetime, retry_at: datetime | None
    ) -> bool:
        status = "dead" if retry_at is None else "failed"
        cur = self._conn.execute(
            "UPDATE actions SET status = ?, last_error = ?, updated_at_ms = ?, leased_until_ms = NULL, "
            "next_attempt_at_ms = COALESCE(?, next_attempt_at_ms) "
            "WHERE action_id = ? AND status = 'in_flight' AND lease_token = ?",
            (status, error[:2000], to_ms(now), _opt_ms(retry_at), action_id, token),
        )
        return bool(cur.rowcount)

    def cancel_pending(self, case_id: int, kind: str, reason: str, now: datetime) -> int:
        cur = self._conn.execute(
            "UPDATE actions SET status = 'cancelled', last_error = ?, updated_at_ms = ? "
            "WHERE case_id = ? AND kind = ? AND status IN ('pending', 'failed')",
            (reason, to_ms(now), case_id, kind),
        )
        return int(cur.rowcount)

    def next_wakeup(self) -> datetime | None:
        times = [
            self._conn.execute(f"SELECT MIN({column}) FROM actions WHERE status = ?", (status,)).fetchone()[0]
            for status, column in (
                ("pending", "next_attempt_at_ms"),
                ("failed", "next_attempt_at_ms"),
                ("in_flight", "leased_until_ms"),
            )
        ]
        known = [t for t in times if t is not None]
        return from_ms(min(known)) if known else None

    def action_status_counts(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT status, COUNT(*) FROM actions GROUP BY status ORDER BY status")
        return {r[0]: int(r[1]) for r in rows.fetchall()}

    # -- outcomes, agents, labels, audit ---------------------------------------------------
    def add_outcome(self, outcome: Outcome) -> int | None:
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO outcomes (key, case_id, action_id, source, outcome, at_ms, detail, amount_held, "
            "handled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                outcome.key,
                outcome.case_id,
                outcome.action_id,
                outcome.source,
                outcome.outcome,
                to_ms(outcome.at),
                _json(outcome.detail),
                outcome.amount_held,
                int(outcome.handled),
            ),
        )
        return int(cur.lastrowid) if cur.rowcount else None

    def unhandled_outcomes(self, limit: int = 1000) -> list[Outcome]:
        rows = self._conn.execute(
            "SELECT * FROM outcomes WHERE handled = 0 ORDER BY outcome_id LIMIT ?", (limit,)
        ).fetchall()
        return [
            Outcome(
                key=r["key"],
                case_id=r["case_id"],
                source=r["source"],
                outcome=r["outcome"],
                at=from_ms(r["at_ms"]),
                action_id=r["action_id"],
                detail=json.loads(r["detail"]),
                amount_held=r["amount_held"],
                outcome_id=r["outcome_id"],
                handled=bool(r["handled"]),
            )
            for r in rows
        ]

    def mark_outcome_handled(self, outcome_id: int) -> None:
        self._conn.execute("UPDATE outcomes SET handled = 1 WHERE outcome_id = ?", (outcome_id,))

    @staticmethod
    def _task(row: sqlite3.Row) -> AgentTask:
        return AgentTask(
            task_id=row["task_id"],
            case_id=row["case_id"],
            action_id=row["action_id"],
            created_at=from_ms(row["created_at_ms"]),
            due_at=from_ms(row["due_at_ms"]),
            status=row["status"],
            breached_at=_opt_dt(row["breached_at_ms"]),
            disposition=row["disposition"],
            done_at=_opt_dt(row["done_at_ms"]),
        )

    def add_agent_task(self, case_id: int, action_id: int, created_at: datetime, due_at: datetime) -> int:
        cur = self._conn.execute(
            "INSERT INTO agent_tasks (case_id, action_id, created_at_ms, due_at_ms, status) "
            "VALUES (?, ?, ?, ?, 'open')",
            (case_id, action_id, to_ms(created_at), to_ms(due_at)),
        )
        return int(cur.lastrowid)

    def open_agent_task(self, case_id: int) -> AgentTask | None:
        row = self._conn.execute(
            "SELECT * FROM agent_tasks WHERE case_id = ? AND status = 'open' ORDER BY task_id LIMIT 1",
            (case_id,),
        ).fetchone()
        return None if row is None else self._task(row)

    def open_agent_tasks(self) -> list[AgentTask]:
        rows = self._conn.execute(
            "SELECT * FROM agent_tasks WHERE status = 'open' ORDER BY task_id"
        ).fetchall()
        return [self._task(r) for r in rows]

    def count_open_agent_tasks(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM agent_tasks WHERE status = 'open'").fetchone()[0])

    def due_agent_tasks(self, now: datetime) -> list[AgentTask]:
        rows = self._conn.execute(
            "SELECT * FROM agent_tasks WHERE status = 'open' AND breached_at_ms IS NULL AND due_at_ms <= ? "
            "ORDER BY due_at_ms, task_id",
            (to_ms(now),),
        ).fetchall()
        return [self._task(r) for r in rows]

    def update_agent_task(self, task_id: int, **fields: Any) -> None:
        if not fields:
            return
        sets, values = _column_updates(fields, _TASK_FIELDS, f"agent task {task_id}")
        self._conn.execute(f"UPDATE agent_tasks SET {sets} WHERE task_id = ?", (*values, task_id))

    def add_labels(self, labels: Sequence[Label]) -> int:
        new = 0
        for label in labels:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO labels (label_id, entity_type, entity_id, is_fraud, typology, known_at_ms, "
                "source, case_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    label.label_id,
                    label.entity_type,
                    label.entity_id,
                    int(label.is_fraud),
                    label.typology,
                    to_ms(label.known_at),
                    label.source,
                    label.case_id,
                ),
            )
            new += cur.rowcount
        return new

    def labels_since(self, since: datetime) -> pl.DataFrame:
        rows = self._conn.execute(
            "SELECT label_id, entity_type, entity_id, is_fraud, typology, known_at_ms, source FROM labels "
            "WHERE known_at_ms >= ? ORDER BY known_at_ms, label_id",
            (to_ms(since),),
        ).fetchall()
        raw = pl.DataFrame(
            {
                "label_id": [r[0] for r in rows],
                "entity_type": [r[1] for r in rows],
                "entity_id": [r[2] for r in rows],
                "is_fraud": [bool(r[3]) for r in rows],
                "typology": [r[4] for r in rows],
                "known_at": [r[5] for r in rows],
                "source": [r[6] for r in rows],
            },
            schema={
                "label_id": pl.String,
                "entity_type": pl.String,
                "entity_id": pl.String,
                "is_fraud": pl.Boolean,
                "typology": pl.String,
                "known_at": pl.Int64,
                "source": pl.String,
            },
        )
        target = LABELS.polars_schema()
        return raw.with_columns(
            pl.col("known_at").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
        ).select([pl.col(name).cast(dtype) for name, dtype in target.items()])

    def audit(
        self, at: datetime, actor: str, op: str, subject: str, detail: dict[str, Any] | None = None
    ) -> None:
        self._conn.execute(
            "INSERT INTO audit_log (at_ms, actor, op, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (to_ms(at), actor, op, subject, _json(detail or {})),
        )

    def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        rows = self._conn.execute(
            "SELECT audit_id, at_ms, actor, op, subject, detail FROM audit_log ORDER BY audit_id DESC LIMIT ?",
            (int(limit),),
        ).fetchall()
        return [AuditEntry(r[0], from_ms(r[1]), r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def table(self, name: str) -> pl.DataFrame:
        if name not in _TABLES:
            raise ValueError(f"unknown table {name!r}; expected one of {list(_TABLES)}")
        cur = self._conn.execute(f"SELECT * FROM {name}")
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
        frame = pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row", infer_schema_length=None)
        times = [c for c in columns if c.endswith("_ms")]
        return frame.with_columns(
            [
                pl.col(c).cast(pl.Int64).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").alias(c[:-3])
                for c in times
            ]
        ).drop(times)
