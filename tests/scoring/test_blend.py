"""Blending and calibration to a probability."""

from __future__ import annotations

import numpy as np
import pytest

from fraud_brain.scoring.blend import BlendConfig, Calibrator, logit, sigmoid


def _held_out(seed: int, n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose true fraud probability is a known, non-logistic function of the score."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    truth = np.clip((z + 4) / 8, 0, 1) ** 3
    return z, rng.random(n) < truth


def test_isotonic_calibration_matches_observed_frequencies_on_a_new_period():
    z, y = _held_out(0)
    calibrator = Calibrator.fit(z, y, method="isotonic")
    z2, y2 = _held_out(1)
    p = calibrator.predict(z2)
    assert np.all(np.diff(calibrator.predict(np.sort(z2))) >= 0)
    bins = np.quantile(p, np.linspace(0, 1, 11))
    index = np.clip(np.digitize(p, bins[1:-1]), 0, 9)
    for b in range(10):
        inside = index == b
        assert abs(p[inside].mean() - y2[inside].mean()) < 0.04


def test_platt_recovers_a_logistic_relation_and_round_trips():
    rng = np.random.default_rng(3)
    z = rng.normal(size=20_000)
    y = rng.random(20_000) < sigmoid(1.5 * z - 2.0)
    calibrator = Calibrator.fit(z, y, method="platt")
    assert calibrator.a == pytest.approx(1.5, abs=0.1) and calibrator.b == pytest.approx(-2.0, abs=0.1)
    again = Calibrator.from_dict(calibrator.to_dict())
    np.testing.assert_allclose(again.predict(z[:10]), calibrator.predict(z[:10]))


def test_calibration_refuses_a_single_class_and_unknown_methods():
    with pytest.raises(ValueError, match="single class"):
        Calibrator.fit(np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="must be 'isotonic' or 'platt'"):
        Calibrator.fit(np.arange(4.0), np.array([0, 1, 0, 1]), method="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method 'magic'"):
        Calibrator.from_dict({"method": "magic"})


def test_blend_is_a_weighted_sum_of_log_odds():
    offline, online, anomaly = np.array([0.8, 0.2]), np.array([0.6, 0.1]), np.array([0.9, 0.5])
    config = BlendConfig(offline_weight=0.7, online_weight=0.3, anomaly_weight=2.0)
    expected = 0.7 * logit(offline) + 0.3 * logit(online) + 2.0 * (anomaly - 0.5)
    np.testing.assert_allclose(config.blend(offline, online, anomaly), expected)


def test_online_part_waits_for_enough_labels():
    config = BlendConfig(offline_weight=1.0, online_weight=1.0, online_min_labels=100)
    offline, online = np.array([0.3]), np.array([0.9])
    np.testing.assert_allclose(config.blend(offline, online, online_labels=99), logit(offline))
    np.testing.assert_allclose(config.blend(offline, online, online_labels=100), logit(offline) + logit(online))


def test_blend_config_validation_and_toml(tmp_path):
    with pytest.raises(ValueError, match="online_weight = -1"):
        BlendConfig(online_weight=-1)
    with pytest.raises(ValueError, match=r"\[blend\]: unknown key\(s\) \['offline'\]"):
        path = tmp_path / "scoring.toml"
        path.write_text("[blend]\noffline = 1\n")
        BlendConfig.load(path)
    path.write_text("[blend]\noffline_weight = 0.6\nonline_weight = 0.4\n")
    assert BlendConfig.load(path) == BlendConfig(0.6, 0.4)


def test_expert_weights_follow_the_part_that_ranks_recent_labels_better():
    from fraud_brain.scoring.blend import ExpertWeights

    rng = np.random.default_rng(0)
    experts = ExpertWeights(min_positives=20)
    y = rng.random(400) < 0.1
    good, bad = np.where(y, 0.9, 0.1) + rng.normal(0, 0.05, 400), rng.random(400)
    experts.update(good[:100], bad[:100], y[:100])
    if y[:100].sum() < 20:
        assert experts.weights == (1.0, 0.0)
    experts.update(good[100:], bad[100:], y[100:])
    offline, online = experts.weights
    assert offline > 0.95 and offline + online == pytest.approx(1.0)
    for _ in range(3):  # drift: the offline part now ranks at random, the online part well
        y = rng.random(400) < 0.1
        experts.update(rng.random(400), np.where(y, 0.8, 0.2), y)
    assert experts.weights[1] > 0.95
