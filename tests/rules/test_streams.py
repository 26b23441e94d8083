"""Rules checked against a feature spec's scored streams: events, victims, payments, bundled files."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from fraud_brain.errors import ConfigError
from fraud_brain.features import resolve_spec
from fraud_brain.rules import (
    DEFAULT_RULES_PATH,
    RuleFileError,
    RuleSet,
    bundled_rules_path,
    event_facts,
    spec_scored_schemas,
)
from fraud_brain.rules.defaults import CARD_RULES_PATH

CARD = event_facts(resolve_spec("card"))
CARD_SCHEMAS = spec_scored_schemas("card")


def rule(event: str, when: str, victim: str = "customer_id", actions: str = '["agent_followup"]',
         extra: str = "") -> str:
    return (f'{extra}[[rule]]\nname = "r"\nevent = "{event}"\nwhen = "{when}"\nactions = {actions}\n'
            f'victim = "{victim}"\n')


def problems(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        RuleSet.from_text(text, CARD_SCHEMAS, events=CARD)
    return [str(p) for p in caught.value.problems]


def test_the_bundled_rule_files_load_against_their_specs() -> None:
    card = RuleSet.load(CARD_RULES_PATH, CARD_SCHEMAS, CARD)
    assert {r.event for r in card.rules} == {"tx"} and all(r.victim_kinds == ("account",) for r in card.rules)
    assert any("terminal_fraud_reports_delayed_7d" in r.condition for r in card.rules)
    telecom = RuleSet.load(DEFAULT_RULES_PATH, spec_scored_schemas("telecom"), event_facts(resolve_spec("telecom")))
    legacy = RuleSet.load(DEFAULT_RULES_PATH, spec_scored_schemas("telecom"))
    assert [(r.name, r.victim_kinds) for r in telecom.rules] == [(r.name, r.victim_kinds) for r in legacy.rules]


def test_an_event_must_be_a_scored_stream_of_the_spec() -> None:
    (message,) = problems(rule("transfer", "score > 0.5"))
    assert "'transfer' unknown; expected one of ['tx']" in message


def test_a_victim_must_be_a_victim_column_of_the_stream_or_say_what_it_holds() -> None:
    (message,) = problems(rule("tx", "score > 0.5", victim="terminal_id"))
    assert "column 'terminal_id' holds neither a phone number" in message and "['customer_id']" in message


def test_a_stop_payment_needs_a_stream_that_moves_money() -> None:
    schemas = {"call": spec_scored_schemas("telecom")["call"]}
    with pytest.raises(RuleFileError) as caught:
        RuleSet.from_text(rule("call", "score > 0.5", victim="callee", actions='["stop_payment"]'), schemas,
                          events=event_facts(resolve_spec("telecom")))
    assert "'stop_payment' needs a transfer" in str(caught.value)
    ok = RuleSet.from_text(rule("tx", "score > 0.5", actions='["stop_payment"]'), CARD_SCHEMAS, events=CARD)
    assert ok.rules[0].actions == ("stop_payment",)


def test_a_payee_must_be_a_column_of_a_payment_stream() -> None:
    (message,) = problems(rule("tx", "score > 0.5", extra='[events.tx]\npayee = "merchant"\n'))
    assert "events.tx.payee" in message and "'merchant'" in message


def test_card_hits_carry_the_payment_its_payee_and_an_account_victim() -> None:
    rules = RuleSet.load(CARD_RULES_PATH, CARD_SCHEMAS, CARD)
    t = datetime(2026, 4, 2, 9, tzinfo=UTC)
    row = {name: None for name in CARD_SCHEMAS["tx"].names()}
    row.update(tx_id="tx1", time=t, customer_id="C1", terminal_id="T1", amount=250.0, score=0.95,
               reasons_en=["big"], reasons_zh=["大"])
    batch = pl.DataFrame([row], schema=CARD_SCHEMAS["tx"])
    hits = rules.evaluate(batch, event="tx")
    assert hits["rule"].to_list() == ["card_very_high_score_stop"]
    hit = hits.row(0, named=True)
    assert (hit["event_id"], hit["victim_key"], hit["victim_kind"]) == ("tx1", "C1", "account")
    assert (hit["transfer_id"], hit["payee_account"], hit["amount"]) == ("tx1", "T1", 250.0)
    assert hit["actions"] == ["stop_payment", "agent_followup"]


def test_the_assembly_picks_the_rules_bundled_for_its_spec(tmp_path) -> None:
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    assert Assembly(AppConfig(spec="card")).rules_path == CARD_RULES_PATH
    assert Assembly(AppConfig()).rules_path == DEFAULT_RULES_PATH
    given = tmp_path / "mine.toml"
    assert Assembly(AppConfig(spec="card", rules_path=given)).rules_path == given
    with pytest.raises(ConfigError, match="--rules"):
        bundled_rules_path("mine")


def test_a_spec_with_no_bundled_rules_is_refused_naming_rules(tmp_path) -> None:
    from fraud_brain.features.spec import bundled_spec_path
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    spec = tmp_path / "mine.toml"
    spec.write_text(bundled_spec_path("card").read_text().replace('name = "card"', 'name = "mine"'))
    with pytest.raises(ConfigError, match=r"no rules are bundled for feature spec 'mine'.*--rules"):
        _ = Assembly(AppConfig(spec=str(spec))).rules_path
