"""Fan-out of new alerts to the agents' consoles, with a bounded queue per console.

A console that falls behind (its queue full) is not allowed to grow server memory: its queue
is cleared and it is sent one ``resync`` event, after which it reloads the case list.

>>> import asyncio
>>> async def demo():
...     hub = AlertHub(queue_size=2)
...     stream = hub.subscribe()
...     hub.publish("alert", {"case_id": 1})
...     return await stream.get()
>>> asyncio.run(demo())
('alert', {'case_id': 1})
"""

from __future__ import annotations

import asyncio
from typing import Any

Event = tuple[str, dict[str, Any]]


class AlertHub:
    """Publishes events to every subscribed console queue (all on one event loop)."""

    def __init__(self, queue_size: int = 256):
        self.queue_size = queue_size
        self._queues: set[asyncio.Queue[Event]] = set()

    def __len__(self) -> int:
        return len(self._queues)

    def subscribe(self) -> asyncio.Queue[Event]:
        """A new queue receiving every event published from now on."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=self.queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        """Stop delivering to ``queue``."""
        self._queues.discard(queue)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Send an event to every console; a full queue is replaced by a single ``resync``.

        >>> hub = AlertHub(queue_size=1)
        >>> q = hub.subscribe()
        >>> hub.publish("alert", {"n": 1}); hub.publish("alert", {"n": 2})
        >>> q.get_nowait()
        ('resync', {'reason': 'console fell behind'})
        """
        for queue in list(self._queues):
            try:
                queue.put_nowait((kind, data))
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(("resync", {"reason": "console fell behind"}))
