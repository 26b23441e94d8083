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


def write_data_folder(folder, n_calls: int = 6000, n_transfers: int = 3000, days: float = 14.0, seed: int = 0):
    """A record folder for the CLI: synthetic calls/transfers/subscribers plus labels where
    large transfers and a few numbers are confirmed fraud, reported one to three days later."""
    from fraud_brain.features.synthetic import synthetic_telecom
    from fraud_brain.io.files import write_frame
    from fraud_brain.schema.records import LABELS

    frames = synthetic_telecom(n_calls=n_calls, n_transfers=n_transfers, n_phones=300, seed=seed, span_days=days)
    rng = np.random.default_rng(seed)
    transfers = frames["transfer"]
    cut = transfers["amount"].quantile(0.93)
    scams = transfers.filter(pl.col("amount") > cut)
    callers = frames["call"]["caller"].unique().sort().head(15)
    first_call = frames["call"].group_by("caller").agg(pl.col("start_time").min())
    number_times = first_call.filter(pl.col("caller").is_in(callers.implode()))
    labels = pl.concat(
        [
            scams.select(
                pl.lit("transfer").alias("entity_type"), pl.col("transfer_id").alias("entity_id"), pl.col("time")
            ),
            number_times.select(
                pl.lit("number").alias("entity_type"),
                pl.col("caller").alias("entity_id"),
                pl.col("start_time").alias("time"),
            ),
        ]
    )
    delay = pl.Series(rng.uniform(1, 3, labels.height) * 86_400_000).cast(pl.Int64)
    labels = labels.select(
        pl.format("L{}", pl.int_range(pl.len())).alias("label_id"),
        pl.col("entity_type"),
        pl.col("entity_id"),
        pl.lit(True).alias("is_fraud"),
        pl.lit(None, pl.String).alias("typology"),
        (pl.col("time") + pl.duration(milliseconds=delay)).alias("known_at"),
        pl.lit("victim_report").alias("source"),
    ).cast(LABELS.polars_schema())
    files = {"calls": frames["call"], "transfers": transfers, "subscribers": frames["subscribers"], "labels": labels}
    for name, frame in files.items():
        write_frame(frame, folder / f"{name}.parquet")
    truth = scams.select(
        "transfer_id", "payer_account", (pl.col("time") - pl.duration(minutes=20)).alias("first_scam_call_time")
    )
    truth.write_parquet(folder / "truth_transfers.parquet")
    return folder
