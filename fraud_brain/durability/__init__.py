"""Durable live state: a write-ahead log, atomic snapshots and a state-folder lock.

What is durable when
--------------------
- An entry appended to the :class:`WriteAheadLog` is on disk (``fdatasync`` of its segment)
  when :meth:`~WriteAheadLog.append` returns, in the default ``group`` sync mode. Appenders
  that arrive while a sync runs share the next one (group commit), so the cost of a sync is
  spread over every batch that waited for it. Mode ``none`` survives a killed process (the
  data is in the page cache) but not a power cut; mode ``each`` syncs once per entry.
- A snapshot (:class:`SnapshotStore`) is durable once :meth:`~SnapshotStore.write` returns:
  parts written under a temporary folder, each file and folder fsynced, a manifest (format
  version, the WAL seq covered, size and SHA-256 of every file, a checksum of itself) written
  last, the folder renamed into place and its parent fsynced. A crash leaves the whole
  snapshot or nothing that counts.
- Nothing else is: state in memory is rebuilt from the newest good snapshot plus the log.

Recovery procedure (what :class:`DurableState` does on open)
-------------------------------------------------------------
1. Lock: take the exclusive lock on the state folder (:class:`StateLock`); a second server
   gets :class:`~fraud_brain.errors.StateError` "state folder X is in use by pid N on host H
   since T" and should exit. The kernel drops the lock when its holder dies, even by kill -9.
2. Snapshot: :meth:`SnapshotStore.latest` picks the newest snapshot that verifies; torn or
   damaged newer ones are skipped with a warning naming each and why (also on
   :attr:`DurableState.skipped`). No snapshot means empty state and seq 0.
3. Log: open the WAL, numbering on after the snapshot's seq. A torn tail of the last segment
   (a write cut short by the crash, never acknowledged) is cut off with a warning. Damage
   elsewhere raises StateError naming the segment and offset. If the log no longer reaches
   back to the snapshot's seq + 1, StateError says which entries are lost.
4. Replay: apply :meth:`DurableState.replay` (the entries after the snapshot's seq) to the
   snapshot's state, then start serving.

What the brain must do
----------------------
- Before answering 2xx to an ingest, append the accepted batch (e.g. its Arrow IPC bytes, see
  :func:`table_to_ipc`) with the stream name as header, and wait for ``append`` (or
  ``await append_async``) to return. Log what is accepted after validation and dedupe (or log
  the raw batch and make replay run the same validation and dedupe): replay must rebuild the
  same state the live path built.
- Apply batches to the in-memory state in seq order (one ingest worker, or append and apply
  under one lock); applying before the sync returns is fine, answering before it is not.
- Every N seconds or records, :meth:`DurableState.checkpoint` the parts ("engine",
  "online_model", "cooldowns", "dedupe", ...) as bytes or as writers given a path, passing
  ``wal_seq`` = the seq of the last batch applied. The parts must be the state after exactly
  that entry (take them on the ingest worker, or copy them under its lock). The checkpoint
  syncs the log up to ``wal_seq``, keeps the last ``keep`` snapshots and drops only the log
  segments that the oldest kept snapshot covers, so a damaged newest snapshot still has a
  previous one plus the log after it.
- Anything else that changes state must go through the log too (labels, a rule cooldown set
  by a decision, an online-model update), or be derivable again from the replayed batches;
  otherwise it is lost back to the last snapshot.
- On start, open :class:`DurableState` (exit on its StateError: a second server, or a log
  that lost entries), load the parts of ``state.snapshot`` (if any), apply
  ``state.replay()``, serve; report ``state.skipped`` on the health page. On shutdown,
  checkpoint and close.

>>> "WriteAheadLog" in __all__ and "DurableState" in __all__
True
"""

from fraud_brain.durability.codec import ipc_to_table, table_to_ipc
from fraud_brain.durability.lock import StateLock
from fraud_brain.durability.snapshot import Snapshot, SnapshotStatus, SnapshotStore
from fraud_brain.durability.state import DurableState
from fraud_brain.durability.wal import SyncMode, WalEntry, WriteAheadLog

__all__ = [
    "DurableState",
    "Snapshot",
    "SnapshotStatus",
    "SnapshotStore",
    "StateLock",
    "SyncMode",
    "WalEntry",
    "WriteAheadLog",
    "ipc_to_table",
    "table_to_ipc",
]
