"""Timing shared by the benchmarks: the median of repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(function: Callable[[], object], repeat: int, setup: Callable[[], None] | None = None) -> tuple[float, object]:
    """Median seconds of ``repeat`` runs of ``function`` (``setup`` runs untimed before each), and its last result.

    >>> seconds, result = timed(lambda: sum(range(10)), repeat=3)
    >>> result, seconds >= 0
    (45, True)
    """
    times, result = [], None
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result
