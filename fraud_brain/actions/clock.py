"""Clocks that drive the workflow's timers: the wall clock, and a manual one for tests and replays.

>>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
>>> clock.advance(minutes=5).isoformat()
'2026-01-01T00:05:00+00:00'
>>> clock.sleep(60); clock.now().minute
6
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the orchestrator and dispatcher need of time: read it and wait.

    >>> isinstance(SystemClock(), Clock)
    True
    """

    def now(self) -> datetime:
        """The current time, UTC-aware."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait (or, for a manual clock, move time forward)."""
        ...


class SystemClock:
    """The real clock.

    >>> SystemClock().now().tzinfo is UTC
    True
    """

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to; ``sleep`` advances it instantly.

    >>> ManualClock(datetime(2026, 1, 1, tzinfo=UTC)).advance(hours=1).hour
    1
    """

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError(
                f"ManualClock start {start.isoformat()} has no time zone; use UTC-aware datetimes"
            )
        self._now = start

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now += timedelta(seconds=seconds)

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` or by keyword parts (``minutes=5``); return the new time."""
        self._now += (delta or timedelta()) + timedelta(**parts)
        return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` (never backwards: timers already fired stay fired)."""
        if when < self._now:
            raise ValueError(f"ManualClock cannot go back from {self._now.isoformat()} to {when.isoformat()}")
        self._now = when
        return self._now
