"""The three-setup evaluation, including recovery of the online setup under drift."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from fraud_brain.scoring.experiment import compare_setups
from fraud_brain.scoring.offline import TimeSplit

from .helpers import START


def _drifting_world(n: int = 12_000, days: int = 42, drift_day: int = 24, seed: int = 0):
    """Fraud follows risky calls at first; from ``drift_day`` scammers switch to a new pattern
    (large amounts to payees with a high fan-in), which the frozen model never learned."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.uniform(0, days * 86_400, n))
    time = pl.Series([START + timedelta(seconds=float(s)) for s in offsets], dtype=pl.Datetime("ms", "UTC"))
    call = rng.exponential(1.0, n)
    amount = rng.normal(size=n)
    fan_in = rng.normal(size=n)
    drifted = offsets >= drift_day * 86_400
    logit = np.where(drifted, -4.5 + 1.6 * amount + 1.6 * fan_in, -4.5 + 2.0 * call)
    fraud = rng.random(n) < 1 / (1 + np.exp(-logit))
    events = pl.DataFrame(
        {
            "transfer_id": [f"t{i}" for i in range(n)],
            "time": time,
            "payer_account": [f"p{i}" for i in rng.integers(0, 3000, n)],
            "amount": amount * 100 + 1000,
            "payee_fan_in_24h": fan_in,
            "caller_risk": call,
        }
    )
    labels = events.filter(pl.Series(fraud)).select(
        pl.lit("transfer").alias("entity_type"),
        pl.col("transfer_id").alias("entity_id"),
        pl.lit(True).alias("is_fraud"),
        (pl.col("time") + pl.duration(hours=12)).alias("known_at"),
    )
    first_calls = events.filter(pl.Series(fraud)).group_by("payer_account").agg(
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
    # before the drift the calls carry the signal
    before = lambda r: r.windows.filter(pl.col("window_start") < START + timedelta(days=21))  # noqa: E731
    after = lambda r: r.windows.filter(pl.col("window_start") >= START + timedelta(days=28))  # noqa: E731
    assert before(frozen)["average_precision"].mean() > before(by_name["transfer-only"])["average_precision"].mean()
    assert after(online)["average_precision"].mean() > after(frozen)["average_precision"].mean() + 0.05
    assert online.extra["online_learned"] > 1000 and online.extra["online_positives"] > 50
    assert frozen.report.median_minutes_to_alert is not None and frozen.report.median_minutes_to_alert >= 30
    assert online.scored["time"].min() >= split.test_start
