"""Loading rule files: every problem is found and named with its file, rule and line."""

from __future__ import annotations

import polars as pl
import pytest
from rules_frames import AGE_BANDS, TIME, TRANSFER_SCHEMA, rule_toml

from fraud_brain.rules import DEFAULT_RULES_PATH, RuleFileError, RuleSet, expected_scored_schemas


def load_text(tmp_path, text: str, schemas) -> RuleSet:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return RuleSet.load(path, schemas)


def problems_of(tmp_path, text: str, schemas) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_text(tmp_path, text, schemas)
    return [str(p) for p in caught.value.problems]


def test_a_good_file_loads_with_its_settings(tmp_path, schemas):
    text = rule_toml("police", "call", "duration_s >= 1200 AND sim_age_days <= 7",
                     actions=["voice_bot", "agent_followup"],
                     priority=80, tier="minute", cooldown="2h", typology="impersonating_police", group="episode")
    text += rule_toml("mule", "transfer", "payee_distinct_payers_24h >= 5", actions=["stop_payment"], cooldown=600,
                      cooldown_key="payee_account", mode="shadow", tier="same-day")
    rules = load_text(tmp_path, text, schemas)
    police, mule = rules.rule("police"), rules.rule("mule")
    assert (police.event, police.actions, police.priority, police.tier) == (
        "call", ("voice_bot", "agent_followup"), 80, "minute")
    assert (police.cooldown_ms, police.cooldown_key, police.group, police.typology) == (
        7_200_000, "callee", "episode", "impersonating_police")
    assert (mule.cooldown_ms, mule.cooldown_key, mule.mode, mule.tier, mule.group) == (
        600_000, "payee_account", "shadow", "same_day", "mule")
    assert rules.specs["call"].id_column == "call_id" and rules.specs["transfer"].time_column == "time"
    assert police.line == 1 and mule.line == 13


def test_every_problem_names_file_rule_and_line(tmp_path, schemas):
    text = (
        rule_toml("ok", "transfer", "score > 0.5")                                    # lines 1-6
        + rule_toml("typo", "transfer", "scroe > 0.5")                                # lines 8-13
        + rule_toml("bad_action", "transfer", "score > 0.5", actions=["sms_blast"])  # lines 15-20, actions on 19
        + rule_toml("bad_cooldown", "transfer", "score > 0.5", cooldown="soon")      # lines 22-28
        + rule_toml("typo", "call", "score > 0.5")                                    # lines 30-35
        + rule_toml("not_bool", "transfer", "amount + 1")                            # lines 37-42
        + rule_toml("stop_call", "call", "score > 0.5", actions=["stop_payment"])    # lines 44-49, actions on 48
    )
    path = str(tmp_path / "rules.toml")
    problems = problems_of(tmp_path, text, schemas)
    expected = [
        f"{path}:11: rule 'typo': when: unknown column 'scroe' (did you mean 'score'?)",
        f"{path}:19: rule 'bad_action': actions: unknown action 'sms_blast'",
        f"{path}:28: rule 'bad_cooldown': cooldown: duration 'soon' must be",
        f"{path}:31: rule 'typo': name: duplicate rule name (first at line 9)",
        f"{path}:40: rule 'not_bool': when: condition gives Float64, not Boolean",
        f"{path}:48: rule 'stop_call': actions: 'stop_payment' needs a transfer",
    ]
    assert len(problems) == len(expected), problems
    for message, start in zip(problems, expected, strict=True):
        assert message.startswith(start), (message, start)


@pytest.mark.parametrize("extra, field, message", [
    ({"tier": "asap"}, "tier", "'asap' unknown"),
    ({"mode": "dry_run"}, "mode", "'dry_run' unknown"),
    ({"priority": -3}, "priority", "must be a whole number"),
    ({"cooldown": "-5m"}, "cooldown", "must be a number with a unit"),
    ({"cooldown": "90d"}, "cooldown", "longer than 30 days"),
    ({"cooldown_key": "nope"}, "cooldown_key", "unknown column 'nope'"),
    ({"cooldown_key": "amount"}, "cooldown_key", "must be a String column"),
    ({"victim": "payee_phone"}, "victim", "unknown column 'payee_phone'"),
    ({"typology": "romance_scam"}, "typology", "'romance_scam' unknown"),
    ({"typology": "fake_loan", "typology_column": "district"}, "typology_column", "either typology or typology_column"),
    ({"colour": "red"}, "colour", "unknown key"),
    ({"actions": []}, "actions", "non-empty list"),
    ({"actions": ["voice_bot", "voice_bot"]}, "actions", "twice"),
    ({"event": "sms"}, "event", "'sms' unknown"),
    ({"name": "9lives"}, "name", "must be a letter"),
])
def test_bad_settings_are_refused(tmp_path, schemas, extra, field, message):
    text = rule_toml(**{"name": "r", "event": "transfer", "when": "score > 0.5", **extra})
    [problem] = problems_of(tmp_path, text, schemas)
    assert f"rule '{extra.get('name', 'r')}': {field}: " in problem and message in problem


def test_missing_keys_not_toml_and_empty_files(tmp_path, schemas):
    missing = problems_of(tmp_path, '[[rule]]\nname = "r"\nevent = "call"\n', schemas)
    assert [m.split("rules.toml:")[1] for m in missing] == [
        f"1: rule 'r': missing required key {key!r}" for key in ("when", "actions", "victim")]
    [broken] = problems_of(tmp_path, rule_toml() + 'name = "oops\n', schemas)
    assert "rules.toml:8: not valid TOML" in broken
    [empty] = problems_of(tmp_path, "version = 1\n", schemas)
    assert "holds no [[rule]] tables" in empty


def test_a_rule_for_an_event_without_a_schema_is_refused(tmp_path):
    [problem] = problems_of(tmp_path, rule_toml("r", "call", "score > 0.5"), TRANSFER_SCHEMA)
    assert "no scored-frame schema was given for call events" in problem


def test_event_columns_can_be_named_in_the_file(tmp_path):
    schema = pl.Schema({"event_id": pl.String, "ts": TIME, "payer_phone": pl.String, "score": pl.Float64})
    text = '[events.transfer]\ntime = "ts"\n\n' + rule_toml()
    rules = load_text(tmp_path, text, {"transfer": schema})
    assert (rules.specs["transfer"].id_column, rules.specs["transfer"].time_column) == ("event_id", "ts")
    [problem] = problems_of(tmp_path, '[events.transfer]\ntime = "when"\n\n' + rule_toml(), {"transfer": schema})
    assert "events.transfer.time" in problem


def test_the_default_rules_load_against_the_expected_scored_schema():
    f64 = pl.Float64
    profile = {"age_band": pl.Enum(AGE_BANDS), "district": pl.String}
    scores = {"score": f64, "offline_score": f64, "online_score": f64, "anomaly_score": f64,
              "reasons_en": pl.List(pl.String)}
    transfer_features = ["payee_confirmed_mule", "payee_payers_24h", "payee_age_days", "payer_risky_call_last_hour",
                         "new_payee", "payer_elderly", "payer_young", "night_transfer", "payer_transfers_hl24h",
                         "amount_vs_prev"]
    call_features = ["caller_confirmed_fraud", "call_minutes", "caller_new", "first_contact", "caller_callees_24h",
                     "device_numbers", "caller_voip_or_international", "caller_short_share_hl24h"]
    transfer = pl.Schema({
        "transfer_id": pl.String, "time": TIME, "payer_account": pl.String, "payer_phone": pl.String,
        "payee_account": pl.String, "payee_bank": pl.String, "amount": f64, **profile,
        **{name: f64 for name in transfer_features}, **scores,
    })
    call = pl.Schema({
        "call_id": pl.String, "start_time": TIME, "caller": pl.String, "callee": pl.String, "device_id": pl.String,
        **profile, **{name: f64 for name in call_features}, **scores,
    })
    rules = RuleSet.load(DEFAULT_RULES_PATH, {"transfer": transfer, "call": call})
    assert len(rules) >= 10
    assert {r.event for r in rules.rules} == {"call", "transfer"}
    assert any(r.mode == "shadow" for r in rules.rules)
    assert all(r.victim in ("payer_phone", "callee") for r in rules.rules)
    wanted = {"voice_bot", "agent_followup", "stop_payment", "officer_alert"}
    assert {a for r in rules.rules for a in r.actions} >= wanted
    # Without a feature the rules need, loading fails and names it.
    without = pl.Schema({k: v for k, v in transfer.items() if k != "payee_payers_24h"})
    with pytest.raises(RuleFileError, match="unknown column 'payee_payers_24h'"):
        RuleSet.load(DEFAULT_RULES_PATH, {"transfer": without, "call": call})


def test_the_default_rules_use_only_features_the_bundled_feature_spec_emits():
    # expected_scored_schemas reads the feature names from fraud_brain/features/specs/telecom.toml,
    # so a renamed feature breaks this test rather than the rules at run time.
    assert len(RuleSet.load(DEFAULT_RULES_PATH, expected_scored_schemas())) >= 10


def test_a_victim_can_name_fallback_columns(tmp_path, schemas):
    text = rule_toml("stop", "transfer", "score >= 0.9", victim=["payer_phone", "payer_account"])
    text += rule_toml("single", "transfer", "score >= 0.9")
    text += rule_toml("listed_once", "call", "score >= 0.9", victim=["callee"])
    rules = load_text(tmp_path, text, schemas)
    stop, single, once = rules.rule("stop"), rules.rule("single"), rules.rule("listed_once")
    assert (stop.victim, stop.victims, stop.victim_kinds) == ("payer_phone", ("payer_phone", "payer_account"),
                                                              ("phone", "account"))
    assert stop.cooldown_key == ""  # the cooldown follows whichever victim key a hit has
    assert (single.victims, single.cooldown_key) == (("payer_phone",), "payer_phone")
    assert (once.victims, once.victim_kinds, once.cooldown_key) == (("callee",), ("phone",), "callee")


@pytest.mark.parametrize(("victim", "message"), [
    (["payer_phone", "payer_acount"], "unknown column 'payer_acount'"),
    (["payer_phone", "district"], "column 'district' holds neither a phone number"),
    ("amount", "column 'amount' is Float64; a key must be a String column"),
    ([], "must be a column name or a non-empty list of column names"),
    (["payer_phone", "payer_phone"], "lists a column twice"),
    (5, "must be a column name or a list of column names, not 5"),
])
def test_a_bad_victim_is_named_with_file_rule_and_line(tmp_path, schemas, victim, message):
    text = rule_toml("ok", "transfer", "score >= 0.9") + rule_toml("bad", "transfer", "score >= 0.9", victim=victim)
    path = str(tmp_path / "rules.toml")
    (problem,) = problems_of(tmp_path, text, schemas)
    assert problem.startswith(f"{path}:13: rule 'bad': victim: ") and message in problem, problem


def test_the_bundled_transfer_rules_fall_back_to_the_payer_account():
    rules = RuleSet.load(DEFAULT_RULES_PATH, expected_scored_schemas())
    assert {r.victims for r in rules.rules_for("transfer")} == {("payer_phone", "payer_account")}
    assert {r.victims for r in rules.rules_for("call")} == {("callee",)}
    assert rules.rule("mule_transfer_stop_payment").cooldown_key == "payee_account"
