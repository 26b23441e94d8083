"""A synthetic feature stream with a hard concept drift: a small, fast check of online recovery.

Fraud first follows risky calls, then, from ``drift_day``, large amounts to payees with a high
fan-in, a pattern the frozen model never saw. It is a unit-sized stress test of the online
part with three features, not a picture of the world: for that, simulate the ``drift`` preset
(:mod:`fraud_brain.sim`, rings moving from phone calls to chat apps) and evaluate with
``--drift-day``.

>>> events, labels = drifting_transfers(n=500, days=10, drift_day=5)
>>> events.columns[:3], labels.columns
(['transfer_id', 'time', 'payer_account'], ['entity_type', 'entity_id', 'is_fraud', 'known_at'])
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

FEATURE_GROUPS = {"amount": "transfer", "payee_fan_in_24h": "transfer", "caller_risk": "cross_channel"}
"""Feature → group of :func:`drifting_transfers`."""


def drifting_transfers(
    n: int = 12_000,
    days: int = 42,
    drift_day: int = 24,
    seed: int = 0,
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC),
    label_delay: timedelta = timedelta(hours=12),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Transfers with features and their fraud labels (known ``label_delay`` later)."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.uniform(0, days * 86_400, n))
    time = pl.Series([start + timedelta(seconds=float(s)) for s in offsets], dtype=pl.Datetime("ms", "UTC"))
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
            "payer_account": [f"p{i}" for i in rng.integers(0, max(1, n // 4), n)],
            "amount": amount * 100 + 1000,
            "payee_fan_in_24h": fan_in,
            "caller_risk": call,
        }
    )
    labels = events.filter(pl.Series(fraud)).select(
        pl.lit("transfer").alias("entity_type"),
        pl.col("transfer_id").alias("entity_id"),
        pl.lit(True).alias("is_fraud"),
        (pl.col("time") + label_delay).alias("known_at"),
    )
    return events, labels
