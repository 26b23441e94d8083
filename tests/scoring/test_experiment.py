"""The three-setup evaluation, including recovery of the online setup under drift."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from fraud_brain.scoring.experiment import SetupResult, compare_setups
from fraud_brain.scoring.offline import TimeSplit
from fraud_brain.scoring.synthetic import drifting_transfers

from .helpers import START


def _drifting_world():
    events, labels = drifting_transfers(seed=0, start=START)
    fraud_ids = labels["entity_id"].implode()
    first_calls = events.filter(pl.col("transfer_id").is_in(fraud_ids)).group_by("payer_account").agg(
        (pl.col("time").min() - pl.duration(minutes=30)).alias("first_scam_call_time")
    )
    return events, labels, first_calls


def test_cross_channel_beats_transfer_only_and_online_recovers_under_drift():
    events, labels, first_calls = _drifting_world()
    groups = {"amount": "transfer", "payee_fan_in_24h": "transfer", "caller_risk": "cross_channel"}
    split = TimeSplit.from_days(START, 14, 1, 27)
    results = compare_setups(events, labels, groups, "spec", split, first_calls, k=20, num_boost_round=60)
    by_name = {r.name: r for r in results}
    frozen, online = by_name["cross-channel"], by_name["cross-channel + online"]

    def before(r: SetupResult) -> pl.DataFrame:
        return r.windows.filter(pl.col("window_start") < START + timedelta(days=21))

    def after(r: SetupResult) -> pl.DataFrame:
        return r.windows.filter(pl.col("window_start") >= START + timedelta(days=28))

    # before the drift the calls carry the signal
    assert before(frozen)["average_precision"].mean() > before(by_name["transfer-only"])["average_precision"].mean()
    assert after(online)["average_precision"].mean() > after(frozen)["average_precision"].mean() + 0.05
    assert online.extra["online_learned"] > 1000 and online.extra["online_positives"] > 50
    assert frozen.report.median_minutes_to_alert is not None and frozen.report.median_minutes_to_alert >= 30
    assert online.scored["time"].min() >= split.test_start


def test_number_setups_score_numbers_per_day_and_anomaly_touches_only_cold_numbers():
    from fraud_brain.scoring.experiment import compare_number_setups

    rng = np.random.default_rng(5)
    n = 6000
    callers = rng.integers(0, 400, n)
    fraud_numbers = {f"n{c}" for c in range(0, 400, 20)}
    is_fraud = np.array([f"n{c}" in fraud_numbers for c in callers])
    calls = pl.DataFrame(
        {
            "call_id": [f"c{i}" for i in range(n)],
            "start_time": pl.Series(sorted(START + timedelta(minutes=float(m)) for m in rng.uniform(0, 20 * 1440, n))),
            "caller": [f"n{c}" for c in callers],
            "callees_24h": rng.poisson(3, n) + is_fraud * rng.poisson(15, n),
            "caller_new": (rng.random(n) < 0.3).astype(float),
        }
    )
    first_seen = calls.group_by("caller").agg(pl.col("start_time").min())
    labels = first_seen.filter(pl.col("caller").is_in(list(fraud_numbers))).select(
        pl.lit("number").alias("entity_type"), pl.col("caller").alias("entity_id"), pl.lit(True).alias("is_fraud"),
        (pl.col("start_time") + pl.duration(days=2)).alias("known_at"),
    )
    groups = {"callees_24h": "call", "caller_new": "call"}
    split = TimeSplit.from_days(START, 8, 2, 10)
    plain, with_anomaly = compare_number_setups(
        calls, labels, groups, "s", split, sorted(fraud_numbers), k=5, num_boost_round=30
    )
    assert plain.report.average_precision > 0.8
    daily = plain.scored
    assert daily.select(pl.struct("time", "caller").n_unique()).item() == daily.height
    assert daily["label"].sum() == daily.filter(pl.col("caller").is_in(list(fraud_numbers))).height
    assert with_anomaly.scored.height == daily.height


@pytest.mark.parametrize("seed", [2, 4])
def test_on_a_simulated_strong_drift_the_frozen_model_decays_and_online_recovers(tmp_path, seed):
    """The ``drift`` preset: from day 19 most rings work over chat apps (no call to the victim,
    late-night payments to shared running-points accounts). Checked on seeds 1-5, 7, 11, 12 with
    these settings while building it: the frozen model fell from 0.95-0.97 to 0.27-0.49 AP after
    the drift, online reached 0.58-0.77 (at least 0.22 above frozen)."""
    from datetime import UTC, datetime

    from fraud_brain.scoring.dataset import build_training_data
    from fraud_brain.scoring.experiment import drift_summary
    from fraud_brain.sim import SimConfig, simulate

    config = SimConfig.preset("drift", seed=seed)
    simulate(config).write(tmp_path)
    data = build_training_data(tmp_path)
    split = data.default_split()
    drift_at = datetime.fromtimestamp(config.drift_start_ms / 1000, UTC)
    assert split.label_cutoff < drift_at < split.test_end  # trained before the drift, tested across it
    results = compare_setups(
        data.transfers, data.labels, data.transfer_groups, data.spec_hash, split,
        window="1d", num_boost_round=60, evaluation_labels=data.evaluation_labels(),
    )
    summary = {row["setup"]: row for row in drift_summary(results, drift_at).iter_rows(named=True)}
    frozen, online = summary["cross-channel"], summary["cross-channel + online"]
    assert frozen["frauds_before"] > 100 and frozen["frauds_after"] > 200
    assert frozen["ap_before"] > 0.85
    assert frozen["ap_after"] < frozen["ap_before"] - 0.4
    assert online["ap_before"] > frozen["ap_before"] - 0.03  # the online part costs little before the drift
    assert online["ap_after"] > frozen["ap_after"] + 0.15
    assert online["window_ap_after"] > frozen["window_ap_after"] + 0.2

    def late(r: SetupResult) -> pl.Series:
        return r.windows.filter(pl.col("window_start") >= drift_at + timedelta(days=3))["average_precision"]

    # recovery over time: once the post-drift labels arrive, online wins day after day
    by_name = {r.name: r for r in results}
    assert (late(by_name["cross-channel + online"]) > late(by_name["cross-channel"])).all()
