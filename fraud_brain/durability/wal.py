"""A write-ahead log: numbered entries appended to segment files and fsynced in groups.

An entry is ``(seq, header, payload)``: ``seq`` a sequence number that grows by one per entry,
``header`` a short text label (a stream name, a source) and ``payload`` opaque bytes (the brain
stores an Arrow IPC batch). :meth:`WriteAheadLog.append` returns only once the entry is on disk
(``fdatasync``); appenders that arrive while a sync runs share the next one (group commit), so
many threads pay for few syncs.

On disk: a folder of segments ``wal-<first seq, 20 digits>.seg``. A segment starts with an
8-byte magic that carries the format version, then frames::

    u32 body length | u32 crc | body = u64 seq | u16 header length | header | payload

(all little-endian; ``crc`` is zlib's CRC-32 over payload, length field, seq, header length and
header, in that order). A new segment starts when the current one passes ``segment_bytes``.

Recovery. A ``kill -9`` or a power cut can leave the end of the last segment torn (a frame cut
short, or zeros where the size grew but the data never landed). Opening the log finds the last
whole frame, cuts the rest off and logs a warning; it never refuses to start for that. A bad
frame followed by good ones is not a torn tail but damage: that raises :class:`StateError`
naming the segment and the byte offset, as does any bad frame in an earlier segment or a gap
in the sequence numbers.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with WriteAheadLog(folder) as wal:
...     wal.append(b"first batch", header="transfer"), wal.append(b"second", header="call")
(1, 2)
>>> with WriteAheadLog(folder) as wal:
...     [(e.seq, e.header, e.payload) for e in wal.replay(after_seq=1)]
[(2, 'call', b'second')]
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

from fraud_brain.errors import StateError

log = logging.getLogger("fraud_brain.durability")

SyncMode = Literal["group", "each", "none"]
"""``group``: fsync before returning, shared by concurrent appenders (the default).
``each``: one fsync per entry, appenders serialized (a baseline). ``none``: no fsync at all:
entries survive a killed process (they are in the page cache) but not a power cut; for tests."""

MAGIC = b"FBWAL\x00\x01\n"
"""Segment magic: the name, format version 1, a newline (a text tool shows one clean line)."""
FRAME = struct.Struct("<II")
BODY = struct.Struct("<QH")
MIN_BODY = BODY.size
MAX_BODY = 0xFFFF_FFFF
SEGMENT_PREFIX, SEGMENT_SUFFIX = "wal-", ".seg"


@dataclass(frozen=True, slots=True)
class WalEntry:
    """One entry read back from the log."""

    seq: int
    header: str
    payload: bytes


def encode_frame(seq: int, header: str, payload: bytes) -> bytes:
    """The bytes of one frame (length, checksum, body).

    >>> frame = encode_frame(7, "call", b"abc")
    >>> len(frame), decode_frame(frame, 0)
    (25, (WalEntry(seq=7, header='call', payload=b'abc'), 25))
    """
    return _frame_prefix(seq, _header_bytes(header), payload, zlib.crc32(payload)) + payload


def _header_bytes(header: str) -> bytes:
    head = header.encode()
    if len(head) > 0xFFFF:
        raise ValueError(f"WAL header is {len(head)} bytes; at most 65,535")
    return head


def _frame_prefix(seq: int, head: bytes, payload: bytes, payload_crc: int) -> bytes:
    """Everything of a frame before its payload.

    The checksum runs over payload, then length, seq, header: the payload's part (the costly
    one) can be computed before the sequence number is known, outside the writers' lock.
    """
    body_len = BODY.size + len(head) + len(payload)
    if body_len > MAX_BODY:
        raise ValueError(f"WAL entry is {body_len} bytes; at most {MAX_BODY:,}")
    length = struct.pack("<I", body_len)
    body_head = BODY.pack(seq, len(head)) + head
    crc = zlib.crc32(body_head, zlib.crc32(length, payload_crc))
    return b"".join((length, struct.pack("<I", crc), body_head))


def decode_frame(data: bytes | memoryview, offset: int) -> tuple[WalEntry, int] | None:
    """The entry at ``offset`` and the offset after it, or ``None`` if no whole valid frame is there."""
    end = len(data)
    if offset + FRAME.size > end:
        return None
    body_len, crc = FRAME.unpack_from(data, offset)
    start = offset + FRAME.size
    stop = start + body_len
    if body_len < MIN_BODY or stop > end:
        return None
    view = memoryview(data)
    seq, head_len = BODY.unpack_from(data, start)
    head_stop = start + BODY.size + head_len
    if head_stop > stop:
        return None
    payload_crc = zlib.crc32(view[head_stop:stop])
    if zlib.crc32(view[start:head_stop], zlib.crc32(view[offset:offset + 4], payload_crc)) != crc:
        return None
    try:
        header = bytes(view[start + BODY.size:head_stop]).decode()
    except UnicodeDecodeError:
        return None
    return WalEntry(seq, header, bytes(view[head_stop:stop])), stop


def segment_name(first_seq: int) -> str:
    """The file name of the segment whose first entry is ``first_seq``.

    >>> segment_name(42)
    'wal-00000000000000000042.seg'
    """
    return f"{SEGMENT_PREFIX}{first_seq:020d}{SEGMENT_SUFFIX}"


def _segment_seq(name: str) -> int | None:
    if not (name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX)):
        return None
    digits = name[len(SEGMENT_PREFIX):-len(SEGMENT_SUFFIX)]
    return int(digits) if digits.isdigit() else None


def fsync_dir(folder: Path) -> None:
    """Make the creation, removal or renaming of entries in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _datasync(fd: int) -> None:
    getattr(os, "fdatasync", os.fsync)(fd)


@dataclass(frozen=True, slots=True)
class _Scan:
    """What a segment holds: its entries' seq range and where the last whole frame ends."""

    first: int | None
    last: int | None
    good_end: int
    size: int
    count: int


class WriteAheadLog:
    """An append-only, checksummed, group-committed log in ``folder``.

    ``start_after``: the sequence the caller already holds elsewhere (a snapshot's WAL seq);
    numbering continues after it even if the log folder is empty, so a lost or new log never
    reuses numbers a snapshot already covers. ``segment_bytes``: rotate to a new segment once
    the current one is at least this big.

    >>> import tempfile
    >>> wal = WriteAheadLog(tempfile.mkdtemp(), start_after=99, sync="none")
    >>> wal.append(b"x"), wal.last_seq
    (100, 100)
    >>> wal.close()
    """

    def __init__(self, folder: str | os.PathLike[str], *, sync: SyncMode = "group",
                 segment_bytes: int = 64 << 20, start_after: int = 0) -> None:
        if sync not in ("group", "each", "none"):
            raise ValueError(f"WAL sync mode {sync!r}: use 'group', 'each' or 'none'")
        if segment_bytes < len(MAGIC) + 1:
            raise ValueError(f"WAL segment_bytes {segment_bytes} is too small")
        self.folder = Path(folder)
        self.sync: SyncMode = sync
        self.segment_bytes = segment_bytes
        # _lock orders writes (file order = seq order); _cond guards the sync state. A thread
        # may take _cond while holding _lock, never the other way round.
        self._lock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())
        self._syncing = False
        self._durable_seq = 0
        self._written_seq = 0
        self._retired: list[int] = []
        self._sync_fd = -1
        self._broken: str | None = None
        self._fd = -1
        self._closed = False
        self._stats_lock = threading.Lock()
        self.syncs = 0
        """Syncs done by appends (fewer than appends when group commit shares them)."""
        self.truncated_bytes = 0
        """Bytes of torn tail cut off when the log was opened (0 if the tail was clean)."""
        self._open(start_after)

    # -- opening -------------------------------------------------------------------------------

    def segments(self) -> list[Path]:
        """The segment files, oldest first."""
        found = []
        for path in self.folder.iterdir():
            seq = _segment_seq(path.name)
            if seq is not None and path.is_file():
                found.append((seq, path))
        return [path for _, path in sorted(found)]

    def _open(self, start_after: int) -> None:
        created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        if created:
            fsync_dir(self.folder.parent)
        segments = self.segments()
        next_seq = start_after + 1
        reuse: Path | None = None
        if segments:
            last = segments[-1]
            scan = self._scan(last, tail=True)
            if scan.good_end < scan.size:
                self._cut_tail(last, scan)
            found_next = scan.last + 1 if scan.last is not None else (_segment_seq(last.name) or 1)
            if found_next >= next_seq:
                next_seq, reuse = found_next, last
            elif scan.last is None:
                # an empty segment named for a number the caller's floor has passed: replace it
                last.unlink()
                fsync_dir(self.folder)
            # else the log ends before start_after (it lost entries a snapshot holds): numbering
            # goes on in a new segment, and replay after start_after never reads the old one
        self._next_seq = next_seq
        self._written_seq = self._durable_seq = next_seq - 1
        if reuse is not None:
            self._fd = os.open(reuse, os.O_WRONLY | os.O_APPEND)
            self._offset = os.fstat(self._fd).st_size
            self._path = reuse
            if self._offset < len(MAGIC):
                os.ftruncate(self._fd, 0)
                os.write(self._fd, MAGIC)
                _datasync(self._fd)
                self._offset = len(MAGIC)
        else:
            self._new_segment()
        self._sync_fd = self._fd

    def _scan(self, path: Path, *, tail: bool) -> _Scan:
        """Walk a segment's frames; a bad frame not at the tail of the last segment raises."""
        data = path.read_bytes()
        size = len(data)
        if tail and data[:len(MAGIC)] != MAGIC and MAGIC.startswith(data.rstrip(b"\x00")[:len(MAGIC)]) \
                and not data[len(MAGIC):].strip(b"\x00"):
            return _Scan(None, None, 0, size, 0)  # a new segment whose header never fully landed
        if size < len(MAGIC):
            raise StateError(f"WAL segment {path}: {size} bytes, shorter than its {len(MAGIC)}-byte header")
        if data[:len(MAGIC)] != MAGIC:
            raise StateError(f"WAL segment {path}: bad header {data[:len(MAGIC)]!r} at offset 0 "
                             f"(expected {MAGIC!r}: not a WAL segment, or written by another format version)")
        offset, first, last, count = len(MAGIC), None, None, 0
        expected = _segment_seq(path.name)
        while offset < size:
            decoded = decode_frame(data, offset)
            if decoded is None or (expected is not None and decoded[0].seq != expected):
                if tail and not _valid_frame_after(data, offset, expected):
                    break
                why = "bad frame" if decoded is None else f"seq {decoded[0].seq} where {expected} was due"
                raise StateError(f"WAL segment {path}: {why} at offset {offset} of {size} "
                                 f"(damage inside the log, not a torn tail; entries after seq {last or 'none'} "
                                 f"in this segment cannot be trusted)")
            entry, offset = decoded
            first = entry.seq if first is None else first
            last = entry.seq
            expected = entry.seq + 1
            count += 1
        return _Scan(first, last, offset, size, count)

    def _cut_tail(self, path: Path, scan: _Scan) -> None:
        cut = scan.size - scan.good_end
        log.warning("WAL segment %s: torn tail of %d bytes after offset %d cut off (after seq %s; "
                    "a write interrupted by a crash, never acknowledged)", path, cut, scan.good_end,
                    scan.last if scan.last is not None else "none")
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, scan.good_end)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.truncated_bytes += cut

    def _new_segment(self) -> None:
        path = self.folder / segment_name(self._next_seq)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, MAGIC)
        _datasync(fd)
        fsync_dir(self.folder)
        self._fd, self._path, self._offset = fd, path, len(MAGIC)

    # -- appending -----------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The sequence number of the last entry written (acknowledged or about to be)."""
        return self._next_seq - 1

    @property
    def durable_seq(self) -> int:
        """Every entry up to this sequence number is on disk."""
        return self._durable_seq if self.sync != "none" else self._written_seq

    def append(self, payload: bytes, header: str = "") -> int:
        """Write one entry, return its sequence number once it is durable (per the sync mode)."""
        seq = self._write(payload, header)
        if self.sync == "group":
            self._wait_durable(seq)
        return seq

    async def append_async(self, payload: bytes, header: str = "") -> int:
        """:meth:`append` from an event loop: the write and the wait run in a worker thread."""
        return await asyncio.to_thread(self.append, payload, header)

    def _write(self, payload: bytes, header: str) -> int:
        head = _header_bytes(header)
        payload_crc = zlib.crc32(payload)  # outside the lock: the costly part of the checksum
        with self._lock:
            self._check_usable()
            seq = self._next_seq
            prefix = _frame_prefix(seq, head, payload, payload_crc)
            start = self._offset
            try:
                _write_all(self._fd, prefix, payload)
            except OSError as exc:
                self._undo_write(start, exc)
            self._offset = start + len(prefix) + len(payload)
            self._next_seq = seq + 1
            if self.sync == "each":
                self._sync_or_break(self._fd)
            if self._offset >= self.segment_bytes:
                self._rotate()
            with self._cond:
                # published together: a group-commit leader syncs _fd to cover _written_seq
                self._written_seq = seq
                self._sync_fd = self._fd
                if self.sync == "each":
                    self._durable_seq = seq
            return seq

    def _undo_write(self, start: int, exc: OSError) -> None:
        """Take a failed write back out of the file so the next frame follows a whole one."""
        try:
            os.ftruncate(self._fd, start)
        except OSError as again:
            self._broken = f"a failed write could not be cut back ({again}); the log needs a restart"
        raise StateError(f"WAL segment {self._path}: write failed at offset {start}: {exc}") from exc

    def _sync_or_break(self, fd: int) -> None:
        try:
            _datasync(fd)
            with self._stats_lock:
                self.syncs += 1
        except OSError as exc:
            # after a failed fsync the kernel may have dropped the dirty pages: nothing written
            # since the last good sync can be trusted, so no further entry is acknowledged
            self._broken = f"fsync failed ({exc}); restart to recover from the log on disk"
            raise StateError(f"WAL segment {self._path}: {self._broken}") from exc

    def _check_usable(self) -> None:
        if self._closed:
            raise StateError(f"WAL {self.folder} is closed")
        if self._broken:
            raise StateError(f"WAL {self.folder}: {self._broken}")

    def _rotate(self) -> None:
        """Start a new segment (with _lock held); the old one is synced before anything goes to the new."""
        if self.sync != "none":
            self._sync_or_break(self._fd)
        old = self._fd
        self._new_segment()
        with self._cond:
            self._sync_fd = self._fd  # entries in the old segment are synced already
            if self._syncing:
                # a group-commit leader may be syncing the old descriptor: the next leader closes it
                self._retired.append(old)
            else:
                os.close(old)

    def _wait_durable(self, seq: int) -> None:
        """Leader/follower group commit: the first waiter syncs for everyone written so far.

        The leader never takes the writers' lock, so writers keep appending while it syncs;
        whatever they write meanwhile goes into the next sync.
        """
        with self._cond:
            while self._durable_seq < seq:
                if self._broken:
                    raise StateError(f"WAL {self.folder}: {self._broken}")
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target, fd = self._written_seq, self._sync_fd
                retired, self._retired = self._retired, []
                self._cond.release()
                error: StateError | None = None
                try:
                    for old in retired:
                        os.close(old)
                    self._sync_or_break(fd)
                except StateError as exc:
                    error = exc
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    if error is None:
                        self._durable_seq = max(self._durable_seq, target)
                    self._cond.notify_all()
                if error is not None:
                    raise error

    def sync_now(self) -> int:
        """Sync everything written so far (also in mode ``none``); return the durable seq."""
        with self._lock:
            self._check_usable()
            self._sync_or_break(self._fd)
            with self._cond:
                self._durable_seq = max(self._durable_seq, self._written_seq)
                self._cond.notify_all()
                return self._durable_seq

    # -- reading and trimming ------------------------------------------------------------------

    def replay(self, after_seq: int = 0) -> Iterator[WalEntry]:
        """Entries with ``seq > after_seq``, in order; damage or a gap raises :class:`StateError`.

        Call it at start-up, before appending again: it reads the segments as they are on disk
        (up to what this log had written when the call began).
        """
        with self._lock:
            segments = self.segments()
            limit = {self._path: self._offset}
        if segments and after_seq + 1 < (_segment_seq(segments[0].name) or 1):
            # only when entries a snapshot does not cover were deleted, or the log was lost
            raise StateError(f"WAL {self.folder}: entries after seq {after_seq} were asked for but the log "
                             f"starts at seq {_segment_seq(segments[0].name)}; seqs {after_seq + 1}.."
                             f"{(_segment_seq(segments[0].name) or 1) - 1} are gone")
        expected: int | None = None
        for index, path in enumerate(segments):
            following = _segment_seq(segments[index + 1].name) if index + 1 < len(segments) else None
            if following is not None and following <= after_seq + 1:
                continue  # every entry of this segment is at or before after_seq
            raw = path.read_bytes()
            end = min(limit.get(path, len(raw)), len(raw))
            data = memoryview(raw)[:end]
            if raw[:len(MAGIC)] != MAGIC:
                raise StateError(f"WAL segment {path}: bad header {raw[:len(MAGIC)]!r} at offset 0")
            first = _segment_seq(path.name)
            if expected is not None and first != expected:
                raise StateError(f"WAL segment {path}: starts at seq {first} but seq {expected} was due "
                                 f"(a segment is missing or was renamed)")
            expected, offset = first, len(MAGIC)
            while offset < end:
                decoded = decode_frame(data, offset)
                if decoded is None or decoded[0].seq != expected:
                    why = "bad frame" if decoded is None else f"seq {decoded[0].seq} where {expected} was due"
                    raise StateError(f"WAL segment {path}: {why} at offset {offset} of {end}")
                entry, offset = decoded
                expected = entry.seq + 1
                if entry.seq > after_seq:
                    yield entry

    def verify(self) -> int:
        """Read every entry and check every checksum; return how many entries there are."""
        return sum(1 for _ in self.replay(max(self.first_seq() - 1, 0)))

    def first_seq(self) -> int:
        """The lowest sequence number the log can still replay from (its oldest segment's first)."""
        segments = self.segments()
        return (_segment_seq(segments[0].name) or 1) if segments else self._next_seq

    def truncate_before(self, seq: int) -> int:
        """Delete whole segments whose every entry is below ``seq``; return how many were deleted.

        Call it with ``snapshot.wal_seq + 1`` once a snapshot covering ``snapshot.wal_seq`` is
        durable (keep the entries the previous snapshots need if they are to be fallbacks).
        """
        with self._lock:
            segments = self.segments()
            doomed = []
            for path, following in itertools.pairwise(segments):
                next_first = _segment_seq(following.name)
                if next_first is not None and next_first <= seq and path != self._path:
                    doomed.append(path)
            for path in doomed:
                path.unlink()
            if doomed:
                fsync_dir(self.folder)
            return len(doomed)

    def close(self) -> None:
        """Sync (unless mode ``none``) and close; later appends raise :class:`StateError`."""
        with self._lock:
            if self._closed:
                return
            try:
                if self.sync != "none" and not self._broken:
                    self._sync_or_break(self._fd)
            finally:
                self._closed = True
                with self._cond:
                    while self._syncing:
                        self._cond.wait()
                    if self.sync != "none" and not self._broken:
                        self._durable_seq = max(self._durable_seq, self._written_seq)
                    elif not self._broken:
                        self._broken = "closed before its entries were synced"
                    for fd in self._retired:
                        os.close(fd)
                    self._retired.clear()
                    os.close(self._fd)
                    self._cond.notify_all()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(fd: int, prefix: bytes, payload: bytes) -> None:
    """Write prefix then payload with one system call where the kernel takes it all (the usual case)."""
    written = os.writev(fd, (prefix, payload))
    total = len(prefix) + len(payload)
    if written < total:
        rest = memoryview(prefix + payload)[written:]
        while rest:
            rest = rest[os.write(fd, rest):]


def _valid_frame_after(data: bytes, offset: int, expected: int | None) -> bool:
    """Whether a whole frame with the due seq (or the one after it) starts anywhere past ``offset``.

    A torn tail has none (the crash stopped all writing); damage in the middle of the log does.
    Only offsets where those seq bytes occur are tried, so this stays fast on large tails.
    """
    if expected is None:
        return False
    for seq in (expected, expected + 1):
        needle = struct.pack("<Q", seq)
        at = data.find(needle, offset + 1)
        while at != -1:
            start = at - FRAME.size
            if start > offset and decode_frame(data, start) is not None:
                return True
            at = data.find(needle, at + 1)
    return False
