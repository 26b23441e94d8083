"""Small synthetic feature frames for the scoring tests (the feature engine's contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

START = datetime(2026, 3, 2, tzinfo=UTC)
FEATURES = ["amount", "payee_fan_in_24h", "last_call_duration_s", "minutes_since_last_call", "caller_age_days"]


def synthetic_transfers(n: int = 4000, days: float = 20.0, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Transfers with features and labels: fraud depends on fan-in and a recent long call.

    Labels arrive 1-3 days after the transfer.
    """
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.uniform(0, days * 86_400, n))
    times = [START + timedelta(seconds=float(s)) for s in offsets]
    fan_in = rng.poisson(1.0, n).astype(float)
    call = rng.exponential(300, n)
    logit = -5.0 + 0.9 * fan_in + 0.004 * call
    fraud = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pl.DataFrame(
        {
            "transfer_id": [f"t{i}" for i in range(n)],
            "time": pl.Series(times, dtype=pl.Datetime("ms", "UTC")),
            "payer_account": [f"A{i}" for i in rng.integers(0, n // 4, n)],
            "amount": rng.lognormal(6, 1, n),
            "payee_fan_in_24h": fan_in,
            "last_call_duration_s": call,
            "minutes_since_last_call": rng.uniform(1, 120, n),
            "caller_age_days": rng.integers(0, 400, n).astype(float),
        }
    )
    delay = pl.Series(rng.uniform(1, 3, n) * 86_400_000).cast(pl.Int64)
    labels = frame.select(
        pl.lit("transfer").alias("entity_type"),
        pl.col("transfer_id").alias("entity_id"),
        pl.Series("is_fraud", fraud),
        (pl.col("time") + pl.duration(milliseconds=delay)).alias("known_at"),
    ).filter(pl.col("is_fraud"))
    return frame, labels
