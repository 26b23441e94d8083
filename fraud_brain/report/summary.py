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

from fraud_brain.schema.records import SCHEMAS, RecordSchema

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


def summarize(frames: dict[str, pl.DataFrame], schemas: dict[str, RecordSchema] | None = None) -> list[KindSummary]:
    """Summaries of each kind of record, in schema order.

    ``schemas`` gives the record kinds a feature spec declares (default: the built-in ones);
    a declared kind is broken down by its enum fields.

    >>> from fraud_brain.features import bundled_spec
    >>> from fraud_brain.features.synthetic import synthetic_card
    >>> summarize({"card_tx": synthetic_card(n=10)["tx"]}, bundled_spec("card").records)[0].records
    10
    """
    out = []
    for kind, frame in frames.items():
        schema = (schemas or SCHEMAS)[kind]
        summary = KindSummary(kind=kind, records=frame.height)
        if schema.time_field and frame.height:
            summary.first = frame[schema.time_field].min()  # type: ignore[assignment]
            summary.last = frame[schema.time_field].max()  # type: ignore[assignment]
        enums = tuple(f.name for f in schema.fields if isinstance(f.dtype, pl.Enum) and f.name in frame.columns)
        for column in BREAKDOWNS.get(kind, enums):
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
