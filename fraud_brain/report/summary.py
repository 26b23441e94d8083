"""A summary of a data folder: how many records of each kind, over what time, of what sort.

>>> import polars as pl
>>> from fraud_brain.schema import CALLS
>>> summarize({"call": CALLS.empty()})[0].records
0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from fraud_brain.schema.records import SCHEMAS

BREAKDOWNS = {
    "call": ("disposition", "caller_type"),
    "transfer": ("channel",),
    "subscriber": ("age_band",),
    "label": ("entity_type", "source"),
}


@dataclass
class KindSummary:
    """What one kind of record in a data folder looks like."""

    kind: str
    records: int
    first: datetime | None = None
    last: datetime | None = None
    breakdowns: dict[str, dict[str, int]] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


def summarize(frames: dict[str, pl.DataFrame]) -> list[KindSummary]:
    """Summaries of each kind of record, in schema order."""
    out = []
    for kind, frame in frames.items():
        schema = SCHEMAS[kind]
        summary = KindSummary(kind=kind, records=frame.height)
        if schema.time_field and frame.height:
            summary.first = frame[schema.time_field].min()
            summary.last = frame[schema.time_field].max()
        for column in BREAKDOWNS.get(kind, ()):
            counts = frame[column].value_counts(sort=True)
            summary.breakdowns[column] = {
                str(value): int(count) for value, count in counts.iter_rows()
            }
        if kind == "transfer" and frame.height:
            summary.extra["amount median / p99 (yuan)"] = (
                f"{frame['amount'].median():,.0f} / {frame['amount'].quantile(0.99):,.0f}"
            )
        if kind == "call" and frame.height:
            summary.extra["distinct callers"] = f"{frame['caller'].n_unique():,}"
        if kind == "label" and frame.height:
            summary.extra["confirmed fraud"] = f"{int(frame['is_fraud'].sum()):,}"
        out.append(summary)
    return out
