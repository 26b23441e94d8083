"""Acknowledged means durable: ``kill -9`` a real ``fraud-brain serve`` ten times and lose nothing.

The driver is benchmarks/crash_drill.py (its longer run is the week-long drill): a feed sends
calls, transfers and labels in small batches over HTTP with the action pump on; a killer sends
SIGKILL at seeded random moments; every batch without a 2xx is re-sent to a server restarted on
the same state folder. The store must end exactly as an uninterrupted run's on a fresh folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.crash_drill import Server, compare, run, sample_batches


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, bytes]]]:
    return sample_batches(hours=3, seed=3, folder=tmp_path_factory.mktemp("feed"))


def test_kill_9_at_ten_random_points_ends_exactly_as_an_uninterrupted_run(tmp_path: Path, feed) -> None:
    """Without the action pump the run is a function of the records alone: the store must match exactly.

    (With the pump on, the workflow's outcomes come back as labels stamped with the wall clock,
    which today move the engine's one event-time watermark: two uninterrupted runs already differ.
    Once labels never move the records' event time, this test can run with the pump on.)
    """
    data, batches = feed
    (tmp_path / "straight").mkdir()
    (tmp_path / "crashed").mkdir()
    straight = run(tmp_path / "straight", data, batches, kills=0, seed=1, pump_seconds=0)
    assert straight.tables["alerts"].height > 0 and straight.tables["actions"].height > 0
    crashed = run(tmp_path / "crashed", data, batches, kills=10, seed=1, pause=(0.3, 1.5), pump_seconds=0)
    assert crashed.kills == 10 and crashed.resent >= 10
    assert crashed.replay_records == 0  # every acknowledged record had been taken by the engine...
    assert crashed.replay_duplicates == straight.replay_duplicates  # ...and exactly once
    assert compare(straight, crashed) == {"alerts": "identical", "cases": "identical", "actions": "identical"}


def test_kill_9_with_the_action_pump_on_loses_no_acknowledged_record(tmp_path: Path, feed) -> None:
    """The pump writes outcomes and labels meanwhile; every acknowledged record is still taken, once."""
    data, batches = feed
    crashed = run(tmp_path, data, batches[: len(batches) // 2], kills=10, seed=2, pause=(0.3, 1.2), pump_seconds=0.3)
    assert crashed.kills == 10 and crashed.resent >= 10
    assert crashed.replay_records == 0 and crashed.replay_duplicates > 0
    assert crashed.tables["alerts"].height > 0


def test_a_second_server_on_the_same_state_folder_exits_with_a_clear_error(tmp_path: Path, feed) -> None:
    data, _ = feed
    (tmp_path / "state").mkdir()
    first = Server(tmp_path / "state", data, pump_seconds=5)
    first.start()
    try:
        second = subprocess.run(
            [sys.executable, "-c", "from fraud_brain.cli import main; main()", "serve", "--port", "1",
             "--keys", str(tmp_path / "keys.toml"), "--state-dir", str(tmp_path / "state"),
             "--subscribers", str(data / "subscribers.parquet")],
            capture_output=True, text=True, timeout=120,
        )
    finally:
        first.stop()
    assert second.returncode == 2
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: state folder")
    assert f"in use by pid {first.process.pid}" in lines[0]


def test_a_torn_snapshot_is_passed_over_and_health_says_so(tmp_path: Path, feed) -> None:
    import httpx

    from benchmarks.crash_drill import _post

    data, batches = feed
    (tmp_path / "state").mkdir()
    server = Server(tmp_path / "state", data, pump_seconds=5)
    server.start()
    sent = 0
    with httpx.Client(timeout=60) as client:
        while sent < len(batches) and len(list((tmp_path / "state" / "snapshots").glob("snap-*"))) < 2:
            kind, body = batches[sent]
            assert _post(client, server.url, kind, body).status_code == 200
            sent += 1
    server.stop()  # a clean stop checkpoints: the newest snapshot covers everything
    snapshots = sorted((tmp_path / "state" / "snapshots").iterdir(), key=lambda p: p.name)
    assert len(snapshots) >= 2
    newest = snapshots[-1]
    torn = next(newest.rglob("state.npz"))
    torn.write_bytes(torn.read_bytes()[:100])
    server.start()
    try:
        health = httpx.get(f"{server.url}/health", timeout=10).json()
        assert health["status"] == "ok"
        assert health["recovery"]["snapshot"] != newest.name
        assert newest.name in health["warnings"][0] and "older snapshot" in health["warnings"][0]
        with httpx.Client(timeout=60) as client:  # the log after the older snapshot was replayed
            again = [_post(client, server.url, kind, body).json() for kind, body in batches[:sent] if kind != "label"]
        assert all(a["duplicates"] == a["accepted"] for a in again)
    finally:
        server.stop()
