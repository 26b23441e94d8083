"""Settings: presets, overrides and readable errors."""

from __future__ import annotations

from datetime import date

import pytest

from fraud_brain.sim import PRESETS, SimConfig
from fraud_brain.sim.config import DAY_MS


def test_presets_have_the_promised_sizes() -> None:
    assert PRESETS["sample"].days <= 7 and PRESETS["sample"].n_subscribers <= 10_000
    assert PRESETS["small"].days == 30 and PRESETS["small"].n_subscribers == 20_000
    assert PRESETS["bench"].n_subscribers > PRESETS["small"].n_subscribers


def test_overrides_apply_and_unknown_fields_are_named() -> None:
    config = SimConfig.preset("small", seed=3, days=5, start=date(2026, 1, 1))
    assert (config.seed, config.days, config.start) == (3, 5, date(2026, 1, 1))
    with pytest.raises(ValueError, match=r"unknown SimConfig field\(s\) \['colour'\]"):
        SimConfig.preset("small", colour="red")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("n_subscribers", 10, "SimConfig.n_subscribers must be >= 50"),
        ("victim_report_rate", 1.5, r"SimConfig.victim_report_rate must be in \[0, 1\]"),
        ("legit_call_scale", -1.0, "SimConfig.legit_call_scale must be >= 0"),
    ],
)
def test_bad_settings_raise_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimConfig.preset("sample", **{field: value})


def test_window_and_drift_day() -> None:
    config = SimConfig(start=date(2026, 10, 5), days=10)
    assert config.start_ms % DAY_MS == 0
    assert config.end_ms - config.start_ms == 10 * DAY_MS
    assert config.drift_start_day == 5
    assert SimConfig(days=10, drift_day=2).drift_start_day == 2
    assert SimConfig(days=10, drift=False).drift_start_day == 10


def test_drift_preset_changes_tactics_strongly_inside_the_window() -> None:
    config = SimConfig.preset("drift")
    assert 0 < config.drift_start_day < config.days and config.drift_strength > 0.5
    assert config.drift_start_ms == config.start_ms + config.drift_start_day * DAY_MS
    # every other preset keeps the phone-first tactics (the committed sample depends on it)
    assert all(PRESETS[name].drift_strength == 0 for name in ("sample", "small", "bench"))
    with pytest.raises(ValueError, match=r"SimConfig.drift_strength must be in \[0, 1\]"):
        SimConfig.preset("drift", drift_strength=1.5)


def test_a_drift_day_outside_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match=r"SimConfig.drift_day must be in \[0, days=4\], got 9"):
        SimConfig.preset("sample", days=4, drift_day=9)
