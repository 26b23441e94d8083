"""Time sampling: windows, folding and the local-time rhythm."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.sim.config import DAY_MS, LOCAL_OFFSET_MS
from fraud_brain.sim.rhythm import PROFILES, day_weights, fold_into, local_hour, sample_times, weekday_of


def reference_fold(t: int, start: int, end: int) -> int:
    span = max((end - start) // DAY_MS, 1) * DAY_MS
    while t < start:
        t += span
    while t >= start + span:
        t -= span
    return t


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-30 * DAY_MS, 60 * DAY_MS), min_size=1, max_size=20), st.integers(1, 20))
def test_fold_into_matches_a_loop(times: list[int], days: int) -> None:
    start = 5 * DAY_MS
    end = start + days * DAY_MS
    got = fold_into(np.array(times, dtype=np.int64), start, end)
    assert got.tolist() == [reference_fold(t, start, end) for t in times]
    assert ((got >= start) & (got < end)).all()
    # Folding keeps the time of day.
    assert ((got - np.array(times)) % DAY_MS == 0).all()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 10), st.sampled_from(sorted(PROFILES)))
def test_sample_times_stay_in_the_window(seed: int, days: int, profile: str) -> None:
    start = 20_000 * DAY_MS
    t = sample_times(np.random.default_rng(seed), 500, start, days, PROFILES[profile])
    assert ((t >= start) & (t < start + days * DAY_MS)).all()


def test_profiles_shape_the_local_hours() -> None:
    rng = np.random.default_rng(1)
    start = 20_000 * DAY_MS
    night = local_hour(sample_times(rng, 20_000, start, 14, PROFILES["night"]))
    evening = local_hour(sample_times(rng, 20_000, start, 14, PROFILES["evening"]))
    assert ((night < 7) | (night >= 22)).mean() > 0.8
    assert ((evening >= 17) & (evening < 24)).mean() > 0.6


def test_weekend_weight_lowers_weekend_days() -> None:
    start = 20_000 * DAY_MS
    weights = day_weights(start, 14, PROFILES["work"])
    local_days = (start + LOCAL_OFFSET_MS) // DAY_MS + np.arange(14)
    weekend = weekday_of(local_days) >= 5
    assert weights[weekend].max() < weights[~weekend].min()
    assert np.isclose(weights.sum(), 1.0)
