"""Fast JSON responses (orjson) and the shape of record-level error replies.

>>> OrjsonResponse({"a": 1}).body
b'{"a":1}'
>>> import polars as pl
>>> errors = pl.DataFrame({"row": [3], "record_id": ["t9"], "field": ["amount"], "reason": ["amount -5 must be > 0"]})
>>> record_errors("transfer", errors)[0]
{'index': 3, 'record_id': 't9', 'field': 'amount', 'reason': 'amount -5 must be > 0'}
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson
import polars as pl
from fastapi.responses import JSONResponse


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, pl.DataFrame):
        return value.to_dicts()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


class OrjsonResponse(JSONResponse):
    """A JSON response rendered by orjson (datetimes as ISO 8601, NaN as null)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def record_errors(kind: str, errors: pl.DataFrame, limit: int = 1000) -> list[dict[str, Any]]:
    """Validation errors as JSON objects: record index in the batch, its id, the field and the reason."""
    return [
        {"index": int(row), "record_id": record_id, "field": field, "reason": reason}
        for row, record_id, field, reason in errors.head(limit).iter_rows()
    ]
