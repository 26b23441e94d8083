"""Typed records at the edge: schemas for calls, transfers, subscribers and labels, and validation."""

from fraud_brain.schema.records import (
    CALLS,
    LABELS,
    SCHEMAS,
    SUBSCRIBERS,
    TIME,
    TRANSFERS,
    Field,
    RecordSchema,
    schema_for,
)

__all__ = [
    "CALLS",
    "LABELS",
    "SCHEMAS",
    "SUBSCRIBERS",
    "TIME",
    "TRANSFERS",
    "Field",
    "RecordSchema",
    "schema_for",
]
