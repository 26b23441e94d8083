"""The record schemas as Markdown tables (the README's schema section is made from this).

>>> print(schema_markdown("label").splitlines()[2])
| `label_id` | String | yes | unique id of the label | matches `^[A-Za-z0-9_.:\\-]{1,64}$` |
"""

from __future__ import annotations

import polars as pl

from fraud_brain.schema.records import SCHEMAS, RecordSchema


def _dtype(field) -> str:
    if isinstance(field.dtype, pl.Enum):
        return "Enum"
    if isinstance(field.dtype, pl.Datetime):
        return "Datetime (ms, UTC)"
    return str(field.dtype)


def schema_markdown(kind: str | RecordSchema) -> str:
    """One kind's schema (a built-in kind's name, or any schema) as a Markdown table: field,
    type, required, meaning, checks."""
    schema = SCHEMAS[kind] if isinstance(kind, str) else kind
    lines = ["| field | type | required | meaning | checks |", "| --- | --- | --- | --- | --- |"]
    for field in schema.fields:
        lines.append(
            f"| `{field.name}` | {_dtype(field)} | {'yes' if field.required else 'no'} | "
            f"{field.description} | {'; '.join(field.checks(code='`'))} |".replace("|  |", "| |").rstrip()
        )
    return "\n".join(lines)
