"""Conditions: what parses, what is refused, and that accepted ones mean what they say."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_frames import TRANSFER_SCHEMA, transfers

from fraud_brain.rules.condition import ConditionError, compile_condition

ACCEPTED = [
    "score >= 0.9 AND amount >= 1000",
    "age_band IN ('65-74', '75+')",
    "age_band >= '65-74' AND district = 'D1'",
    "is_new_payee AND NOT (payee_distinct_payers_24h < 5)",
    "coalesce(score, 0) > 0.5",
    "amount BETWEEN 1000 AND 5000",
    "payee_bank LIKE 'IC%'",
    "greatest(score, 0.1) > 0.5",
    "extract(hour FROM time) >= 22",
    "array_length(reasons) >= 2",
    "CASE WHEN amount > 1000 THEN score > 0.5 ELSE score > 0.9 END",
]

REFUSED = {
    "scroe > 0.9": "unknown column 'scroe' (did you mean 'score'?)",
    "score > 'high'": "does not type-check",
    "score +": "cannot parse",
    "score": "gives Float64, not Boolean",
    "amount * 2": "gives Float64, not Boolean",
    "score > avg(score)": "aggregate",
    "sum(amount) > 10000": "aggregate",
    "count(*) > 3": "not allowed",
    "rank() OVER (ORDER BY score) <= 3": "window function 'rank' is not allowed",
    "lag(amount) OVER (ORDER BY time) < amount": "window function",
    "row_number() OVER (ORDER BY score) = 1": "window function",
    "(SELECT 1) > 0": "sub-query",
    "EXISTS (SELECT 1)": "sub-query",
    "read_parquet('/etc/passwd') IS NULL": "function 'read_parquet' is not allowed",
    "score > 0.9; DROP TABLE rules": "cannot parse",
    "COLUMNS(*) > 1": "function 'columns' is not allowed",
    "TRUE": "refers to no column",
    "1 = 1": "refers to no column",
    "": "empty",
    "age_band IN ('65-74', '75 +')": "'75 +' is not a value of age_band",
    "age_band = 'elderly'": "'elderly' is not a value of age_band",
    "score > 0.5 AND age_band <> 'old'": "'old' is not a value of age_band",
}


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_conditions_compile(text):
    assert compile_condition(text, TRANSFER_SCHEMA).meta.root_names()


@pytest.mark.parametrize("text, message", REFUSED.items())
def test_refused_conditions_say_why(text, message):
    with pytest.raises(ConditionError, match=None) as caught:
        compile_condition(text, TRANSFER_SCHEMA)
    assert message in str(caught.value)


def test_a_too_long_condition_is_refused():
    with pytest.raises(ConditionError, match="characters long"):
        compile_condition(" OR ".join(["score > 0.5"] * 1000), TRANSFER_SCHEMA)


def test_conditions_mean_what_they_say_and_nulls_do_not_hit():
    frame = transfers([
        {"amount": 5000.0, "age_band": "75+", "score": 0.95},
        {"amount": 5000.0, "age_band": "35-44", "score": 0.95},
        {"amount": 10.0, "age_band": "75+", "score": 0.95},
        {"amount": 5000.0, "age_band": "65-74", "score": None},
    ])
    expr = compile_condition("age_band IN ('65-74', '75+') AND amount >= 1000 AND score > 0.9", TRANSFER_SCHEMA)
    assert frame.select(expr.fill_null(False)).to_series().to_list() == [True, False, False, False]


def test_a_row_answer_does_not_depend_on_the_rest_of_the_batch():
    # Accepted conditions are row-wise: evaluated alone or in a batch, a row gets the same answer.
    frame = transfers([{"amount": float(a), "score": s} for a, s in [(10, 0.1), (5000, 0.99), (700, 0.5)]])
    for text in ACCEPTED:
        expr = compile_condition(text, TRANSFER_SCHEMA)
        together = frame.select(expr).to_series().to_list()
        alone = [frame.slice(i, 1).select(expr).to_series()[0] for i in range(frame.height)]
        assert together == alone, text


def test_columns_are_checked_against_the_schema_given():
    schema = pl.Schema({"score": pl.Float64})
    with pytest.raises(ConditionError, match="unknown column 'amount'"):
        compile_condition("amount > 1", schema)


TOKENS = ["score", "amount", "age_band", "is_new_payee", "reasons", "time", "payee_bank", "nope", "0.5", "1000",
          "'75+'", "'x'", "NULL", "TRUE", ">", ">=", "=", "<>", "+", "*", "/", "AND", "OR", "NOT", "IN", "(", ")",
          ",", "IS", "BETWEEN", "LIKE", "CASE", "WHEN", "THEN", "ELSE", "END", "avg(", "sum(", "count(*)",
          "coalesce(", "upper(", "OVER", "(ORDER BY score)", "SELECT", "FROM", "self", ";", "--", "'"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=9))
def test_any_text_either_compiles_to_a_row_wise_boolean_or_raises_a_condition_error(tokens):
    text = " ".join(tokens)
    try:
        expr = compile_condition(text, TRANSFER_SCHEMA)
    except ConditionError:
        return
    frame = transfers([{"score": 0.9, "amount": 5000.0}, {"score": None, "age_band": None}, {}])
    result = frame.select(expr)
    assert result.dtypes == [pl.Boolean] and result.height == 3


SECRET = "s3cr3t-" + "f00d" * 4

ESCAPES = [
    "amount IN (SELECT column_1 FROM read_csv('{path}'))",
    "amount > (SELECT max(column_1) FROM read_csv('{path}'))",
    "EXISTS (SELECT * FROM read_csv('{path}'))",
    "read_csv('{path}') IS NULL",
    "payee_bank = read_text('{path}')",
    "payee_bank IN (SELECT * FROM '{path}')",
    "amount > 1 UNION SELECT * FROM read_csv('{path}')",
    "payee_bank LIKE (SELECT column_1 FROM read_csv('{path}'))",
    "amount > 1 AND payee_bank = '{path}' OR score > (SELECT 1)",
    "amount > 1 -- {path}",
    "amount > 1 /* {path} */",
    "amount > 1; COPY (SELECT 1) TO '{path}'",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_known_escapes_are_refused_without_reading_anything(template, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text(f"column_1\n{SECRET}\n")
    before = secret.read_text()
    with pytest.raises(ConditionError) as caught:
        compile_condition(template.format(path=secret), TRANSFER_SCHEMA)
    assert SECRET not in str(caught.value)
    assert secret.read_text() == before


@pytest.mark.parametrize("text", [
    "(" * 200 + "score > 0.5" + ")" * 200,
    "NOT " * 200 + "score > 0.5",
    "- " * 200 + "amount > 1",
    "score > 0.5 AND " * 400 + "score > 0.5",
    "amount IN (" + ", ".join(["1"] * 2000) + ")",
])
def test_very_long_or_deeply_nested_conditions_are_refused(text):
    with pytest.raises(ConditionError, match=r"nested deeper|characters long|at most"):
        compile_condition(text, TRANSFER_SCHEMA)


def test_the_language_never_reaches_a_sql_engine(monkeypatch):
    # the parser is our own: polars' SQL layer is not even called
    def refuse(*args, **kwargs):
        raise AssertionError("polars SQL was called")

    monkeypatch.setattr(pl, "sql_expr", refuse)
    monkeypatch.setattr(pl, "sql", refuse)
    for text in ACCEPTED:
        compile_condition(text, TRANSFER_SCHEMA)
