"""The SQLite store: migrations, WAL, concurrent readers, the outbox lease protocol, labels."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from fraud_brain.schema import LABELS
from fraud_brain.store import Alert, Case, Label, NewAction, Outcome, SQLiteRepository
from fraud_brain.store.migrations import MIGRATIONS

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _case(repo: SQLiteRepository, victim: str = "13800000001", uid: str = "case-1") -> Case:
    return repo.create_case(Case(0, uid, victim, "open", "hour", None, "r", T0, T0, T0, 0.5))


def _action(
    case_id: int, key: str, due: datetime = T0, kind: str = "officer_alert", subject: str | None = None
) -> NewAction:
    return NewAction(case_id, kind, key, {"victim": "13800000001"}, due, subject=subject)


def test_migrations_are_idempotent_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    first = SQLiteRepository(path)
    assert first.schema_version() == MIGRATIONS[-1].version
    assert first.migrate() == []
    first.close()
    second = SQLiteRepository(path)
    assert second.migrate() == []
    rows = sqlite3.connect(path).execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]


def test_unmigrated_store_migrates_stepwise(tmp_path: Path) -> None:
    repo = SQLiteRepository(tmp_path / "s.db", migrate=False)
    assert repo.schema_version() == 0
    assert repo.migrate() == [m.version for m in MIGRATIONS]
    assert repo.migrate() == []


def test_concurrent_migrations_apply_each_step_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def open_and_migrate() -> None:
        try:
            repo = SQLiteRepository(path, migrate=False)
            applied.append(repo.migrate())
            repo.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(v for versions in applied for v in versions) == [m.version for m in MIGRATIONS]


def test_file_store_uses_wal(tmp_path: Path) -> None:
    repo = SQLiteRepository(tmp_path / "wal.db")
    assert repo.journal_mode() == "wal"
    assert (tmp_path / "wal.db-wal").exists()


def test_reader_reads_committed_state_while_a_writer_holds_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "rw.db"
    writer = SQLiteRepository(path)
    reader = SQLiteRepository(path)
    case = _case(writer)
    with writer.transaction():
        for i in range(50):
            writer.enqueue_action(_action(case.case_id, f"k{i}"), T0)
        # WAL: the reader neither blocks nor sees the uncommitted rows.
        assert reader.action_status_counts() == {}
        assert reader.get_case(case.case_id).victim_key == "13800000001"
    assert reader.action_status_counts() == {"pending": 50}


def test_failed_transaction_rolls_back_everything(tmp_path: Path) -> None:
    repo = SQLiteRepository(tmp_path / "tx.db")
    case = _case(repo)
    with pytest.raises(RuntimeError), repo.transaction():
        repo.enqueue_action(_action(case.case_id, "a"), T0)
        repo.add_case_event(case.case_id, T0, "x")
        raise RuntimeError("boom")
    assert repo.action_status_counts() == {}
    assert repo.case_timeline(case.case_id) == []


def test_duplicate_alert_action_outcome_and_label_are_ignored() -> None:
    repo = SQLiteRepository(":memory:")
    alert = Alert("e1", T0, "r1", 1, "hour", ("voice_bot",), "13800000001")
    assert repo.add_alert(alert, T0) is not None
    assert repo.add_alert(alert, T0) is None
    case = _case(repo)
    assert repo.enqueue_action(_action(case.case_id, "k"), T0) is not None
    assert repo.enqueue_action(_action(case.case_id, "k"), T0) is None
    outcome = Outcome("o1", case.case_id, "agent", "prevented", T0)
    assert repo.add_outcome(outcome) is not None
    assert repo.add_outcome(outcome) is None
    label = Label("l1", "number", "17000000001", True, T0, "agent", "fake_loan")
    assert repo.add_labels([label, label]) == 1


def test_claim_leases_due_actions_once_and_reclaims_after_lease() -> None:
    repo = SQLiteRepository(":memory:")
    case = _case(repo)
    due_now = repo.enqueue_action(_action(case.case_id, "now"), T0)
    repo.enqueue_action(_action(case.case_id, "later", due=T0 + timedelta(minutes=5)), T0)
    lease = T0 + timedelta(seconds=30)
    claimed = repo.claim_actions(T0, lease, "w1", 10)
    assert [a.action_id for a in claimed] == [due_now]
    assert claimed[0].status == "in_flight" and claimed[0].attempts == 1
    assert repo.claim_actions(T0 + timedelta(seconds=10), lease, "w2", 10) == []
    reclaimed = repo.claim_actions(T0 + timedelta(seconds=31), T0 + timedelta(seconds=61), "w2", 1)
    assert [a.action_id for a in reclaimed] == [due_now]
    assert (reclaimed[0].attempts, reclaimed[0].lease_expiries) == (1, 1)
    # The first worker lost its lease: its late completion must not count.
    lost = Outcome("now:result", case.case_id, "officer_alert", "delivered", T0, due_now)
    assert not repo.complete_action(due_now, "w1", lost, T0 + timedelta(seconds=40))
    assert repo.complete_action(due_now, "w2", lost, T0 + timedelta(seconds=41))
    assert repo.get_action(due_now).status == "done"
    assert len(repo.unhandled_outcomes()) == 1
    assert repo.next_wakeup() == T0 + timedelta(minutes=5)


def test_fail_action_schedules_retry_or_dead() -> None:
    repo = SQLiteRepository(":memory:")
    case = _case(repo)
    action_id = repo.enqueue_action(_action(case.case_id, "k"), T0)
    repo.claim_actions(T0, T0 + timedelta(seconds=30), "w", 1)
    assert repo.fail_action(action_id, "w", "HTTP 500", T0, T0 + timedelta(seconds=5))
    failed = repo.get_action(action_id)
    assert (failed.status, failed.last_error, failed.next_attempt_at) == (
        "failed",
        "HTTP 500",
        T0 + timedelta(seconds=5),
    )
    assert repo.claim_actions(T0 + timedelta(seconds=4), T0 + timedelta(seconds=60), "w", 1) == []
    assert len(repo.claim_actions(T0 + timedelta(seconds=5), T0 + timedelta(seconds=60), "w", 1)) == 1
    assert repo.fail_action(action_id, "w", "HTTP 400", T0, None)
    assert repo.get_action(action_id).status == "dead"
    assert repo.next_wakeup() is None


def test_count_actions_by_subject() -> None:
    repo = SQLiteRepository(":memory:")
    case = _case(repo)
    for key in ("a", "b"):
        repo.enqueue_action(_action(case.case_id, key, kind="stop_payment", subject="MULE1"), T0)
    assert repo.count_actions("stop_payment", "MULE1") == 2
    assert repo.count_actions("stop_payment", "MULE2") == 0


def test_labels_since_has_the_labels_schema_and_filters_by_time() -> None:
    repo = SQLiteRepository(":memory:")
    repo.add_labels(
        [
            Label("l1", "transfer", "T1", True, T0, "agent", "fake_loan"),
            Label("l2", "account", "M1", True, T0 + timedelta(hours=1), "bank", None),
        ]
    )
    frame = repo.labels_since(T0 + timedelta(minutes=1))
    assert frame.schema == LABELS.polars_schema()
    assert frame["label_id"].to_list() == ["l2"]
    assert repo.labels_since(T0).height == 2
    assert repo.labels_since(T0 + timedelta(days=1)).schema == LABELS.polars_schema()


def test_agent_tasks_due_once() -> None:
    repo = SQLiteRepository(":memory:")
    case = _case(repo)
    action_id = repo.enqueue_action(_action(case.case_id, "agent", kind="agent_followup"), T0)
    task_id = repo.add_agent_task(case.case_id, action_id, T0, T0 + timedelta(minutes=10))
    assert repo.due_agent_tasks(T0 + timedelta(minutes=9)) == []
    assert [t.task_id for t in repo.due_agent_tasks(T0 + timedelta(minutes=10))] == [task_id]
    repo.update_agent_task(task_id, breached_at=T0 + timedelta(minutes=10))
    assert repo.due_agent_tasks(T0 + timedelta(hours=1)) == []
    assert repo.open_agent_task(case.case_id).breached_at == T0 + timedelta(minutes=10)


def test_update_rejects_unknown_fields_by_name() -> None:
    repo = SQLiteRepository(":memory:")
    case = _case(repo)
    with pytest.raises(ValueError, match=r"case 1.*\['victim'\]"):
        repo.update_case(case.case_id, victim="x")
    with pytest.raises(KeyError, match="case 99"):
        repo.get_case(99)


def test_table_frames_convert_times() -> None:
    repo = SQLiteRepository(":memory:")
    case = _case(repo)
    repo.add_case_event(case.case_id, T0, "opened", {"rule": "r"})
    events = repo.table("case_events")
    assert events["at"].dtype == pl.Datetime("ms", "UTC")
    assert events["at"].to_list() == [T0]
    with pytest.raises(ValueError, match="unknown table"):
        repo.table("sqlite_master")


def test_outbox_queries_use_indexes() -> None:
    repo = SQLiteRepository(":memory:")
    plans = {
        query: " ".join(row[-1] for row in repo._conn.execute("EXPLAIN QUERY PLAN " + query))
        for query in (
            "SELECT action_id FROM actions WHERE status = 'pending' AND next_attempt_at_ms <= 5 "
            "ORDER BY next_attempt_at_ms",
            "SELECT action_id FROM actions WHERE status = 'in_flight' AND leased_until_ms <= 5 "
            "ORDER BY leased_until_ms",
            "SELECT * FROM outcomes WHERE handled = 0 ORDER BY outcome_id LIMIT 5",
            "SELECT * FROM cases WHERE victim_key = 'x' ORDER BY last_alert_at_ms DESC LIMIT 1",
            "SELECT * FROM agent_tasks WHERE case_id = 1 AND status = 'open'",
        )
    }
    for query, plan in plans.items():
        assert "INDEX" in plan and "SCAN" not in plan, (query, plan)


def test_a_store_from_before_victim_kinds_keeps_its_cases_as_phone_victims(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for migration in MIGRATIONS[:4]:
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))", (migration.version, migration.name)
        )
    conn.execute(
        "INSERT INTO cases (case_uid, victim_key, status, tier, rule, opened_at_ms, active_since_ms, last_alert_at_ms, "
        "max_score) VALUES ('case-old', '13800000001', 'open', 'hour', 'r', 0, 0, 0, 0.5)"
    )
    conn.close()
    repo = SQLiteRepository(path)
    assert repo.schema_version() == MIGRATIONS[-1].version
    old = repo.latest_case("13800000001")
    assert old is not None and (old.case_uid, old.victim_kind, old.has_phone) == ("case-old", "phone", True)
    assert repo.latest_case("13800000001", "account") is None


def test_cases_and_alerts_are_keyed_by_victim_kind_and_key() -> None:
    repo = SQLiteRepository(":memory:")
    phone = _case(repo, "6222000011", "case-p")
    account = repo.create_case(
        Case(0, "case-a", "6222000011", "open", "minute", None, "r", T0, T0, T0, 0.9, victim_kind="account")
    )
    assert repo.latest_case("6222000011").case_id == phone.case_id
    assert repo.latest_case("6222000011", "account").case_id == account.case_id
    alert_id = repo.add_alert(
        Alert("t1", T0, "r", 1, "minute", ("stop_payment",), "6222000011", victim_kind="account"), T0
    )
    assert alert_id is not None
    repo.attach_alert(alert_id, account.case_id)
    assert [a.victim_kind for a in repo.case_alerts(account.case_id)] == ["account"]
    with pytest.raises(sqlite3.IntegrityError):
        repo.create_case(Case(0, "case-x", "x", "open", "hour", None, "r", T0, T0, T0, 0.1, victim_kind="email"))


def test_case_page_counts_and_assignees_match_a_reading_of_the_whole_tables() -> None:
    """The queue's queries (a page, assignees of a page, counts) against the whole-table reference."""
    import random

    from fraud_brain.vocabulary import TIER_RANK, TIERS

    repo = SQLiteRepository(":memory:")
    rng = random.Random(3)
    for i in range(40):
        tier = rng.choice(TIERS)
        at = T0 + timedelta(minutes=rng.randrange(30))
        case = repo.create_case(Case(0, f"case-{i}", f"1380000{i:04d}", rng.choice(["open", "closed"]), tier, None, "r",
                                     at, at, at, 0.5))
        for _ in range(rng.randrange(4)):
            agent = rng.choice(["alice", "bob"])
            repo.add_case_event(case.case_id, T0, rng.choice(["claimed", "released", "alert"]), {"agent": agent})
    cases = repo.table("cases")
    for status in ("open", "closed", None):
        page = repo.case_page(status, limit=7)
        rows = [r for r in cases.iter_rows(named=True) if status is None or r["status"] == status]
        rows.sort(key=lambda r: (TIER_RANK[r["tier"]], -r["last_alert_at"].timestamp(), -r["case_id"]))
        assert [c.case_id for c in page] == [r["case_id"] for r in rows[:7]]
    expected: dict[int, str] = {}
    for row in repo.table("case_events").sort("case_event_id").iter_rows(named=True):
        if row["kind"] == "claimed":
            expected[row["case_id"]] = row["detail"] and __import__("json").loads(row["detail"])["agent"]
        elif row["kind"] == "released":
            expected.pop(row["case_id"], None)
    assert repo.case_assignees(list(range(1, 41))) == expected
    assert repo.case_assignees([]) == {}
    assert repo.case_counts() == dict(cases.group_by("status").len().iter_rows())
    repo.audit(T0, "agent:alice", "claim_case", "case-1", {"case_id": 1})
    repo.audit(T0, "admin:root", "reload", "rules")
    assert [(e.op, e.detail) for e in repo.audit_entries(5)] == [("reload", {}), ("claim_case", {"case_id": 1})]


def test_case_queue_queries_use_indexes() -> None:
    repo = SQLiteRepository(":memory:")
    for query in (
        "SELECT * FROM cases WHERE status = 'open' ORDER BY last_alert_at_ms DESC LIMIT 5",
        "SELECT case_id, MAX(case_event_id) FROM case_events "
        "WHERE kind IN ('claimed', 'released') AND case_id IN (1, 2) GROUP BY case_id",
    ):
        plan = " ".join(row[-1] for row in repo._conn.execute("EXPLAIN QUERY PLAN " + query))
        assert "INDEX" in plan and "SCAN" not in plan, (query, plan)
