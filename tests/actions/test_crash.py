"""Kill the worker with SIGKILL mid-delivery; a restarted worker finishes every action exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from .conftest import SECRET, Receiver

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
VICTIMS = 30


def _start(db: Path, receiver: Receiver) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), receiver.url, SECRET.decode(), str(VICTIMS)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _statuses(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT idempotency_key, status FROM actions").fetchall())


def test_sigkill_mid_delivery_then_restart_delivers_every_action_exactly_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    db = tmp_path / "outbox.db"
    receiver.hang_on_delivery = 25  # the 25th fresh effect is applied, then its answer never comes
    worker = _start(db, receiver)
    try:
        assert receiver.hanging.wait(timeout=60), "the worker never reached the 25th delivery"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    before = _statuses(db)
    # One action per claim: 24 recorded done, the 25th in flight, the rest never started.
    assert len(before) == VICTIMS * 3 + 7 * 2  # bot, agent, officer each; two stop-payments per mule account
    assert sorted(before.values()).count("done") == 24
    assert list(before.values()).count("in_flight") == 1
    hung_key = next(k for k, s in before.items() if s == "in_flight")
    assert receiver.effects[hung_key] == 1  # its effect happened; the worker died before recording it

    receiver.hang_on_delivery = None
    restarted = _start(db, receiver)
    _, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err[-2000:]

    after = _statuses(db)
    assert set(after) == set(before), "re-ingesting the same decisions added no actions"
    assert set(after.values()) == {"done"}
    assert set(receiver.effects) == set(after), "no action lost"
    assert all(n == 1 for n in receiver.effects.values()), "no effect doubled"
    assert receiver.deliveries[hung_key] == 2, "the in-flight action was re-sent with the same key"
    assert receiver.body_mismatches == 0 and receiver.bad_signatures == 0
