"""A state folder put together: the lock, the snapshots and the write-ahead log, recovered in order.

Layout of ``folder``: ``LOCK`` (see :mod:`.lock`), ``snapshots/`` (see :mod:`.snapshot`) and
``wal/`` (see :mod:`.wal`). Opening runs the recovery procedure: take the lock, find the newest
good snapshot, open the log (cutting a torn tail) numbering on after that snapshot, and check
that the log still holds every entry after it. :meth:`DurableState.replay` then yields the
entries to apply on top of the snapshot.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with DurableState(folder) as state:
...     seq = state.wal.append(b"batch 1", header="call")
...     _ = state.checkpoint({"engine": b"state after 1"}, wal_seq=seq)
...     _ = state.wal.append(b"batch 2", header="call")
>>> with DurableState(folder) as state:
...     state.snapshot.read_bytes("engine"), [e.payload for e in state.replay()]
(b'state after 1', [b'batch 2'])
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Self

from fraud_brain.durability.lock import StateLock
from fraud_brain.durability.snapshot import PartSource, Snapshot, SnapshotStore
from fraud_brain.durability.wal import SyncMode, WalEntry, WriteAheadLog
from fraud_brain.errors import StateError


class DurableState:
    """The lock, snapshot store and WAL of one state folder, opened by the recovery procedure.

    A second opener of the same folder (another process, or another object in this one) gets
    :class:`StateError` naming the holder.
    """

    def __init__(self, folder: str | os.PathLike[str], *, keep: int = 3, sync: SyncMode = "group",
                 segment_bytes: int = 64 << 20) -> None:
        self.folder = Path(folder)
        self.lock = StateLock(self.folder).acquire()
        try:
            self.snapshots = SnapshotStore(self.folder / "snapshots", keep=keep)
            self.snapshot: Snapshot | None = self.snapshots.latest()
            """The snapshot recovery starts from (``None``: from empty state)."""
            self.skipped: tuple[str, ...] = self.snapshots.last_skipped
            """Snapshots passed over as torn or damaged, with the reason (to show on a health page)."""
            self.base_seq = self.snapshot.wal_seq if self.snapshot is not None else 0
            self.wal = WriteAheadLog(self.folder / "wal", sync=sync, segment_bytes=segment_bytes,
                                     start_after=self.base_seq)
            first = self.wal.first_seq()
            if first > self.base_seq + 1:
                self.wal.close()
                where = f"snapshot {self.snapshot.folder.name}" if self.snapshot else "no snapshot (empty state)"
                raise StateError(f"state folder {self.folder}: recovery starts from {where} at WAL seq "
                                 f"{self.base_seq}, but the log begins at seq {first}: entries "
                                 f"{self.base_seq + 1}..{first - 1} are lost "
                                 "(log segments or newer snapshots were deleted)"
                                 + "".join(f"; skipped {reason}" for reason in self.skipped))
        except BaseException:
            self.lock.release()
            raise

    def replay(self) -> Iterator[WalEntry]:
        """The log entries after the recovered snapshot, in order: apply them to its state."""
        return self.wal.replay(after_seq=self.base_seq)

    def checkpoint(self, parts: Mapping[str, PartSource] | None = None, *, wal_seq: int,
                   meta: Mapping[str, Any] | None = None) -> Snapshot:
        """Write a snapshot of the state after entry ``wal_seq``, then trim the log.

        ``parts`` must hold exactly entries 1..``wal_seq`` applied, no more and no fewer: apply
        entries in seq order and pass the seq of the last one applied (not ``wal.last_seq``, which
        may include batches still in flight). The log is synced up to ``wal_seq`` first, and keeps
        every entry the oldest kept snapshot needs, so any kept snapshot can still be a fallback.
        """
        if wal_seq > self.wal.last_seq:
            raise StateError(f"state folder {self.folder}: a snapshot cannot cover WAL seq {wal_seq}, "
                             f"the log ends at {self.wal.last_seq}")
        if wal_seq > self.wal.durable_seq and self.wal.sync != "none":
            self.wal.sync_now()  # a snapshot never covers entries the log could still lose
        snapshot = self.snapshots.write(wal_seq, parts, meta)
        oldest = self.snapshots.oldest_wal_seq()
        if oldest is not None:
            self.wal.truncate_before(oldest + 1)
        return snapshot

    def close(self) -> None:
        """Close the log (syncing it) and release the lock."""
        try:
            self.wal.close()
        finally:
            self.lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
