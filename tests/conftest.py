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
