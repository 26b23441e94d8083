"""The state-folder lock against a real second process, and after kill -9 of its holder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fraud_brain.durability.lock import StateLock
from fraud_brain.errors import StateError

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys, time
from fraud_brain.durability.lock import StateLock
from fraud_brain.errors import StateError
try:
    StateLock(sys.argv[1]).acquire()
except StateError as exc:
    print("refused", exc, flush=True)
    sys.exit(3)
print("locked", flush=True)
time.sleep(120)
"""


def start_holder(folder: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    with StateLock(folder):
        second = subprocess.run([sys.executable, "-c", HOLDER, str(folder)], check=False, capture_output=True,
                                text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=60)
    assert second.returncode == 3
    assert f"state folder {folder} is in use by pid {os.getpid()} on host {socket.gethostname()} since " \
        in second.stdout


def test_kill_9_of_the_holder_frees_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    holder = start_holder(folder)
    try:
        with pytest.raises(StateError, match=f"is in use by pid {holder.pid} on host .* since 20"):
            StateLock(folder).acquire()
        info = json.loads((folder / "LOCK").read_text())
        assert info["pid"] == holder.pid
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    lock = StateLock(folder)
    deadline = time.monotonic() + 10
    while True:  # the kernel drops the lock once the killed process is reaped; no cleanup by hand
        try:
            lock.acquire()
            break
        except StateError:
            assert time.monotonic() < deadline, "the lock of a killed holder was never released"
            time.sleep(0.05)
    assert lock.locked and json.loads((folder / "LOCK").read_text())["pid"] == os.getpid()
    lock.release()


def test_in_one_process_two_owners_also_conflict_and_release_frees(tmp_path: Path) -> None:
    first = StateLock(tmp_path).acquire()
    assert first.acquire() is first  # taking it again through the same object is a no-op
    with pytest.raises(StateError, match="in use by pid"):
        StateLock(tmp_path).acquire()
    first.release()
    first.release()
    with StateLock(tmp_path) as second:
        assert second.locked
    assert not second.locked
