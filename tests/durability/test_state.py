"""DurableState: lock → newest good snapshot → WAL replay after it, including fallback and lost entries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraud_brain.durability.state import DurableState
from fraud_brain.errors import StateError

ROOT = Path(__file__).resolve().parents[2]


def recovered(state: DurableState) -> list[str]:
    """The toy state (a list of appended records) rebuilt from the snapshot plus the replayed log."""
    base = json.loads(state.snapshot.read_bytes("records")) if state.snapshot else []
    return base + [entry.payload.decode() for entry in state.replay()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(["append", "append", "append", "checkpoint", "damage newest", "reopen"]),
                      max_size=40))
def test_recovery_rebuilds_exactly_the_acknowledged_state(tmp_path_factory: pytest.TempPathFactory,
                                                          steps: list[str]) -> None:
    folder = tmp_path_factory.mktemp("state")
    truth: list[str] = []
    state = DurableState(folder, keep=2, sync="none", segment_bytes=120)
    assert recovered(state) == []
    for step in steps:
        if step == "append":
            record = f"r{len(truth)}"
            assert state.wal.append(record.encode(), header="call") == len(truth) + 1
            truth.append(record)
        elif step == "checkpoint":
            state.checkpoint({"records": json.dumps(truth).encode()}, wal_seq=len(truth))
        elif step == "damage newest":
            # only while another good snapshot is left: with none, the entries it covered are gone
            good = [s.snapshot for s in state.snapshots.scan() if s.snapshot is not None]
            if len(good) >= 2:
                good[0].path("records").write_bytes(b"[garbage")
        elif step == "reopen":
            state.close()
            state = DurableState(folder, keep=2, sync="none", segment_bytes=120)
            assert recovered(state) == truth
            truth = recovered(state)
    state.close()
    with DurableState(folder, keep=2) as state:
        assert recovered(state) == truth


def test_fallback_to_the_previous_snapshot_is_reported(tmp_path: Path) -> None:
    with DurableState(tmp_path, segment_bytes=100) as state:
        for i in range(10):
            state.wal.append(f"r{i}".encode())
        state.checkpoint({"records": json.dumps([f"r{i}" for i in range(10)]).encode()}, wal_seq=10)
        for i in range(10, 20):
            state.wal.append(f"r{i}".encode())
        bad = state.checkpoint({"records": json.dumps([f"r{i}" for i in range(20)]).encode()}, wal_seq=20)
        state.wal.append(b"r20")
    bad.path("records").write_bytes(b"torn")
    with DurableState(tmp_path) as state:
        assert state.snapshot is not None and state.snapshot.wal_seq == 10
        assert len(state.skipped) == 1 and bad.folder.name in state.skipped[0]
        assert recovered(state) == [f"r{i}" for i in range(21)]


def test_a_log_that_no_longer_reaches_the_snapshot_is_an_error(tmp_path: Path) -> None:
    with DurableState(tmp_path, segment_bytes=60) as state:
        for i in range(8):
            state.wal.append(f"record {i}".encode())
    segments = sorted((tmp_path / "wal").glob("wal-*.seg"))
    segments[0].unlink()  # entries with no snapshot to cover them
    with pytest.raises(StateError, match=r"from no snapshot \(empty state\) at WAL seq 0, but the log begins at seq"):
        DurableState(tmp_path)
    # the failed open let go of the lock, and the message names the lost entries
    first_left = int(segments[1].name[4:-4])
    with pytest.raises(StateError, match=f"entries 1..{first_left - 1} are lost"):
        DurableState(tmp_path)


def test_every_snapshot_damaged_after_the_log_was_trimmed_names_what_was_skipped(tmp_path: Path) -> None:
    with DurableState(tmp_path, keep=1, segment_bytes=60) as state:
        for i in range(6):
            seq = state.wal.append(f"record {i}".encode())
        only = state.checkpoint({"records": b"[]"}, wal_seq=seq)
    assert int(min((tmp_path / "wal").glob("wal-*.seg")).name[4:-4]) > 1  # the log was trimmed
    only.path("records").write_bytes(b"rot")
    with pytest.raises(StateError, match=r"are lost .*; skipped snap-000000000001: part 'records' file"):
        DurableState(tmp_path)


def test_checkpoint_syncs_the_log_before_covering_it(tmp_path: Path) -> None:
    with DurableState(tmp_path, sync="group") as state:
        seq = state.wal._write(b"written, not yet synced", "")  # an append still waiting for its group sync
        assert state.wal.durable_seq < seq
        snap = state.checkpoint({"records": b"[]"}, wal_seq=seq)
        assert snap.wal_seq == seq and state.wal.durable_seq >= seq
        with pytest.raises(StateError, match=f"cannot cover WAL seq {seq + 1}, the log ends at {seq}"):
            state.checkpoint({"records": b"[]"}, wal_seq=seq + 1)


HOLDER = """
import sys, time
from fraud_brain.durability.state import DurableState
state = DurableState(sys.argv[1])
state.wal.append(b"from the first server")
print("open", flush=True)
time.sleep(120)
"""


def test_a_second_server_on_the_same_folder_is_refused_until_the_first_dies(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "open"
        with pytest.raises(StateError, match=f"state folder {tmp_path} is in use by pid {child.pid}"):
            DurableState(tmp_path)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    with DurableState(tmp_path) as state:
        assert [e.payload for e in state.replay()] == [b"from the first server"]


WORKER = """
import json, sys
from fraud_brain.durability.state import DurableState
folder, round_no = sys.argv[1], sys.argv[2]
state = DurableState(folder, keep=2, segment_bytes=50_000)
base = json.loads(state.snapshot.read_bytes("records")) if state.snapshot else []
records = base + [entry.payload.decode() for entry in state.replay()]
print("ready", len(state.skipped), flush=True)
i = 0
while True:
    record = f"{round_no}:{i}"
    seq = state.wal.append(record.encode(), header="call")
    records.append(record)
    print(record, flush=True)
    if i % 25 == 24:  # a snapshot with some bulk, so that kills also land while one is written
        state.checkpoint({"records": json.dumps(records).encode(), "bulk": bytes(300_000)}, wal_seq=seq)
    i += 1
"""


def test_kill_9_during_appends_and_snapshots_recovers_every_acknowledged_record(tmp_path: Path) -> None:
    import random
    import time

    rng = random.Random(5)
    acknowledged: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_no in range(6):
        child = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(round_no)],
                                 stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        assert child.stdout is not None
        assert child.stdout.readline().split()[0] == "ready"
        first = child.stdout.readline()  # at least one acknowledgement per round, however slow the disk
        time.sleep(rng.uniform(0.1, 0.8))
        os.kill(child.pid, signal.SIGKILL)
        acknowledged += (first + child.stdout.read()).split("\n")[:-1]
        child.wait()
    with DurableState(tmp_path, keep=2) as state:
        records = recovered(state)
    assert len(acknowledged) >= 6
    assert len(records) == len(set(records)), "a record came back twice"
    assert set(acknowledged) <= set(records), "an acknowledged record was lost"
    rounds = [int(r.split(":")[0]) for r in records]
    assert rounds == sorted(rounds), "records of a later run came back before an earlier run's"
    for round_no in range(6):
        mine = [r for r in records if r.startswith(f"{round_no}:")]
        assert mine == [f"{round_no}:{i}" for i in range(len(mine))]
