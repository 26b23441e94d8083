"""One thread that owns the engine and the store: every call on them runs there, one at a time.

The streaming state and the SQLite connection are single-threaded by design (a SQLite
connection refuses other threads), so they are *opened* on this thread and only ever used from
it. The event loop stays free meanwhile: health, metrics, event streams and 429s keep answering
while a batch is being scored, and requests waiting for the engine count as in flight.

>>> import asyncio, threading
>>> worker = EngineThread()
>>> name = worker.call_sync(lambda: threading.current_thread().name)
>>> asyncio.run(worker.run(lambda: threading.current_thread().name)) == name == "fraud-brain-engine"
True
>>> worker.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


class EngineThread:
    """A single worker thread for the engine and store."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraud-brain-engine")
        # Name the one thread exactly, so logs and doctests can tell it apart.
        self._executor.submit(_rename).result()

    def call_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the engine thread and wait (for opening the engine before serving)."""
        return self._executor.submit(fn, *args, **kwargs).result()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the engine thread without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Finish queued calls and stop the thread."""
        self._executor.shutdown(wait=True)


def _rename() -> None:
    import threading

    threading.current_thread().name = "fraud-brain-engine"
