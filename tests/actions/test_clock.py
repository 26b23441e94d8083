"""Clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraud_brain.actions import Clock, ManualClock, SystemClock


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.sleep(90)
    assert clock.now() == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    clock.advance(timedelta(hours=1), minutes=1)
    assert clock.now().hour == 1 and clock.now().minute == 2
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="no time zone"):
        ManualClock(datetime(2026, 1, 1))


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SystemClock(), Clock) and isinstance(ManualClock(datetime.now(UTC)), Clock)
    before = SystemClock().now()
    SystemClock().sleep(0.01)
    assert SystemClock().now() > before
