"""Fixtures of the rules tests."""

from __future__ import annotations

import polars as pl
import pytest
from rules_frames import CALL_SCHEMA, TRANSFER_SCHEMA


@pytest.fixture
def schemas() -> dict[str, pl.Schema]:
    """Scored-frame schemas of both event types."""
    return {"transfer": TRANSFER_SCHEMA, "call": CALL_SCHEMA}
