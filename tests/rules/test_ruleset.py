"""Evaluating rules over a scored batch: the vectorized hits equal a per-row reference."""

from __future__ import annotations

import operator
from unittest import mock

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_frames import AGE_BANDS, TRANSFER_SCHEMA, calls, rule_toml, transfers

from fraud_brain.rules import HIT_SCHEMA, RuleEvaluationError, RuleSet
from fraud_brain.rules import ruleset as ruleset_module

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq}
NUMERIC = {"score": [0.0, 0.3, 0.5, 0.8, 0.9, 1.0], "amount": [1.0, 100.0, 999.0, 1000.0, 5000.0],
           "payee_distinct_payers_24h": [0, 1, 5, 10]}


def clause_sql(clause) -> str:
    kind, column, op, value = clause
    if kind == "in":
        return f"{column} IN ({', '.join(repr(v) for v in value)})"
    if kind == "bool":
        return column if value else f"NOT {column}"
    return f"{column} {op} {value}"


def clause_value(clause, row) -> bool | None:
    """SQL three-valued logic, by hand: a null operand makes the clause unknown."""
    kind, column, op, value = clause
    cell = row[column]
    if cell is None:
        return None
    if kind == "in":
        return cell in value
    if kind == "bool":
        return cell if value else not cell
    return OPS[op](cell, value)


def reference_hit(rule, row) -> bool:
    joiner, clauses = rule
    values = [clause_value(c, row) for c in clauses]
    if joiner == "AND":
        result = False if False in values else (None if None in values else True)
    else:
        result = True if True in values else (None if None in values else False)
    return result is True


numeric_clause = st.sampled_from(sorted(NUMERIC)).flatmap(
    lambda c: st.tuples(st.just("cmp"), st.just(c), st.sampled_from(sorted(OPS)), st.sampled_from(NUMERIC[c])))
in_clause = st.tuples(st.just("in"), st.just("age_band"), st.just(None),
                      st.lists(st.sampled_from(AGE_BANDS), min_size=1, max_size=3, unique=True))
bool_clause = st.tuples(st.just("bool"), st.just("is_new_payee"), st.just(None), st.booleans())
rule_strategy = st.tuples(st.sampled_from(["AND", "OR"]),
                          st.lists(st.one_of(numeric_clause, in_clause, bool_clause), min_size=1, max_size=3))
row_strategy = st.fixed_dictionaries({
    "score": st.one_of(st.none(), st.sampled_from(NUMERIC["score"])),
    "amount": st.sampled_from(NUMERIC["amount"]),
    "payee_distinct_payers_24h": st.one_of(st.none(), st.sampled_from(NUMERIC["payee_distinct_payers_24h"])),
    "age_band": st.one_of(st.none(), st.sampled_from(AGE_BANDS)),
    "is_new_payee": st.one_of(st.none(), st.booleans()),
    "time": st.integers(0, 600),
    # A bank may send no payer phone (null), or an empty one; rules can fall back to the account.
    "payer_phone": st.one_of(st.none(), st.just(""), st.sampled_from(["13800000001", "13900000002"])),
    "payer_account": st.one_of(st.none(), st.sampled_from(["6222000011", "13800000001"])),
})
VICTIMS = [("payer_phone",), ("payer_phone", "payer_account"), ("payer_account", "payer_phone"), ("payee_account",)]
KINDS = {"payer_phone": "phone", "payer_account": "account", "payee_account": "account"}


def reference_victim(victims, row) -> tuple[str | None, str | None]:
    """The first victim column holding a key (an empty string holds none), and its kind."""
    for column in victims:
        if row.get(column):
            return row[column], KINDS[column]
    return None, None


@settings(max_examples=60, deadline=None)
@given(rules=st.lists(st.tuples(rule_strategy, st.integers(0, 100), st.sampled_from(["active", "shadow"]),
                                st.sampled_from(VICTIMS)),
                      min_size=1, max_size=5),
       rows=st.lists(row_strategy, min_size=0, max_size=25))
def test_hits_equal_a_per_row_reference(rules, rows):
    text = "".join(
        rule_toml(f"r{i}", "transfer", f" {joiner} ".join(clause_sql(c) for c in clauses), priority=priority, mode=mode,
                  victim=list(victims) if len(victims) > 1 else victims[0])
        for i, ((joiner, clauses), priority, mode, victims) in enumerate(rules)
    )
    ruleset = RuleSet.from_text(text, TRANSFER_SCHEMA)
    batch = transfers(rows)
    order = sorted(range(len(rules)), key=lambda i: -rules[i][1])  # most urgent first, ties in file order
    records = batch.to_dicts()

    def victim_and_entity(i: int, r: int) -> tuple:
        victims = rules[i][3]
        key, kind = reference_victim(victims, records[r])
        # One victim column: the cooldown is kept per that column, even null; fallbacks: per the chosen key.
        entity = records[r][victims[0]] if len(victims) == 1 else key
        if len(victims) == 1 and entity == "":
            key, kind = None, None
        return key, kind, entity

    expected = [
        (f"t{r}", f"r{i}", rules[i][1], rules[i][2], *victim_and_entity(i, r))
        for r, row in enumerate(rows) for i in order if reference_hit(rules[i][0], row)
    ]
    # Both evaluation paths: eager for small batches (a single check), lazy with a filter otherwise.
    for small_batch in (0, 10_000):
        with mock.patch.object(ruleset_module, "SMALL_BATCH", small_batch):
            hits = ruleset.evaluate(batch)
        assert hits.schema == HIT_SCHEMA
        got = list(zip(hits["event_id"], hits["rule"], hits["priority"], hits["mode"], hits["victim_key"],
                       hits["victim_kind"], hits["entity_key"], strict=True))
        assert got == expected


def test_a_hit_carries_what_the_actions_layer_needs(schemas):
    text = rule_toml("mule", "transfer", "payee_distinct_payers_24h >= 5", actions=["stop_payment", "voice_bot"],
                     priority=100, tier="minute", cooldown="10m", cooldown_key="payee_account",
                     typology="fake_investment")
    batch = transfers([
        {"payee_distinct_payers_24h": 9, "amount": 5000.0, "score": 0.97, "reasons": ["payee fan-in 9"],
         "payer_phone": "13811112222", "payee_account": "MULE1", "time": 5},
        {"payee_distinct_payers_24h": 1},
    ])
    [hit] = RuleSet.from_text(text, schemas).evaluate(batch).to_dicts()
    assert hit["event_id"] == "t0" and hit["transfer_id"] == "t0" and hit["event"] == "transfer"
    assert hit["actions"] == ["stop_payment", "voice_bot"] and hit["tier"] == "minute" and hit["priority"] == 100
    assert hit["victim_key"] == "13811112222" and hit["entity_key"] == "MULE1"
    assert hit["cooldown_group"] == "mule" and hit["cooldown_ms"] == 600_000
    assert hit["typology"] == "fake_investment" and hit["mode"] == "active"
    assert hit["score"] == 0.97 and hit["reasons"] == ["payee fan-in 9"]
    assert hit["amount"] == 5000.0 and hit["payee_account"] == "MULE1" and hit["payee_bank"] == "ICBC"
    assert hit["time"] == batch["time"][0]


def test_typology_can_come_from_a_column():
    schema = pl.Schema({**TRANSFER_SCHEMA, "typology_guess": pl.String})
    text = rule_toml("guess", "transfer", "score > 0.5", typology_column="typology_guess")
    batch = transfers([{"score": 0.9}, {"score": 0.9}]).with_columns(
        pl.Series("typology_guess", ["fake_loan", None]))
    hits = RuleSet.from_text(text, schema).evaluate(batch)
    assert hits["typology"].to_list() == ["fake_loan", None]


def test_each_batch_runs_only_its_event_types_rules(schemas):
    text = rule_toml("big", "transfer", "score > 0.5") + rule_toml("long", "call", "duration_s >= 1200")
    ruleset = RuleSet.from_text(text, schemas)
    call_hits = ruleset.evaluate(calls([{"duration_s": 1500, "callee": "13900001111"}, {"duration_s": 10}]))
    assert call_hits.select("event_id", "event", "rule", "victim_key").rows() == [("c0", "call", "long", "13900001111")]
    assert ruleset.evaluate(transfers([{"score": 0.9}]))["rule"].to_list() == ["big"]
    assert ruleset.evaluate(transfers([])).height == 0
    transfers_only = RuleSet.from_text(rule_toml("big", "transfer", "score > 0.5"), schemas)
    assert transfers_only.evaluate(calls([{"score": 0.9}])).height == 0  # no call rules: no hits, no error


def test_a_batch_missing_a_rule_column_is_named(schemas):
    ruleset = RuleSet.from_text(rule_toml("big", "transfer", "payee_distinct_payers_24h > 5"), schemas)
    with pytest.raises(RuleEvaluationError, match=r"rule 'big' needs column.*payee_distinct_payers_24h"):
        ruleset.evaluate(transfers([{}]).drop("payee_distinct_payers_24h"))
    both = RuleSet.from_text(rule_toml("big", "transfer") + rule_toml("long", "call"), schemas)
    with pytest.raises(RuleEvaluationError, match="cannot tell whether the batch holds call or transfer events"):
        both.evaluate(pl.DataFrame({"x": [1]}))


def test_reasons_given_as_text_become_a_list():
    schema = pl.Schema({**{k: v for k, v in TRANSFER_SCHEMA.items() if k != "reasons"}, "reasons": pl.String})
    batch = transfers([{"score": 0.9}]).with_columns(pl.lit("new payee; high amount").alias("reasons"))
    hits = RuleSet.from_text(rule_toml(), schema).evaluate(batch)
    assert hits["reasons"].to_list() == [["new payee; high amount"]]


def test_a_batch_whose_types_drifted_names_the_rule_that_broke(schemas):
    text = rule_toml("fine", "transfer", "score >= 0.9") + rule_toml("drifted", "transfer", "amount > 10")
    ruleset = RuleSet.from_text(text, schemas)
    batch = transfers([{"score": 0.95}]).with_columns(pl.col("amount").cast(pl.String))
    expected = r"<rules>:8: rule 'drifted' failed on a transfer batch: cannot compare"
    with pytest.raises(RuleEvaluationError, match=expected):
        ruleset.evaluate(batch)


def test_the_scorers_reasons_en_column_is_passed_through_as_reasons():
    kept = {k: v for k, v in TRANSFER_SCHEMA.items() if k != "reasons"}
    schema = pl.Schema({**kept, "reasons_en": pl.List(pl.String)})
    batch = transfers([{"score": 0.9}]).rename({"reasons": "reasons_en"})
    hits = RuleSet.from_text(rule_toml(), schema).evaluate(batch)
    assert hits["reasons"].to_list() == [["r"]]
