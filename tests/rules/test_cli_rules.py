"""``fraud-brain rules check`` and ``fraud-brain backtest`` on real files (for fraud_brain/cli/rules.py)."""

from __future__ import annotations

import json

from rules_frames import rule_toml
from test_backtest import TRUTH, history, labels
from typer.testing import CliRunner

from fraud_brain.cli import app
from fraud_brain.rules import DEFAULT_RULES_PATH

runner = CliRunner()


def test_check_accepts_the_default_rules():
    result = runner.invoke(app, ["rules", "check", str(DEFAULT_RULES_PATH)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "rule(s) OK" in result.output and "mule_transfer_stop_payment" in result.output


def test_check_names_every_problem_and_fails(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(rule_toml("a", "transfer", "scroe > 1")
                    + rule_toml("b", "call", "score > 0.5", actions=["fax"]))
    result = runner.invoke(app, ["rules", "check", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert f"{path}:4: rule 'a': when: unknown column 'scroe'" in result.output
    assert f"{path}:12: rule 'b': actions: unknown action 'fax'" in result.output
    assert "2 problem(s)" in result.output


def test_check_against_scored_data_uses_its_columns(tmp_path):
    _, scored_transfers = history()
    scored_transfers.write_parquet(tmp_path / "transfers.parquet")
    rules = tmp_path / "rules.toml"
    rules.write_text(rule_toml("hot", "transfer", "score >= 0.9 AND payee_distinct_payers_24h > 3"))
    assert runner.invoke(app, ["rules", "check", str(rules), "--scored", str(tmp_path)]).exit_code == 0
    # The default rules use features this data does not have.
    result = runner.invoke(app, ["rules", "check", str(DEFAULT_RULES_PATH), "--scored", str(tmp_path)],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 1 and "unknown column" in result.output


def test_backtest_prints_the_table_and_writes_json(tmp_path):
    scored_calls, scored_transfers = history()
    scored_calls.write_parquet(tmp_path / "calls.parquet")
    scored_transfers.write_parquet(tmp_path / "transfers.parquet")
    labels().write_parquet(tmp_path / "labels.parquet")
    TRUTH.write_parquet(tmp_path / "truth.parquet")
    rules = tmp_path / "rules.toml"
    rules.write_text(rule_toml("hot", "transfer", "score >= 0.9")
                     + rule_toml("long_call", "call", "duration_s >= 1200"))
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["backtest", str(rules), str(tmp_path), "--json", str(out)],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "hot" in result.output and "long_call" in result.output
    assert "7 events over 2 day(s)" in result.output
    report = json.loads(out.read_text())
    hot = next(r for r in report["rules"] if r["rule"] == "hot")
    assert (hot["hits"], hot["money_protected"], report["scam_money"]) == (3, 3000.0, 17000.0)


def test_backtest_refuses_rules_that_do_not_fit_the_data(tmp_path):
    _, scored_transfers = history()
    scored_transfers.write_parquet(tmp_path / "transfers.parquet")
    rules = tmp_path / "rules.toml"
    rules.write_text(rule_toml("hot", "transfer", "risk >= 0.9"))
    result = runner.invoke(app, ["backtest", str(rules), str(tmp_path)], env={"COLUMNS": "250"})
    assert result.exit_code == 2 and "unknown column 'risk'" in result.output
