"""Rule conditions: SQL-like boolean expressions parsed by polars' SQL layer, never ``eval``.

A condition such as ``score >= 0.9 AND amount >= 5000`` is parsed with :func:`polars.sql_expr`
and then checked against the schema of the scored frame it will run on: every column must
exist, the expression must type-check and give one Boolean column, and it must be
*row-wise*: a rule decides about one event, so aggregates (``avg(score)``), window functions
(``lag``, ``rank() OVER``), sub-queries and anything whose answer for a row depends on the
other rows of the batch are rejected. Nulls count as "no hit" when evaluated.

>>> import polars as pl
>>> schema = pl.Schema({"score": pl.Float64, "amount": pl.Float64})
>>> expr = compile_condition("score >= 0.9 AND amount >= 5000", schema)
>>> pl.DataFrame({"score": [0.95, 0.95], "amount": [9000.0, 10.0]}).select(expr).to_series().to_list()
[True, False]
>>> compile_condition("score > avg(score)", schema)
Traceback (most recent call last):
...
fraud_brain.rules.condition.ConditionError: aggregate 'Mean' is not allowed: a condition decides ...
"""

from __future__ import annotations

import difflib
import io
import json
import re
from collections.abc import Iterator
from typing import Any, cast

import polars as pl

from fraud_brain.errors import ConfigError

MAX_CONDITION_CHARS = 4_000
"""Longer conditions are almost surely a mistake (or an attempt to smuggle something in)."""

# Nodes of polars' serialized expression tree that mix rows of the batch or reach outside it.
_FORBIDDEN_NODES = {
    "Agg": "aggregate",
    "SubPlan": "sub-query",
    "Over": "window function",
    "Rolling": "rolling window",
    "Window": "window function",
    "Len": "row count",
    "Explode": "unnest",
    "Slice": "slice",
    "Filter": "filter",
    "Gather": "gather",
    "Sort": "sort",
    "SortBy": "sort",
    "AnonymousFunction": "python function",
    "Selector": "column selector",
    "Wildcard": "column wildcard",
    "Nth": "column by position",
    "Exclude": "column selector",
    "Eval": "eval",
}
# Top-level function names whose value for a row depends on other rows (order, ranks, fills).
_FORBIDDEN_FUNCTIONS = re.compile(
    r"^(Rank|Shift.*|Diff|Cum.*|Reverse|Unique.*|ValueCounts|Rolling.*|Ewm.*|Interpolate.*|Random|Sample.*"
    r"|Shuffle|Repeat|.*Range.*|FillNullWithStrategy|ForwardFill|BackwardFill|Arg.*|Mode|Hist|PctChange"
    r"|RLE.*|Peak.*|Is(First|Last)Distinct|IsUnique|IsDuplicated|Any|All|SetSortedFlag|SearchSorted"
    r"|NUnique|ApproxNUnique|Quantile|Median|Std|Var|Sum|Mean|Min|Max|Count|First|Last|Product|Skew"
    r"|Kurtosis|Entropy|Corr|Cov|Top.*|Bottom.*|Extend.*|Implode|GatherEvery|Index.*)$"
)
# Namespaced functions (string, list, date ops) work inside one value and are row-wise.
_ROW_NAMESPACES = {"StringExpr", "ListExpr", "ArrayExpr", "TemporalExpr", "StructExpr", "BinaryExpr",
                   "Sql", "Pow", "Trigonometry", "Round", "Clip", "Abs", "Cast", "Categorical",
                   "Boolean_rowwise"}
_BOOLEAN_NAMESPACE = "Boolean"


class ConditionError(ConfigError):
    """A condition that does not parse, names unknown columns, or is not a row-wise boolean."""


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _function_names(function: Any) -> Iterator[str]:
    """The names in a serialized ``Function`` node that decide whether it is row-wise."""
    if isinstance(function, str):
        yield function
    elif isinstance(function, dict) and len(function) == 1:
        (name, inner), = function.items()
        if name == _BOOLEAN_NAMESPACE:
            # Boolean holds both row-wise tests (IsNull, IsIn) and batch ones (Any, IsUnique).
            yield from _function_names(inner)
        elif name not in _ROW_NAMESPACES:
            yield name


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def check_row_wise(expr: pl.Expr) -> None:
    """Raise :class:`ConditionError` if ``expr`` mixes rows of the batch (aggregates, windows...).

    >>> check_row_wise(pl.sql_expr("coalesce(score, 0) > 0.5"))
    >>> check_row_wise(pl.sql_expr("lag(score) OVER (ORDER BY score) > 1"))
    Traceback (most recent call last):
    ...
    fraud_brain.rules.condition.ConditionError: window function is not allowed: a condition ...
    """
    try:
        tree = json.loads(expr.meta.serialize(format="json"))
    except Exception as error:  # an expression polars cannot even serialize is not one we run
        raise ConditionError(f"cannot inspect the expression: {_first_line(error)}") from None
    for key, value in _walk(tree):
        if key in _FORBIDDEN_NODES:
            what = _FORBIDDEN_NODES[key]
            if key == "Agg" and isinstance(value, dict) and len(value) == 1:
                what = f"aggregate {next(iter(value))!r}"
            raise ConditionError(f"{what} is not allowed: a condition decides about one event, not the batch")
        if key == "Function" and isinstance(value, dict):
            for name in _function_names(value.get("function")):
                if _FORBIDDEN_FUNCTIONS.match(name):
                    raise ConditionError(
                        f"function {name!r} is not allowed: "
                        "a condition decides about one event, not the batch"
                    )
        if key == "Len" or value == "Len":
            raise ConditionError(
                "count(*) is not allowed: a condition decides about one event, not the batch")


def _string_literals(node: Any) -> list[str] | None:
    """The string values of a serialized literal (a scalar or an IN list), or None if it is not one."""
    if not isinstance(node, dict) or "Literal" not in node:
        return None
    literal = node["Literal"]
    scalar = literal.get("Scalar") if isinstance(literal, dict) else None
    if isinstance(scalar, dict) and isinstance(scalar.get("String"), str):
        return [scalar["String"]]
    series = literal.get("Series") if isinstance(literal, dict) else None
    if isinstance(series, list):
        try:  # the IN list travels as an Arrow IPC stream; an unreadable one is left to polars
            values = pl.read_ipc_stream(io.BytesIO(bytes(series))).to_series()
        except Exception:
            return None
        if values.dtype == pl.List(pl.String):
            values = values.explode()
        return [v for v in values.to_list() if isinstance(v, str)] if values.dtype == pl.String else None
    return None


def check_enum_values(expr: pl.Expr, schema: pl.Schema) -> None:
    """Raise :class:`ConditionError` when a category column is compared with a value it cannot hold.

    Polars compares an Enum with an unknown string quietly (never equal), so a typo such as
    ``age_band = '65-47'`` would make a rule that never fires.

    >>> schema = pl.Schema({"age_band": pl.Enum(["18-24", "65-74", "75+"])})
    >>> check_enum_values(pl.sql_expr("age_band IN ('65-74', '75+')"), schema)
    >>> check_enum_values(pl.sql_expr("age_band = '65-47'"), schema)
    Traceback (most recent call last):
    ...
    fraud_brain.rules.condition.ConditionError: '65-47' is not a value of age_band (values: 18-24, 65-74, 75+)
    """
    tree = json.loads(expr.meta.serialize(format="json"))
    for key, value in _walk(tree):
        if key == "BinaryExpr" and isinstance(value, dict):
            operands = [value.get("left"), value.get("right")]
        elif key == "Function" and isinstance(value, dict) and isinstance(value.get("input"), list):
            operands = value["input"]
        else:
            continue
        columns = [o["Column"] for o in operands if isinstance(o, dict) and isinstance(o.get("Column"), str)]
        enums = [c for c in columns if isinstance(schema.get(c), pl.Enum)]
        if not enums:
            continue
        for operand in operands:
            for literal in _string_literals(operand) or []:
                for column in enums:
                    categories = cast(pl.Enum, schema[column]).categories.to_list()
                    if literal not in categories:
                        raise ConditionError(
                            f"{literal!r} is not a value of {column} (values: {', '.join(categories)})"
                        )


def _probe_values(dtype: pl.DataType) -> list[Any]:
    """Two ordinary non-null values of a dtype (one of them awkward: a non-numeric string, a 0)."""
    if dtype.is_integer():
        return [0, 1]
    if dtype.is_float() or dtype.is_decimal():
        return [0.0, 1.5]
    if dtype == pl.Boolean:
        return [True, False]
    if dtype == pl.String or dtype == pl.Categorical:
        return ["0", "x"]
    if isinstance(dtype, pl.Enum):
        categories = dtype.categories.to_list()
        return [categories[0], categories[-1]] if categories else [None, None]
    if isinstance(dtype, pl.Datetime):
        return [0, 86_400_000_000]
    if dtype == pl.Date:
        return [0, 20_000]
    if isinstance(dtype, pl.List):
        return [[], [v for v in _probe_values(cast(pl.DataType, dtype.inner)) if v is not None][:1]]
    return [None, None]


def _probe_frame(schema: pl.Schema) -> pl.DataFrame:
    """Three rows of ``schema``: all null, then ordinary values, to catch type and value errors at load."""
    columns = []
    for name, dtype in schema.items():
        try:
            values = _probe_values(dtype)
            if isinstance(dtype, (pl.Datetime, pl.Date)):
                physical = pl.Int32 if dtype == pl.Date else pl.Int64
                series = pl.Series(name, [None, *values], dtype=pl.Int64).cast(physical)
                series = series.cast(dtype)
            else:
                series = pl.Series(name, [None, *values], dtype=dtype)
        except Exception:  # an exotic dtype: nulls still check names and types
            series = pl.Series(name, [None, None, None], dtype=dtype)
        columns.append(series)
    return pl.DataFrame(columns)


def compile_condition(text: str, schema: pl.Schema) -> pl.Expr:
    """Parse and check a condition against the scored frame's schema; return the polars expression.

    >>> schema = pl.Schema({"score": pl.Float64, "caller": pl.String})
    >>> compile_condition("score > 0.5 AND caller LIKE '+882%'", schema).meta.root_names()
    ['score', 'caller']
    >>> compile_condition("scroe > 0.5", schema)
    Traceback (most recent call last):
    ...
    fraud_brain.rules.condition.ConditionError: unknown column 'scroe' (did you mean 'score'?)
    >>> compile_condition("score * 2", schema)
    Traceback (most recent call last):
    ...
    fraud_brain.rules.condition.ConditionError: condition gives Float64, not Boolean (true/false)
    """
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("condition is empty")
    if len(text) > MAX_CONDITION_CHARS:
        raise ConditionError(f"condition is {len(text)} characters long; at most {MAX_CONDITION_CHARS}")
    try:
        expr = pl.sql_expr(text)
    except Exception as error:
        raise ConditionError(f"cannot parse: {_first_line(error)}") from None
    if isinstance(expr, list):
        raise ConditionError("condition must be one expression")
    try:
        roots = expr.meta.root_names()
    except Exception as error:
        raise ConditionError(f"cannot parse: {_first_line(error)}") from None
    check_row_wise(expr)
    unknown = [name for name in roots if name not in schema]
    if unknown:
        close = difflib.get_close_matches(unknown[0], schema.names(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "columns: " + ", ".join(sorted(schema.names()))
        raise ConditionError(f"unknown column {unknown[0]!r} ({hint})")
    if not roots:
        raise ConditionError("condition refers to no column, so it would be the same for every event")
    try:
        probe = _probe_frame(schema).select(expr)
    except Exception as error:
        raise ConditionError(f"does not type-check: {_first_line(error)}") from None
    if probe.width != 1:
        raise ConditionError(f"condition gives {probe.width} columns, not one")
    dtype = probe.schema.dtypes()[0]
    if dtype != pl.Boolean:
        raise ConditionError(f"condition gives {dtype}, not Boolean (true/false)")
    if probe.height != 3:
        raise ConditionError("condition does not give one answer per event")
    check_enum_values(expr, schema)
    return expr
