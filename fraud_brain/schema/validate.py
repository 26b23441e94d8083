"""Validation at the edge: raw records in, typed good records and per-record errors out.

A batch is validated column by column with polars expressions (no per-record Python), so a
bad record never stops the batch: the good records come back typed to the schema, the bad ones
come back with one row per problem naming the record and the field.

>>> import polars as pl
>>> raw = pl.DataFrame({
...     "transfer_id": ["t1", "t2"], "time": ["2026-11-01T08:00:00Z", "yesterday"],
...     "payer_account": ["A1", "A2"], "payee_account": ["B1", "B2"], "payee_bank": ["ICBC", "ABC"],
...     "amount": ["120.5", "-5"], "channel": ["mobile_app", "mobile_app"],
... })
>>> result = validate(raw, "transfer")
>>> result.valid["transfer_id"].to_list()
['t1']
>>> for message in result.messages():
...     print(message)
transfer 1 (t2): time 'yesterday' is not a valid time (ISO 8601 expected)
transfer 1 (t2): amount -5 must be > 0
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import polars as pl

from fraud_brain.schema.records import Field, RecordSchema, schema_for

if TYPE_CHECKING:
    from polars._typing import PolarsDataType
    from polars.expr.whenthen import ChainedThen, Then

ROW = "_row"
"""The column carrying each record's position in its batch (0-based)."""
_TYPED = "__fb_typed_"
"""Prefix of each field's typed column while a batch is checked."""

ERROR_SCHEMA = pl.Schema(
    {"row": pl.UInt32, "record_id": pl.String, "field": pl.String, "reason": pl.String}
)

_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of validating one batch.

    ``valid`` holds the good records typed to the schema (in input order); ``errors`` holds one
    row per problem: the record's position in the batch, its id when readable, the field and a
    readable reason. ``rejected`` holds the raw bad records (as strings) for the dead-letter store.
    """

    kind: str
    valid: pl.DataFrame
    errors: pl.DataFrame
    rejected: pl.DataFrame

    @property
    def ok(self) -> bool:
        """True when every record was valid."""
        return self.errors.height == 0

    def messages(self) -> list[str]:
        """Errors as sentences: ``"transfer 17 (t-9): amount -5 must be > 0"``."""
        out = []
        for row, record_id, _field, reason in self.errors.iter_rows():
            who = f"{self.kind} {row}" + (f" ({record_id})" if record_id else "")
            out.append(f"{who}: {reason}")
        return out


def _as_text(column: pl.Expr) -> pl.Expr:
    """A column's values rendered for an error message."""
    return column.cast(pl.String)


def _parse_time(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """ISO 8601 strings (with an offset, ``Z`` or naive = UTC) or datetimes → UTC datetimes."""
    text = raw.cast(pl.String).str.strip_chars()
    # "Z" and "+08:00"-style offsets both go through %z; a naive time is taken as UTC.
    with_offset = text.str.replace(r"Z$", "+00:00").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="ms"
    )
    naive = text.str.replace(" ", "T").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="ms"
    )
    return pl.coalesce(
        with_offset.dt.convert_time_zone("UTC"), naive.dt.replace_time_zone("UTC")
    ).cast(dtype)


def _coerce(raw: pl.Expr, source: PolarsDataType, field: Field) -> pl.Expr:
    """The expression turning one raw column into the field's dtype (null where it cannot)."""
    target = field.dtype
    if source == target:
        return raw
    if isinstance(target, pl.Datetime):
        if isinstance(source, pl.Datetime):
            if source.time_zone is None:
                return raw.dt.replace_time_zone("UTC").cast(target)
            return raw.dt.convert_time_zone("UTC").cast(target)
        return _parse_time(raw, target)
    if target == pl.Date:
        if isinstance(source, pl.Datetime):
            return raw.dt.date()
        return raw.cast(pl.String).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    if target == pl.Boolean:
        text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
        return (
            pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False).otherwise(None)
        )
    if isinstance(target, pl.Enum):
        text = raw.cast(pl.String).str.strip_chars()
        allowed = target.categories.to_list()
        return pl.when(text.is_in(allowed)).then(text).otherwise(None).cast(target)
    if target.is_numeric():
        if source == pl.String:
            parsed = raw.str.strip_chars().cast(pl.Float64, strict=False)
        else:
            parsed = raw.cast(pl.Float64, strict=False)
        if target.is_integer():
            # 12.0 is an integer, 12.5 is not: refuse silently truncating it.
            parsed = pl.when(parsed == parsed.floor()).then(parsed).otherwise(None)
            lo, hi = _int_bounds(target)
            parsed = pl.when(parsed.is_between(lo, hi)).then(parsed).otherwise(None)
        return parsed.cast(target, strict=False)
    return raw.cast(pl.String)


def _as_number(raw: pl.Expr, source: PolarsDataType) -> pl.Expr:
    """A raw column read as Float64 for range checks (null where it is no number)."""
    if source == pl.String:
        return raw.str.strip_chars().cast(pl.Float64, strict=False)
    if source.is_numeric():
        return raw.cast(pl.Float64)
    return raw.cast(pl.String).cast(pl.Float64, strict=False)


def _int_bounds(dtype: PolarsDataType) -> tuple[float, float]:
    sizes: dict[Any, int] = {pl.Int8: 8, pl.Int16: 16, pl.Int32: 32, pl.Int64: 64}
    bits = sizes[dtype.base_type()]
    return -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1


def _type_message(field: Field) -> str:
    if isinstance(field.dtype, pl.Datetime):
        return "is not a valid time (ISO 8601 expected)"
    if field.dtype == pl.Date:
        return "is not a valid date (YYYY-MM-DD expected)"
    if isinstance(field.dtype, pl.Enum):
        return "is not one of " + "/".join(field.dtype.categories.to_list())
    if field.dtype == pl.Boolean:
        return "is not true or false"
    if field.dtype.is_integer():
        return "is not a whole number"
    if field.dtype.is_numeric():
        return "is not a number"
    return f"is not a valid {field.dtype}"


def _reason(field: Field, raw: pl.Expr, source: PolarsDataType, typed: pl.Expr) -> pl.Expr:
    """The first problem with this field in each record, or null when there is none."""
    name = field.name
    shown = _as_text(raw)
    missing = raw.is_null() | (raw.cast(pl.String).str.strip_chars() == "")
    checks: list[tuple[pl.Expr, pl.Expr]] = []
    if field.required:
        checks.append((missing, pl.lit(f"{name} is required")))
    # Range checks read the number itself, so 1e12 says "must be <= 86400", not "not a number".
    value = _as_number(raw, source) if field.dtype.is_numeric() else typed
    if field.gt is not None:
        checks.append((value <= field.gt, pl.format(f"{name} {{}} must be > {field.gt:g}", shown)))
    if field.ge is not None:
        checks.append((value < field.ge, pl.format(f"{name} {{}} must be >= {field.ge:g}", shown)))
    if field.le is not None:
        checks.append((value > field.le, pl.format(f"{name} {{}} must be <= {field.le:g}", shown)))
    checks.append(
        (~missing & typed.is_null(), pl.format(f"{name} '{{}}' {_type_message(field)}", shown))
    )
    if field.pattern is not None:
        checks.append(
            (
                ~typed.cast(pl.String).str.contains(field.pattern),
                pl.format(f"{name} '{{}}' is not a valid {_pattern_name(field)}", shown),
            )
        )
    expr: Then | ChainedThen = pl.when(checks[0][0]).then(checks[0][1])
    for condition, message in checks[1:]:
        expr = expr.when(condition).then(message)
    return expr.otherwise(pl.lit(None, dtype=pl.String))


def _pattern_name(field: Field) -> str:
    from fraud_brain.schema.records import PHONE_PATTERN

    return "phone number" if field.pattern == PHONE_PATTERN else "id (1-64 of A-Z a-z 0-9 _ . : -)"


@lru_cache(maxsize=256)
def _plan(schema: RecordSchema, columns: tuple[tuple[str, pl.DataType], ...]) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """The typing and reason expressions for a schema and a batch's column types.

    Feeds send the same column types batch after batch: building these expressions costs as
    much as running them on a thousand records, so they are built once per layout.
    """
    source_of = dict(columns)
    source: PolarsDataType
    typed_exprs: list[pl.Expr] = []
    reason_exprs: list[pl.Expr] = []
    for field in schema.fields:
        if field.name in source_of:
            raw_col, source = pl.col(field.name), source_of[field.name]
            typed = _coerce(raw_col, source, field)
        else:
            raw_col, source = pl.lit(None, dtype=pl.String), pl.String
            typed = pl.lit(None, dtype=field.dtype)
        # The checks read the typed value from its column: parsing (times above all) runs once.
        typed_exprs.append(typed.alias(_TYPED + field.name))
        checked = pl.col(_TYPED + field.name)
        reason_exprs.append(_reason(field, raw_col, source, checked).alias(field.name))
    return typed_exprs, reason_exprs


def _as_json_text(value: object) -> str | None:
    if value is None:
        return None
    import orjson

    return orjson.dumps(value, default=str).decode()


def plain_columns(raw: pl.DataFrame) -> pl.DataFrame:
    """Columns a record field can be read from: nested values (lists, structs) become their JSON
    text and bytes their UTF-8 text (invalid bytes shown as U+FFFD), so validation reports them as
    bad values instead of failing on the whole batch.

    >>> row = plain_columns(pl.DataFrame({"a": [[1, 2]], "b": [bytes([120, 255])], "c": ["ok"]})).row(0)
    >>> row[:2] == ("[1,2]", "x" + chr(0xFFFD))
    True
    """
    odd = [name for name, dtype in raw.schema.items()
           if dtype.is_nested() or dtype in (pl.Binary, pl.Object) or dtype == pl.Null]
    if not odd:
        return raw
    columns = []
    for name in odd:
        dtype = raw.schema[name]
        if dtype == pl.Null:
            columns.append(pl.Series(name, [None] * raw.height, dtype=pl.String))
        elif dtype == pl.Binary:
            columns.append(pl.Series(name, [None if v is None else v.decode("utf-8", "replace")
                                            for v in raw.get_column(name).to_list()], dtype=pl.String))
        else:
            columns.append(pl.Series(name, [_as_json_text(v) for v in raw.get_column(name).to_list()], dtype=pl.String))
    return raw.with_columns(columns)


def validate(raw: pl.DataFrame, kind: str | RecordSchema) -> ValidationResult:
    """Validate a batch of raw records of one kind.

    Columns may arrive as strings (CSV), JSON types or already typed; extra columns are ignored.
    A required column missing from the batch makes every record fail on that field.

    >>> import polars as pl
    >>> bad = pl.DataFrame({"phone": ["13800000001", "12ab"], "age_band": ["65-74", "old"]})
    >>> validate(bad, "subscriber").messages()
    ["subscriber 1 (12ab): phone '12ab' is not a valid phone number",
     "subscriber 1 (12ab): age_band 'old' is not one of <18/18-24/25-34/35-44/45-54/55-64/65-74/75+"]
    """
    schema = kind if isinstance(kind, RecordSchema) else schema_for(kind)
    raw = plain_columns(raw)
    frame = raw.with_row_index(ROW)
    typed_exprs, reason_exprs = _plan(schema, tuple(raw.schema.items()))
    names = [field.name for field in schema.fields]
    both = frame.with_columns(*typed_exprs)
    typed_frame = both.select(pl.col(ROW), *[pl.col(_TYPED + name).alias(name) for name in names])
    record_id = (pl.col(schema.id_field).cast(pl.String) if schema.id_field in raw.columns
                 else pl.lit(None, dtype=pl.String)).alias("record_id")
    reasons = both.select(pl.col(ROW), record_id, *reason_exprs)
    is_bad = reasons.select(pl.any_horizontal(pl.col(names).is_not_null())).to_series()
    # A well-behaved feed sends no bad record: skip the unpivot and sort of the messages.
    failing = reasons.filter(is_bad) if is_bad.any() else reasons.head(0)
    errors = (
        failing.unpivot(index=[ROW, "record_id"], variable_name="field", value_name="reason")
        .drop_nulls("reason")
        .select(pl.col(ROW).cast(pl.UInt32).alias("row"), "record_id", "field", "reason")
    )
    # unpivot lists field by field; a reader wants each record's problems together, in schema order.
    field_order = {f.name: i for i, f in enumerate(schema.fields)}
    errors = errors.with_columns(
        pl.col("field").replace_strict(field_order, return_dtype=pl.Int32).alias("_order")
    ).sort("row", "_order").drop("_order")
    if failing.height == 0:
        valid = typed_frame.drop(ROW)
        rejected = raw.head(0).with_row_index(ROW)
    else:
        valid = typed_frame.filter(~is_bad).drop(ROW)
        rejected = frame.filter(is_bad)
    return ValidationResult(
        kind=schema.kind,
        valid=valid,
        errors=errors.cast(ERROR_SCHEMA),
        rejected=rejected.select(pl.all().cast(pl.String)),
    )
