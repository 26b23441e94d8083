"""Backtest figures on a small history worked out by hand."""

from __future__ import annotations

import polars as pl
import pytest
from rules_frames import T0, calls, rule_toml, transfers

from fraud_brain.rules import RuleSet, backtest
from fraud_brain.rules.backtest import ANY_ACTIVE, load_scored
from fraud_brain.schema import LABELS

DAY = 24 * 60


def history() -> tuple[pl.DataFrame, pl.DataFrame]:
    scored_calls = calls([
        {"caller": "170", "callee": "138", "duration_s": 1500, "sim_age_days": 3, "start_time": 0, "score": 0.8},
        {"caller": "171", "callee": "139", "duration_s": 20, "start_time": 5},
    ])
    scored_transfers = transfers([
        {"payer_phone": "138", "time": 10, "amount": 5000.0, "score": 0.4},
        {"payer_phone": "138", "time": 20, "amount": 3000.0, "score": 0.95},
        {"payer_phone": "140", "time": 30, "amount": 700.0, "score": 0.95, "payee_account": "MULE"},
        {"payer_phone": "141", "time": 40, "amount": 9000.0, "score": 0.1},
        {"payer_phone": "138", "time": 3 * DAY, "amount": 100.0, "score": 0.95},
    ])
    return scored_calls, scored_transfers


def labels() -> pl.DataFrame:
    return pl.DataFrame({
        "label_id": ["l1", "l2", "l3"], "entity_type": ["transfer", "account", "number"],
        "entity_id": ["t1", "MULE", "170"], "is_fraud": [True, True, True], "typology": [None, None, None],
        "known_at": [T0, T0, T0], "source": ["victim_report", "bank", "police"],
    }, schema=LABELS.polars_schema())


TRUTH = pl.DataFrame({"event_id": ["c0", "c1", "t0", "t1", "t2", "t3", "t4"],
                      "is_fraud": [True, False, True, True, False, True, False]})


def ruleset(schemas) -> RuleSet:
    text = (rule_toml("long_call", "call", "duration_s >= 1200 AND sim_age_days <= 7", cooldown="1h")
            + rule_toml("hot", "transfer", "score >= 0.9")
            + rule_toml("watch", "transfer", "score >= 0.3", mode="shadow"))
    return RuleSet.from_text(text, schemas)


def test_per_rule_figures_match_the_hand_count(schemas):
    report = backtest(ruleset(schemas), list(history()), labels=labels(), truth=TRUTH)
    rows = {r["rule"]: r for r in report.per_rule.to_dicts()}
    assert (report.events, report.days, report.scam_transfers, report.scam_money) == (7, 2, 3, 17_000.0)
    assert report.truth_source == "truth"
    expected = {  # hits, decisions, precision vs labels, precision vs truth, money protected, alerts/day
        "long_call": (1, 1, 1.0, 1.0, 8_000.0, 0.5),        # victim 138 warned before t0 and t1
        "hot": (3, 3, 2 / 3, 1 / 3, 3_000.0, 1.5),          # fired on t1 itself; t0 came before it fired
        "watch": (4, 4, 0.5, 0.5, 8_000.0, 2.0),            # shadow: reported the same way
        ANY_ACTIVE: (4, 4, 3 / 4, 2 / 4, 8_000.0, 2.0),
    }
    for rule, (hits, decisions, p_labels, p_truth, money, per_day) in expected.items():
        row = rows[rule]
        assert (row["hits"], row["decisions"], row["money_protected"], row["alerts_per_day"]) == (
            hits, decisions, money, per_day), rule
        assert row["precision_labels"] == pytest.approx(p_labels) and row["precision_truth"] == pytest.approx(p_truth)
    assert rows["watch"]["mode"] == "shadow"


def test_labels_alone_define_the_scams_when_no_truth_is_given(schemas):
    report = backtest(ruleset(schemas), list(history()), labels=labels())
    hot = report.per_rule.filter(pl.col("rule") == "hot").row(0, named=True)
    assert report.truth_source == "labels" and report.scam_money == 3_700.0  # t1 labelled, t2 paid a mule
    assert hot["money_protected"] == 3_700.0 and hot["precision_truth"] is None


def test_cooldowns_lower_decisions_not_hits_and_the_window_limits_protection(schemas):
    text = rule_toml("hot", "transfer", "score >= 0.9", cooldown="4d") + rule_toml(
        "long_call", "call", "duration_s >= 1200")
    scored_calls, scored_transfers = history()
    report = backtest(RuleSet.from_text(text, schemas), [scored_calls, scored_transfers], truth=TRUTH,
                      protect_window="15m")
    rows = {r["rule"]: r for r in report.per_rule.to_dicts()}
    # 138, 140, then 138 again three days later: still within 138's four-day cooldown.
    assert (rows["hot"]["hits"], rows["hot"]["decisions"]) == (3, 2)
    # The call at minute 0 protects t0 (minute 10) but not t1 (minute 20) with a 15-minute window.
    assert rows["long_call"]["money_protected"] == 5_000.0


def test_scored_parquet_folders_are_read_without_label_files(tmp_path):
    scored_calls, scored_transfers = history()
    scored_calls.write_parquet(tmp_path / "calls_scored.parquet")
    scored_transfers.write_parquet(tmp_path / "transfers_scored.parquet")
    labels().write_parquet(tmp_path / "labels.parquet")
    frames = load_scored(tmp_path)
    assert sorted(f.height for f in frames) == [2, 5]
    with pytest.raises(FileNotFoundError, match="no scored frames"):
        load_scored(tmp_path / "missing")


def test_events_no_rule_watches_still_count(schemas):
    rules = RuleSet.from_text(rule_toml("hot", "transfer", "score >= 0.9"), schemas)
    report = backtest(rules, list(history()), truth=TRUTH)
    assert report.events == 7 and report.per_rule["rule"].to_list() == ["hot", ANY_ACTIVE]


def test_money_is_protected_on_transfers_whose_bank_sent_no_payer_phone(schemas):
    scored = transfers([
        {"payer_phone": None, "payer_account": "A7", "time": 0, "amount": 2000.0, "score": 0.95},
        {"payer_phone": None, "payer_account": "A7", "time": 30, "amount": 6000.0, "score": 0.2},
        {"payer_phone": "", "payer_account": "A8", "time": 40, "amount": 500.0, "score": 0.2},
        # The same digits as a phone are someone else: a firing on account "A7" does not cover them.
        {"payer_phone": "A7", "payer_account": "A9", "time": 50, "amount": 900.0, "score": 0.2},
    ])
    truth = pl.DataFrame({"event_id": ["t0", "t1", "t2", "t3"], "is_fraud": [True, True, True, True]})
    fallback = RuleSet.from_text(rule_toml("stop", "transfer", "score >= 0.9", victim=["payer_phone", "payer_account"]),
                                 schemas)
    phone_only = RuleSet.from_text(rule_toml("stop", "transfer", "score >= 0.9"), schemas)
    money = {name: backtest(rules, [scored], truth=truth).per_rule.row(0, named=True)["money_protected"]
             for name, rules in (("fallback", fallback), ("phone_only", phone_only))}
    # The fallback rule's decision on t0 is the account's, and covers its later scam transfer t1.
    assert money == {"fallback": 8000.0, "phone_only": 0.0}
