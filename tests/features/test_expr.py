"""The expression language: parsing, safety, and evaluation through the kernel."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.features import FeatureEngine, load_spec_text
from fraud_brain.features.expr import ExprError, names, parse


def test_precedence_and_literals() -> None:
    assert parse("a or b and not c") == ("or", ("name", "a"), ("and", ("name", "b"), ("not", ("name", "c"))))
    assert parse("-x * 2 - 3") == ("bin", "-", ("bin", "*", ("neg", ("name", "x")), ("num", 2.0)), ("num", 3.0))
    assert parse("x in (1, 2.5)") == ("in", ("name", "x"), (1.0, 2.5))
    assert parse('t == "a b"') == ("cmp", "==", ("name", "t"), ("str", "a b"))
    assert names(parse("if(a > 1, b, coalesce(c, 0))")) == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("a.b", "unexpected character '.'"),
        ("x[0]", "unexpected character"),
        ("(a + 1", "expected '\\)'"),
        ("a + ", "expected a number"),
        ("min(a)", "min\\(\\) takes 2"),
        ("a b", "expected an operator"),
        ("lambda: 1", "unexpected character ':'"),
    ],
)
def test_rejects_anything_but_the_grammar(text: str, message: str) -> None:
    with pytest.raises(ExprError, match=message):
        parse(text)


def _engine_value(expr: str, row: dict) -> float:
    spec = load_spec_text(f'''
[streams.s]
id = "id"
time = "time"
[[feature]]
stream = "s"
name = "out"
expr = "{expr}"
''')
    frame = pl.DataFrame([{"id": "1", "time": datetime(2026, 11, 1, 23, 30, tzinfo=UTC), **row}])
    return FeatureEngine(spec).peek("s", frame)["out"][0]


def test_string_comparisons_nulls_and_builtins() -> None:
    row = {"kind": "voip", "n": 3, "gone": None}
    assert _engine_value("kind == 'voip'", row) == 1.0
    assert _engine_value("kind in ('fixed', 'mobile')", row) == 0.0
    assert _engine_value("is_null(gone) and not is_null(n)", {**row, "gone": 1.5}) == 0.0
    assert _engine_value("n / 0", row) != _engine_value("n / 0", row)  # NaN, not inf
    assert _engine_value("hour", row) == 23.0  # UTC spec: the time's own hour
    assert _engine_value("weekday", row) == 7.0  # 2026-11-01 is a Sunday


@settings(max_examples=60, deadline=None)
@given(a=st.one_of(st.none(), st.floats(-1e6, 1e6)), b=st.one_of(st.none(), st.floats(-1e6, 1e6)))
def test_arithmetic_matches_python(a: float | None, b: float | None) -> None:
    row = {"a": a, "b": b}
    fa = math.nan if a is None else a
    fb = math.nan if b is None else b
    got = _engine_value("coalesce(a, 1) * 2 + max(a, b) - abs(min(b, 0))", row)
    mx = fb if math.isnan(fa) else fa if math.isnan(fb) else max(fa, fb)
    mn = 0.0 if math.isnan(fb) else min(fb, 0.0)
    want = (1.0 if math.isnan(fa) else fa) * 2 + mx - abs(mn)
    assert (math.isnan(got) and math.isnan(want)) or math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-9)
    cmp = _engine_value("a > b or a != b", row)
    assert cmp == (1.0 if not (math.isnan(fa) or math.isnan(fb)) and fa != fb else 0.0)
