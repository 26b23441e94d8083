"""Local hour/weekday from epoch milliseconds against polars' time-zone conversion."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.features import localtime

ZONES = ("UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/St_Johns", "Pacific/Chatham")
# 2021-03-14 and 2021-11-07 (US), 2021-03-28 and 2021-10-31 (EU), 2021-04-04 (Lord Howe): transition days
TRANSITIONS = [1615680000000, 1636243200000, 1616889600000, 1635638400000, 1617494400000]


def _polars(ms: np.ndarray, tz: str) -> tuple[list[float], list[float]]:
    local = pl.Series(ms).cast(pl.Datetime("ms", "UTC")).dt.convert_time_zone(tz)
    return local.dt.hour().cast(pl.Float64).to_list(), local.dt.weekday().cast(pl.Float64).to_list()


times = st.one_of(
    st.integers(0, 4_102_444_800_000),                                            # 1970 .. 2100
    st.sampled_from(TRANSITIONS).flatmap(lambda t: st.integers(t - 86_400_000, t + 2 * 86_400_000)),
    st.integers(0, 400 * 86_400_000),                                             # historical rules near 1970
)


@settings(max_examples=150, deadline=None)
@given(ms=st.lists(times, min_size=1, max_size=40), tz=st.sampled_from(ZONES))
def test_hour_and_weekday_equal_polars(ms: list[int], tz: str) -> None:
    arr = np.array(ms, np.int64)
    hour, weekday = localtime.local_hour_weekday(arr, tz)
    want_hour, want_weekday = _polars(arr, tz)
    assert hour.tolist() == want_hour
    assert weekday.tolist() == want_weekday


def test_every_millisecond_boundary_of_a_dst_day_matches() -> None:
    # every minute of the US spring-forward and fall-back days, plus the last ms of each hour
    for start in (1615680000000, 1636243200000):
        minutes = start + 60_000 * np.arange(0, 2 * 24 * 60, dtype=np.int64)
        arr = np.sort(np.concatenate([minutes, minutes - 1]))
        hour, weekday = localtime.local_hour_weekday(arr, "America/New_York")
        assert (hour.tolist(), weekday.tolist()) == _polars(arr, "America/New_York")


def test_wide_batches_fall_back_to_polars_exactly() -> None:
    arr = np.array([0, localtime.HOUR_MS * (localtime.MAX_HOURS + 5), 1_700_000_000_000], np.int64)
    hour, weekday = localtime.local_hour_weekday(arr, "Europe/London")
    assert (hour.tolist(), weekday.tolist()) == _polars(arr, "Europe/London")
    assert localtime.local_ms(np.zeros(0, np.int64), "UTC").shape == (0,)
