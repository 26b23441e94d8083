"""Local hour and weekday of epoch-millisecond times, computed with numpy.

Converting every event's time zone with polars costs more than the rest of an input column
together. A zone's UTC offset changes only at rare transitions, so the offset is looked up
(with polars, exactly) once per UTC hour the batch touches, at the hour's first and last
millisecond; where the two agree the whole hour has that offset and local time is plain
integer arithmetic. Hours holding a transition, and batches spanning too many hours, are
converted row by row with polars as before.

>>> import numpy as np
>>> ms = np.array([0, 1_700_000_000_000])          # 1970-01-01 00:00 and 2023-11-14 22:13 UTC
>>> hour, weekday = local_hour_weekday(ms, "Asia/Shanghai")
>>> hour.tolist(), weekday.tolist()                 # 08:00 Thursday; 06:13 Wednesday (next day)
([8.0, 6.0], [4.0, 3.0])
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MAX_HOURS = 200_000
"""Batches spanning more UTC hours than this (about 23 years) are converted row by row."""


def _local_ms(epoch_ms: np.ndarray, tz: str) -> np.ndarray:
    """Local wall-clock time as epoch milliseconds, converted exactly by polars."""
    utc = pl.Series(epoch_ms.astype(np.int64, copy=False)).cast(pl.Datetime("ms", "UTC"))
    local = utc.dt.convert_time_zone(tz).dt.replace_time_zone(None)
    return local.dt.epoch("ms").to_numpy().astype(np.int64, copy=False)


SMALL_SPAN = 4
"""Batches spanning at most this many UTC hours use the per-hour offset cache."""


@functools.lru_cache(maxsize=4096)
def _hour_offsets(tz: str, hour: int) -> tuple[int, int]:
    """The zone's UTC offset (ms) at the first and the last millisecond of one UTC hour."""
    edges = np.array([hour * HOUR_MS, hour * HOUR_MS + HOUR_MS - 1], dtype=np.int64)
    offsets = _local_ms(edges, tz) - edges
    return int(offsets[0]), int(offsets[1])


def local_ms(epoch_ms: np.ndarray, tz: str) -> np.ndarray:
    """Local wall-clock time in zone ``tz`` of each UTC epoch-millisecond time, as epoch milliseconds.

    >>> import numpy as np
    >>> (local_ms(np.array([0]), "Asia/Shanghai") // HOUR_MS).tolist()
    [8]
    """
    epoch_ms = np.asarray(epoch_ms, np.int64)
    if epoch_ms.shape[0] == 0:
        return epoch_ms.copy()
    hours = epoch_ms // HOUR_MS
    first = int(hours.min())
    span = int(hours.max()) - first + 1
    if span > MAX_HOURS:
        return _local_ms(epoch_ms, tz)
    if span <= SMALL_SPAN:
        # A single record (the pre-transfer check) or a short batch: hours seen before are cached.
        pairs = np.array([_hour_offsets(tz, first + h) for h in range(span)], dtype=np.int64)
        offset_start, offset_end = pairs[:, 0], pairs[:, 1]
    else:
        starts = (np.arange(span, dtype=np.int64) + first) * HOUR_MS
        offset_start = _local_ms(starts, tz) - starts
        offset_end = _local_ms(starts + (HOUR_MS - 1), tz) - (starts + (HOUR_MS - 1))
    index = hours - first
    out: np.ndarray = epoch_ms + offset_start[index]
    moving = (offset_start != offset_end)[index]
    if moving.any():
        out[moving] = _local_ms(epoch_ms[moving], tz)
    return out


def local_hour_weekday(epoch_ms: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Local hour (0-23) and ISO weekday (1 = Monday) as float64 arrays, as polars' ``dt.hour``/``dt.weekday``."""
    local = local_ms(epoch_ms, tz)
    hour = (local // HOUR_MS) % 24
    # 1970-01-01 was a Thursday (ISO weekday 4)
    weekday = (local // DAY_MS + 3) % 7 + 1
    return hour.astype(np.float64), weekday.astype(np.float64)
