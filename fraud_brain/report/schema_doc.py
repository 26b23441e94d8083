"""The record schemas as Markdown tables (the README's schema section is made from this).

>>> print(schema_markdown("label").splitlines()[2])
| `label_id` | String | yes | unique id of the label | matches `^[A-Za-z0-9_.:\\-]{1,64}$` |
"""

from __future__ import annotations

import polars as pl

from fraud_brain.schema.records import SCHEMAS


def _checks(field) -> str:  # noqa: ANN001 - a records.Field
    parts = []
    if field.gt is not None:
        parts.append(f"> {field.gt:g}")
    if field.ge is not None:
        parts.append(f">= {field.ge:g}")
    if field.le is not None:
        parts.append(f"<= {field.le:g}")
    if isinstance(field.dtype, pl.Enum):
        parts.append("one of " + ", ".join(f"`{c}`" for c in field.dtype.categories.to_list()))
    if field.pattern is not None:
        parts.append(f"matches `{field.pattern}`")
    return "; ".join(parts)


def _dtype(field) -> str:  # noqa: ANN001
    if isinstance(field.dtype, pl.Enum):
        return "Enum"
    if isinstance(field.dtype, pl.Datetime):
        return "Datetime (ms, UTC)"
    return str(field.dtype)


def schema_markdown(kind: str) -> str:
    """One kind's schema as a Markdown table: field, type, required, meaning, checks."""
    schema = SCHEMAS[kind]
    lines = ["| field | type | required | meaning | checks |", "| --- | --- | --- | --- | --- |"]
    for field in schema.fields:
        lines.append(
            f"| `{field.name}` | {_dtype(field)} | {'yes' if field.required else 'no'} | "
            f"{field.description} | {_checks(field)} |".replace("|  |", "| |").rstrip()
        )
    return "\n".join(lines)
