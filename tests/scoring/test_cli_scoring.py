"""The scoring commands, run for real through typer on a small record folder."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fraud_brain.cli import app
from fraud_brain.scoring.registry import ModelRegistry

from .helpers import write_data_folder

runner = CliRunner(env={"COLUMNS": "220"})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_data_folder(tmp_path_factory.mktemp("world"))


def test_train_publishes_champion_then_challenger_and_models_commands(tmp_path, data_dir):
    out = tmp_path / "models"
    result = runner.invoke(app, ["train", "--data", str(data_dir), "--out", str(out), "--rounds", "20"])
    assert result.exit_code == 0, result.output
    registry = ModelRegistry(out)
    assert registry.champion("transfer") == "v001"
    manifest = registry.manifest("transfer", "v001")
    assert manifest.calibration is not None and manifest.calibration["method"] == "isotonic"
    assert manifest.train_window is not None and manifest.data_fingerprint
    assert "payer_risky_call_last_hour" in manifest.feature_names

    again = runner.invoke(app, ["train", "--data", str(data_dir), "--out", str(out), "--rounds", "10", "--challenger"])
    assert again.exit_code == 0, again.output
    assert registry.challenger("transfer") == "v002" and registry.champion("transfer") == "v001"

    listing = runner.invoke(app, ["models", "list", "--dir", str(out)])
    assert listing.exit_code == 0 and "challenger" in listing.output and "champion" in listing.output
    shown = runner.invoke(app, ["models", "show", "transfer", "--dir", str(out)])
    assert json.loads(shown.output)["version"] == "v001"
    promoted = runner.invoke(app, ["models", "promote", "transfer", "--dir", str(out)])
    assert promoted.exit_code == 0 and registry.champion("transfer") == "v002"
    missing = runner.invoke(app, ["models", "promote", "transfer", "v042", "--dir", str(out)])
    assert missing.exit_code == 2 and "v042 not found" in missing.output
    bad = runner.invoke(app, ["models", "challenger", "transfer", "--dir", str(out)])
    assert bad.exit_code == 2


def test_evaluate_prints_three_setups_and_writes_json(tmp_path, data_dir):
    path = tmp_path / "eval.json"
    result = runner.invoke(
        app, ["evaluate", "--data", str(data_dir), "--rounds", "20", "--k", "5", "--json", str(path)]
    )
    assert result.exit_code == 0, result.output
    for setup in ("transfer-only", "cross-channel", "cross-channel + online"):
        assert setup in result.output
    payload = json.loads(path.read_text())
    assert [s["name"] for s in payload["setups"]] == [
        "transfer-only", "cross-channel", "cross-channel + online", "number model", "number model + cold-start anomaly",
    ]
    assert "Calling numbers" in result.output
    report = payload["setups"][1]["report"]
    assert report["frauds"] > 0 and 0 <= report["average_precision"] <= 1
    assert payload["setups"][2]["online_learned"] > 0


def test_train_names_a_missing_folder(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "does not exist" in str(result.exception) or "does not exist" in result.output


def test_evaluate_with_a_drift_day_prints_and_writes_before_and_after(tmp_path, data_dir):
    path = tmp_path / "eval.json"
    # the folder spans 14 days from 2026-11-01 08:00; the default test period starts on 11-09
    args = ["evaluate", "--data", str(data_dir), "--rounds", "20", "--k", "5", "--json", str(path)]
    result = runner.invoke(app, [*args, "--drift-day", "2026-11-12"])
    assert result.exit_code == 0, result.output
    assert "Before vs after the drift on 2026-11-12" in result.output and "2026-11-12 *" in result.output
    drift = json.loads(path.read_text())["drift"]
    assert drift["at"].startswith("2026-11-12T00:00:00")
    rows = {row["setup"]: row for row in drift["setups"]}
    assert list(rows) == ["transfer-only", "cross-channel", "cross-channel + online"]
    for row in rows.values():
        assert row["frauds_before"] > 0 and row["frauds_after"] > 0
        assert row["ap_change"] == pytest.approx(row["ap_after"] - row["ap_before"])


@pytest.mark.parametrize("day, message", [("next tuesday", "is not a date"), ("2026-11-03", "outside the test period")])
def test_evaluate_rejects_a_drift_day_it_cannot_use(data_dir, day, message):
    result = runner.invoke(app, ["evaluate", "--data", str(data_dir), "--rounds", "5", "--drift-day", day])
    assert result.exit_code == 2 and message in result.output
