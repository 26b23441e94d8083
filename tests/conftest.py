"""Shared fixtures: paths to the bundled sample data."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The committed sample data set (made by ``make sample``)."""
    return SAMPLE


def write_sample_window(folder: Path, hours: float) -> Path:
    """The first ``hours`` of the sample as a small data folder (no labels), for live-ingest tests."""
    from datetime import timedelta

    import polars as pl

    from fraud_brain.io import load_kind

    calls = load_kind(SAMPLE, "call")
    transfers = load_kind(SAMPLE, "transfer")
    end = transfers["time"].min() + timedelta(hours=hours)
    calls.filter(pl.col("start_time") < end).write_parquet(folder / "calls.parquet")
    transfers.filter(pl.col("time") < end).write_parquet(folder / "transfers.parquet")
    load_kind(SAMPLE, "subscriber").write_parquet(folder / "subscribers.parquet")
    load_kind(SAMPLE, "label").head(0).write_parquet(folder / "labels.parquet")
    return folder
