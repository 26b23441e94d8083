"""One owner per state folder: an exclusive ``flock`` on ``<folder>/LOCK``.

The lock belongs to the open file, so the kernel drops it when the holder exits in any way,
``kill -9`` included: no stale lock to clean up by hand. The file also holds who took it (pid,
host, start time), only to word the error a second opener gets. The file itself is never
deleted (deleting a lock file lets two processes lock two different files of the same name).
``flock`` is reliable on local file systems; on a network file system it may not exclude.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with StateLock(folder) as held:
...     held.locked
...     try:
...         StateLock(folder).acquire()
...     except StateError as exc:
...         "is in use by pid" in str(exc)
True
True
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from fraud_brain.errors import StateError

LOCK_NAME = "LOCK"


class StateLock:
    """An exclusive, process-level lock on a state folder (made if missing)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    @property
    def locked(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> Self:
        """Take the lock or raise :class:`StateError` naming the holder; returns ``self``."""
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise StateError(f"state folder {self.folder} is in use by {holder}; stop that process "
                             f"first (one server per state folder)") from None
        except BaseException:
            os.close(fd)
            raise
        started = datetime.now(UTC).isoformat(timespec="seconds")
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": started})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode() + b"\n", 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go of the lock (also happens when the process ends)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(fd: int) -> str:
    """'pid N on host H since T' from the lock file; the holder may still be writing it, so retry briefly."""
    for _ in range(20):
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode())
            return f"pid {info['pid']} on host {info['host']} since {info['since']}"
        except (ValueError, KeyError, TypeError):
            time.sleep(0.01)
    return "another process (it has not written its pid yet)"
