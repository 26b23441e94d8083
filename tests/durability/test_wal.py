"""The write-ahead log: round trips, torn tails, damage, group commit, and real kill -9 rounds."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fraud_brain.durability.wal import MAGIC, WriteAheadLog, segment_name
from fraud_brain.errors import StateError

ROOT = Path(__file__).resolve().parents[2]

entries_strategy = st.lists(
    st.tuples(st.sampled_from(["", "call", "transfer", "label", "流"]), st.binary(max_size=300)),
    min_size=1, max_size=25)


def frame_size(header: str, payload: bytes) -> int:
    """Reference size of a frame: 8 (length, crc) + 8 (seq) + 2 (header length) + header + payload."""
    return 18 + len(header.encode()) + len(payload)


def layout(entries: list[tuple[str, bytes]], segment_bytes: int) -> list[list[int]]:
    """Reference placement: which entry indexes each segment holds (rotation once a segment reaches the size)."""
    segments: list[list[int]] = [[]]
    size = len(MAGIC)
    for index, (header, payload) in enumerate(entries):
        segments[-1].append(index)
        size += frame_size(header, payload)
        if size >= segment_bytes:
            segments.append([])
            size = len(MAGIC)
    return segments


def write_all(folder: Path, entries: list[tuple[str, bytes]], segment_bytes: int) -> None:
    with WriteAheadLog(folder, sync="none", segment_bytes=segment_bytes) as wal:
        for header, payload in entries:
            wal.append(payload, header=header)


def read_all(folder: Path, after: int = 0) -> list[tuple[int, str, bytes]]:
    with WriteAheadLog(folder, sync="none") as wal:
        return [(e.seq, e.header, e.payload) for e in wal.replay(after)]


def test_round_trip_headers_payloads_and_replay_after(tmp_path: Path) -> None:
    entries = [("call", b"a" * 10), ("transfer", b""), ("", b"\x00\xff"), ("流", b"x")]
    with WriteAheadLog(tmp_path) as wal:
        assert [wal.append(p, header=h) for h, p in entries] == [1, 2, 3, 4]
        assert wal.durable_seq == 4
    assert read_all(tmp_path) == [(i + 1, h, p) for i, (h, p) in enumerate(entries)]
    assert read_all(tmp_path, after=2) == [(3, "", b"\x00\xff"), (4, "流", b"x")]
    assert read_all(tmp_path, after=4) == []
    with WriteAheadLog(tmp_path) as wal:
        assert wal.append(b"later") == 5


def test_appends_after_close_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    with pytest.raises(ValueError, match="header is 70000 bytes"):
        wal.append(b"", header="h" * 70000)
    wal.close()
    with pytest.raises(StateError, match="closed"):
        wal.append(b"x")
    with pytest.raises(ValueError, match="sync mode"):
        WriteAheadLog(tmp_path, sync="sometimes")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=entries_strategy, segment_bytes=st.sampled_from([64, 200, 1 << 20]), data=st.data())
def test_torn_last_segment_replays_exactly_the_whole_entries(tmp_path_factory: pytest.TempPathFactory,
                                                             entries: list[tuple[str, bytes]],
                                                             segment_bytes: int, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("wal")
    write_all(folder, entries, segment_bytes)
    segments = layout(entries, segment_bytes)
    files = sorted(folder.glob("wal-*.seg"))
    assert len(files) == len(segments)
    last = files[-1]
    original = last.read_bytes()
    cut = data.draw(st.integers(0, len(original)), label="cut")
    zeros = data.draw(st.integers(0, 64), label="zeros after the cut")  # size grew, data never landed
    torn = original[:cut] + b"\x00" * zeros
    last.write_bytes(torn)
    survivors = [i for seg in segments[:-1] for i in seg]
    end = len(MAGIC)
    for index in segments[-1]:
        start, end = end, end + frame_size(*entries[index])
        if torn[start:end] != original[start:end]:  # (zeros may happen to restore a frame's last bytes)
            break
        survivors.append(index)
    expected = [(i + 1, entries[i][0], entries[i][1]) for i in survivors]
    assert read_all(folder) == expected
    # the log goes on right after the last whole entry
    with WriteAheadLog(folder, sync="none") as wal:
        assert wal.append(b"after recovery") == len(survivors) + 1
    assert read_all(folder)[-1] == (len(survivors) + 1, "", b"after recovery")


def test_torn_tail_is_cut_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_all(tmp_path, [("call", b"x" * 100)] * 3, 1 << 20)
    segment = tmp_path / segment_name(1)
    os.truncate(segment, segment.stat().st_size - 7)
    with caplog.at_level(logging.WARNING, logger="fraud_brain.durability"):
        wal = WriteAheadLog(tmp_path)
    assert wal.last_seq == 2 and wal.truncated_bytes == frame_size("call", b"x" * 100) - 7
    wal.close()
    assert f"{segment}: torn tail of {frame_size('call', b'x' * 100) - 7} bytes" in caplog.text
    assert "after seq 2" in caplog.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=entries_strategy.filter(lambda e: len(e) >= 2), segment_bytes=st.sampled_from([64, 300, 1 << 20]),
       data=st.data())
def test_a_flipped_byte_inside_the_log_is_an_error_naming_segment_and_offset(
        tmp_path_factory: pytest.TempPathFactory, entries: list[tuple[str, bytes]], segment_bytes: int,
        data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("wal")
    write_all(folder, entries, segment_bytes)
    segments = [seg for seg in layout(entries, segment_bytes) if seg]
    victim = data.draw(st.integers(0, len(entries) - 2), label="entry")  # any entry but the very last
    seg_index = next(k for k, seg in enumerate(segments) if victim in seg)
    start = len(MAGIC) + sum(frame_size(*entries[i]) for i in segments[seg_index] if i < victim)
    flip = start + data.draw(st.integers(0, frame_size(*entries[victim]) - 1), label="byte")
    path = folder / segment_name(segments[seg_index][0] + 1)
    raw = bytearray(path.read_bytes())
    raw[flip] ^= data.draw(st.integers(1, 255), label="xor")
    path.write_bytes(bytes(raw))
    with pytest.raises(StateError) as caught, WriteAheadLog(folder, sync="none") as wal:
        list(wal.replay())
    assert f"{path}: " in str(caught.value)
    assert f"at offset {start} " in str(caught.value)


def test_bad_segment_header_and_missing_segment_are_errors(tmp_path: Path) -> None:
    write_all(tmp_path, [("", b"x" * 50)] * 6, 100)
    files = sorted(tmp_path.glob("wal-*.seg"))
    assert len(files) >= 3
    files[1].unlink()
    with pytest.raises(StateError, match=r"starts at seq .* but seq .* was due"):
        read_all(tmp_path)
    files[-1].write_bytes(b"NOTAWAL!" + files[-1].read_bytes()[8:])
    with pytest.raises(StateError, match="bad header"):
        WriteAheadLog(tmp_path)


def test_rotation_and_truncate_before_delete_only_covered_segments(tmp_path: Path) -> None:
    entries = [("t", bytes([i]) * 40) for i in range(30)]
    write_all(tmp_path, entries, 150)
    segments = [seg for seg in layout(entries, 150) if seg]
    with WriteAheadLog(tmp_path, sync="none", segment_bytes=150) as wal:
        assert len(wal.segments()) == len(layout(entries, 150))
        cover = 17  # a snapshot covers seqs 1..17
        deleted = wal.truncate_before(cover + 1)
        assert deleted == sum(1 for seg in segments if seg[-1] + 1 <= cover)
        assert wal.first_seq() <= cover + 1
        assert [e.seq for e in wal.replay(cover)] == list(range(cover + 1, 31))
        with pytest.raises(StateError, match="are gone"):
            list(wal.replay(0))
        # the active segment is never deleted, even when everything is covered
        wal.truncate_before(10_000)
        assert len(wal.segments()) >= 1
        assert wal.append(b"next") == 31


def test_start_after_continues_numbering_past_a_snapshot(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path / "a", start_after=500) as wal:
        assert wal.append(b"x") == 501
    assert read_all(tmp_path / "a", after=500) == [(501, "", b"x")]
    # a log that ends before the snapshot's seq goes on in a new segment, never reusing numbers
    write_all(tmp_path / "b", [("", b"old")] * 3, 1 << 20)
    with WriteAheadLog(tmp_path / "b", start_after=10) as wal:
        assert wal.append(b"new") == 11
        assert [e.seq for e in wal.replay(10)] == [11]


@pytest.mark.parametrize("segment_bytes", [1 << 20, 2_000])
def test_group_commit_from_many_threads_loses_nothing_and_keeps_order(tmp_path: Path, segment_bytes: int) -> None:
    wal = WriteAheadLog(tmp_path, sync="group", segment_bytes=segment_bytes)
    acked: dict[int, bytes] = {}
    late: list[tuple[int, int]] = []
    per_thread: dict[int, list[int]] = {}

    def appender(thread: int) -> None:
        seqs = per_thread.setdefault(thread, [])
        for i in range(60):
            payload = f"{thread}:{i}:".encode() * (1 + i % 7)
            seq = wal.append(payload, header=f"t{thread}")
            if wal.durable_seq < seq:
                late.append((seq, wal.durable_seq))
            acked[seq] = payload
            seqs.append(seq)

    threads = [threading.Thread(target=appender, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not late, "append returned before its entry was synced"
    assert sorted(acked) == list(range(1, 361))
    assert all(seqs == sorted(seqs) for seqs in per_thread.values())
    assert 1 <= wal.syncs <= 360
    wal.close()
    replayed = read_all(tmp_path)
    assert [s for s, _, _ in replayed] == list(range(1, 361))
    assert all(acked[s] == p for s, _, p in replayed)


def test_sync_each_and_append_async(tmp_path: Path) -> None:
    import asyncio

    with WriteAheadLog(tmp_path, sync="each") as wal:
        assert wal.append(b"a") == 1 and wal.durable_seq == 1 and wal.syncs == 1

        async def many() -> list[int]:
            return list(await asyncio.gather(*(wal.append_async(bytes([i])) for i in range(5))))

        assert sorted(asyncio.run(many())) == [2, 3, 4, 5, 6]
    assert len(read_all(tmp_path)) == 6


CHILD = """
import os, sys, threading, random
from fraud_brain.durability.wal import WriteAheadLog
folder, round_no = sys.argv[1], sys.argv[2]
wal = WriteAheadLog(folder, sync="group", segment_bytes=1 << 20)
out = threading.Lock()
print("ready", flush=True)
def work(t):
    rng = random.Random(t)
    i = 0
    while True:
        size = rng.choice([100, 5_000, 200_000, 600_000])
        tag = f"{round_no}:{t}:{i}:{size}".encode()
        seq = wal.append(tag + b"|" + bytes([i % 251]) * size, header=f"t{t}")
        with out:
            sys.stdout.write(f"{seq} {tag.decode()}\\n")
            sys.stdout.flush()
        i += 1
for t in range(3):
    threading.Thread(target=work, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def test_kill_9_at_random_moments_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    """A child appends from 3 threads and prints each acknowledged seq; kill -9; every one replays."""
    folder = tmp_path / "wal"
    acknowledged: dict[int, str] = {}
    rng = random.Random(11)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_no in range(5):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(round_no)],
                                 stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        first = child.stdout.readline()  # at least one acknowledgement per round, however slow the disk
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        rest = first + child.stdout.read()
        child.wait()
        assert child.returncode == -signal.SIGKILL
        lines = rest.split("\n")[:-1]  # the last piece has no newline: possibly cut mid-line
        for line in lines:
            seq, tag = line.split(" ", 1)
            acknowledged[int(seq)] = tag
    assert len(acknowledged) >= 5
    with WriteAheadLog(folder) as wal:
        replayed = {e.seq: e for e in wal.replay()}
    assert sorted(replayed) == list(range(1, len(replayed) + 1))
    for seq, tag in acknowledged.items():
        entry = replayed[seq]
        head, body = entry.payload.split(b"|", 1)
        assert head.decode() == tag
        size = int(tag.split(":")[3])
        assert body == bytes([int(tag.split(":")[2]) % 251]) * size


FULL_DISK = """
import resource, signal, sys
from fraud_brain.durability.wal import WriteAheadLog
from fraud_brain.errors import StateError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # files may not grow past 20 kB: a full disk
wal = WriteAheadLog(sys.argv[1], segment_bytes=1 << 20)
refused = 0
for i in range(40):
    size = 3_000 if i % 2 else 300
    try:
        seq = wal.append(bytes([i]) * size, header=str(i))
        print("acked", seq, i, size, flush=True)
    except StateError as exc:
        refused += 1
        print("refused", i, exc, flush=True)
print("done", refused, flush=True)
"""


def test_a_failed_write_is_taken_back_and_the_log_stays_whole(tmp_path: Path) -> None:
    """A write that hits a full disk (a file size limit here) is refused, cut back out, and later small ones go on."""
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=120, check=True).stdout
    lines = out.splitlines()
    acked = {int(line.split()[1]): (int(line.split()[2]), int(line.split()[3]))
             for line in lines if line.startswith("acked")}
    refusals = [line for line in lines if line.startswith("refused")]
    assert refusals and "write failed at offset" in refusals[0]
    assert any(i > int(refusals[0].split()[1]) for i, _ in acked.values()), "nothing was acknowledged after a refusal"
    entries = read_all(tmp_path)
    assert [seq for seq, _, _ in entries] == sorted(acked)
    assert all(acked[seq] == (int(header), len(payload)) and payload == bytes([int(header)]) * len(payload)
               for seq, header, payload in entries)


def test_a_write_that_cannot_be_taken_back_stops_all_further_acknowledgements(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.append(b"good")
    os.close(wal._fd)  # the descriptor goes bad under the log: writing fails, and so does cutting back
    with pytest.raises(StateError, match="write failed at offset 30"):
        wal.append(b"lost")
    with pytest.raises(StateError, match=r"could not be cut back .* needs a restart"):
        wal.append(b"refused")
    wal._closed = True  # its descriptor is gone already; nothing left to close
    with WriteAheadLog(tmp_path, sync="none") as again:
        assert [e.payload for e in again.replay()] == [b"good"]


class LogMachine(RuleBasedStateMachine):
    """Appends, reopenings, trims and replays against a plain list of what was appended."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix="wal-machine-"))
        self.wal = WriteAheadLog(self.folder, sync="none", segment_bytes=150)
        self.model: list[tuple[str, bytes]] = []
        self.trimmed_to = 0  # entries up to this seq may be gone

    @rule(header=st.sampled_from(["call", "transfer", ""]), payload=st.binary(max_size=80))
    def append(self, header: str, payload: bytes) -> None:
        assert self.wal.append(payload, header=header) == len(self.model) + 1
        self.model.append((header, payload))

    @rule()
    def reopen(self) -> None:
        self.wal.close()
        self.wal = WriteAheadLog(self.folder, sync="none", segment_bytes=150)
        assert self.wal.last_seq == len(self.model)

    @rule(data=st.data())
    def trim(self, data: st.DataObject) -> None:
        seq = data.draw(st.integers(0, len(self.model) + 1))
        self.wal.truncate_before(seq)
        self.trimmed_to = max(self.trimmed_to, seq - 1)

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        after = data.draw(st.integers(self.trimmed_to, len(self.model) + 2))
        got = [(e.seq, e.header, e.payload) for e in self.wal.replay(after)]
        assert got == [(i + 1, h, p) for i, (h, p) in enumerate(self.model) if i + 1 > after]

    @invariant()
    def first_seq_never_passes_what_was_trimmed(self) -> None:
        assert self.wal.first_seq() <= self.trimmed_to + 1

    def teardown(self) -> None:
        self.wal.close()
        shutil.rmtree(self.folder, ignore_errors=True)


LogMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
test_log_against_a_list = LogMachine.TestCase
