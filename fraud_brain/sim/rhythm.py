"""Daily and weekly rhythm: when (in local time, UTC+8) each kind of activity happens.

Times are drawn as whole arrays: a day by weekday weight, an hour by the activity's hourly
profile, then a uniform second within the hour.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> t = sample_times(rng, 1000, start_ms=0, days=7, profile=PROFILES["work"])
>>> hours = ((t + LOCAL_OFFSET_MS) // 3_600_000) % 24
>>> bool(((hours >= 8) & (hours < 19)).mean() > 0.9)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraud_brain.sim.config import DAY_MS, LOCAL_OFFSET_MS


@dataclass(frozen=True)
class Profile:
    """When an activity happens: 24 hourly weights (local time) and a weekend weight."""

    hours: tuple[float, ...]
    weekend: float = 1.0

    def hour_probabilities(self) -> np.ndarray:
        """The hourly weights normalised to sum to 1.

        >>> float(PROFILES["evening"].hour_probabilities().sum())
        1.0
        """
        weights = np.asarray(self.hours, dtype=np.float64)
        return weights / weights.sum()


def _hours(spec: dict[tuple[int, int], float], base: float = 0.0) -> tuple[float, ...]:
    weights = [base] * 24
    for (first, last), weight in spec.items():
        for hour in range(first, last):
            weights[hour] = weight
    return tuple(weights)


PROFILES: dict[str, Profile] = {
    "family": Profile(
        _hours({(7, 9): 1.0, (9, 12): 0.8, (12, 14): 1.5, (14, 18): 0.8, (18, 22): 2.5, (22, 23): 0.8}, 0.05),
        1.4,
    ),
    "work": Profile(_hours({(8, 9): 0.8, (9, 12): 2.5, (12, 13): 0.6, (13, 18): 2.2, (18, 19): 0.6}), 0.15),
    "evening": Profile(
        _hours({(10, 12): 0.5, (12, 14): 0.8, (17, 20): 1.8, (20, 23): 2.2, (23, 24): 0.5}, 0.05), 1.6
    ),
    "business": Profile(_hours({(9, 12): 2.0, (12, 14): 1.2, (14, 18): 2.0, (18, 21): 0.8}), 0.7),
    "shopping": Profile(
        _hours({(8, 10): 0.6, (10, 14): 1.5, (14, 19): 1.2, (19, 24): 2.0, (0, 1): 0.6}, 0.1), 1.3
    ),
    "any": Profile(_hours({(7, 23): 1.0}, 0.1), 1.0),
    "scam": Profile(_hours({(9, 12): 2.0, (12, 14): 1.0, (14, 18): 2.0, (18, 21): 1.2, (21, 23): 0.4}), 0.8),
    "night": Profile(_hours({(0, 5): 2.0, (5, 7): 0.8, (22, 24): 1.0}, 0.2), 1.0),
}
"""Hourly profiles by activity: family calls peak in the evening, work calls in office hours."""


def weekday_of(epoch_day: np.ndarray | int) -> np.ndarray:
    """ISO weekday 0=Monday..6=Sunday of days counted from 1970-01-01 (a Thursday).

    >>> int(weekday_of(0))
    3
    """
    return (np.asarray(epoch_day) + 3) % 7


def day_weights(start_ms: int, days: int, profile: Profile) -> np.ndarray:
    """Probability of each local day of the window for an activity with this profile.

    >>> day_weights(0, 7, PROFILES["work"]).round(3).tolist()  # 1970-01-01 was a Thursday
    [0.189, 0.189, 0.028, 0.028, 0.189, 0.189, 0.189]
    """
    local_first = (start_ms + LOCAL_OFFSET_MS) // DAY_MS
    weekday = weekday_of(local_first + np.arange(days))
    weights = np.where(weekday >= 5, profile.weekend, 1.0)
    return weights / weights.sum()


def sample_times(rng: np.random.Generator, n: int, start_ms: int, days: int, profile: Profile) -> np.ndarray:
    """``n`` event times (ms since epoch, UTC) spread over a window with the profile's rhythm.

    Local days are those of UTC+8 that overlap the window; times falling outside
    ``[start_ms, start_ms + days·DAY_MS)`` (the window is in UTC, days are local) are folded
    back inside by whole days, keeping the time of day.
    """
    local_first = (start_ms + LOCAL_OFFSET_MS) // DAY_MS
    day = rng.choice(days + 1, size=n, p=day_weights(start_ms, days + 1, profile))
    hour = rng.choice(24, size=n, p=profile.hour_probabilities())
    second = rng.integers(0, 3_600_000, size=n)
    t = (local_first + day) * DAY_MS - LOCAL_OFFSET_MS + hour * 3_600_000 + second
    return fold_into(t, start_ms, start_ms + days * DAY_MS)


def fold_into(t: np.ndarray, start_ms: int, end_ms: int) -> np.ndarray:
    """Shift times outside ``[start_ms, end_ms)`` by whole days until they fall inside.

    >>> fold_into(np.array([-5, 5, DAY_MS + 5]), 0, DAY_MS).tolist()
    [86399995, 5, 5]
    """
    span_days = max((end_ms - start_ms) // DAY_MS, 1)
    offset = t - start_ms
    folded = start_ms + np.mod(offset, span_days * DAY_MS)
    return np.where((t >= start_ms) & (t < end_ms), t, folded).astype(np.int64)


def local_hour(t_ms: np.ndarray) -> np.ndarray:
    """Local (UTC+8) hour of day of UTC millisecond times.

    >>> local_hour(np.array([0])).tolist()
    [8]
    """
    return ((np.asarray(t_ms) + LOCAL_OFFSET_MS) // 3_600_000) % 24
