"""A fast, conservative validity test for one record, so single-record endpoints skip the batch validator.

:func:`fraud_brain.schema.validate.validate` costs a couple of milliseconds of fixed overhead
per call (it plans polars expressions), which is most of a pre-transfer check's budget. Most
records a bank sends are plainly well formed; :func:`obviously_valid` recognizes those in
microseconds. It only ever says "valid" for records the full validator also accepts (a property
test holds it to that); anything unusual returns False and goes through the full validator,
which also writes the error messages.

>>> from fraud_brain.schema.records import TRANSFERS
>>> record = {"transfer_id": "t1", "time": "2026-11-01T08:00:00Z", "payer_account": "A1", "payee_account": "B1",
...           "payee_bank": "ICBC", "amount": 120.5, "channel": "mobile_app"}
>>> obviously_valid(record, TRANSFERS)
True
>>> obviously_valid({**record, "amount": -5}, TRANSFERS)
False
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import polars as pl

from fraud_brain.schema.records import Field, RecordSchema

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT_BITS: dict[Any, int] = {pl.Int8: 8, pl.Int16: 16, pl.Int32: 32, pl.Int64: 64}


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _in_range(field: Field, number: float) -> bool:
    if field.gt is not None and not number > field.gt:
        return False
    if field.ge is not None and not number >= field.ge:
        return False
    return field.le is None or number <= field.le


def _field_ok(field: Field, value: Any) -> bool:
    dtype = field.dtype
    if value is None:
        return not field.required
    if isinstance(dtype, pl.Datetime):
        if not isinstance(value, str) or _TIME.fullmatch(value) is None:
            return False
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
        return True
    if dtype == pl.Date:
        if not isinstance(value, str) or _DATE.fullmatch(value) is None:
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if isinstance(dtype, pl.Enum):
        return isinstance(value, str) and value in dtype.categories.to_list()
    if dtype == pl.Boolean:
        return isinstance(value, bool)
    if dtype.is_integer():
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        bits = _INT_BITS.get(dtype.base_type())
        if bits is None or not -(2 ** (bits - 1)) <= value <= 2 ** (bits - 1) - 1:
            return False
        return _in_range(field, float(value))
    if dtype.is_float():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return False
        return _in_range(field, float(value))
    if dtype == pl.String:
        # Surrounding whitespace or newlines would make regex anchors and "blank" checks subtle:
        # leave those to the validator.
        if not isinstance(value, str) or not value or value != value.strip() or "\n" in value or "\r" in value:
            return False
        return field.pattern is None or _compiled(field.pattern).fullmatch(value) is not None
    return False


def obviously_valid(record: dict[str, Any], schema: RecordSchema) -> bool:
    """True only for a record the full validator certainly accepts (exact types, plain values)."""
    return all(_field_ok(field, record.get(field.name)) for field in schema.fields)
