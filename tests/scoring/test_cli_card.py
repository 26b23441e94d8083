"""A card-transaction spec end to end through the command line: simulate, train, evaluate.

The bundled ``card`` spec declares its own record kinds (``card_tx``, ``fraud_report``) and
label entity types (tx, customer, terminal); nothing here is telecom.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from fraud_brain.cli import app
from fraud_brain.errors import InputError, MissingInputError
from fraud_brain.features import bundled_spec
from fraud_brain.scoring.registry import ModelRegistry
from fraud_brain.sim.cards import CardConfig, simulate_cards

runner = CliRunner(env={"COLUMNS": "220"})
SEED = 7


@pytest.fixture(scope="module")
def card_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small card world (300 customers, 61 days) written as the simulate command does."""
    folder = tmp_path_factory.mktemp("cards")
    result = runner.invoke(app, ["simulate", "--world", "card", "--out", str(folder), "--customers", "300",
                                 "--terminals", "600", "--days", "61", "--seed", str(SEED)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def trained(card_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("models")
    result = runner.invoke(app, ["train", "--data", str(card_dir), "--spec", "card", "--out", str(out),
                                 "--rounds", "80"])
    return out, result


def _input_error(result: Result) -> str:
    """The message of a user mistake: one line and exit 2 once the CLI maps InputError, else the raised error."""
    if isinstance(result.exception, InputError):
        return str(result.exception)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    return result.output


def _test_prevalence(card_dir: Path, manifest_test_window: tuple[str, str]) -> float:
    start, end = (datetime.fromisoformat(t) for t in manifest_test_window)
    tx = pl.read_parquet(card_dir / "card_tx.parquet").join(pl.read_parquet(card_dir / "truth_tx.parquet"), on="tx_id")
    in_test = tx.filter((pl.col("time") >= start) & (pl.col("time") < end))
    return float(in_test["is_fraud"].mean())  # type: ignore[arg-type]


def test_train_publishes_the_tx_model_well_above_prevalence(card_dir: Path, trained: tuple[Path, Result]) -> None:
    out, result = trained
    assert result.exit_code == 0, result.output
    registry = ModelRegistry(out)
    assert registry.names() == ["tx"] and registry.champion("tx") == "v001"
    manifest = registry.manifest("tx", "v001")
    assert manifest.event_type == "tx"
    assert manifest.feature_names == list(bundled_spec("card").feature_groups("tx"))
    assert manifest.calibration is not None and manifest.calibration["method"] == "isotonic"
    assert manifest.test_window is not None
    prevalence = _test_prevalence(card_dir, manifest.test_window)
    assert 0 < prevalence < 0.05
    assert manifest.metrics["average_precision"] > 5 * prevalence, (manifest.metrics, prevalence)
    assert manifest.metrics["roc_auc"] > 0.8
    assert f"fraud prevalence {prevalence:.3%}" in result.output


def test_evaluate_reports_each_setup_and_writes_json(card_dir: Path, tmp_path: Path) -> None:
    report = tmp_path / "eval.json"
    result = runner.invoke(app, ["evaluate", "--data", str(card_dir), "--spec", "card", "--rounds", "80",
                                 "--k", "20", "--json", str(report)])
    assert result.exit_code == 0, result.output
    payload = json.loads(report.read_text())
    tx = payload["streams"]["tx"]
    names = [s["name"] for s in tx["setups"]]
    assert names == ["all features", "customer features only", "terminal features only"]
    reports = {s["name"]: s["report"] for s in tx["setups"]}
    assert reports["all features"]["frauds"] > 20
    assert tx["prevalence"] == pytest.approx(reports["all features"]["frauds"] / reports["all features"]["events"])
    assert reports["all features"]["average_precision"] > 5 * tx["prevalence"]
    # both parts of the spec carry signal on their own, and together do at least about as well
    for part in ("customer features only", "terminal features only"):
        assert reports[part]["average_precision"] > 2 * tx["prevalence"]
        assert reports["all features"]["average_precision"] > 0.8 * reports[part]["average_precision"]
    assert "prevalence" in result.output and "all features" in result.output


def test_no_fitted_object_saw_a_test_window_label(card_dir: Path, trained: tuple[Path, Result], tmp_path: Path) -> None:
    """Training again on a folder without anything known after the label cutoff gives the same model."""
    out, result = trained
    assert result.exit_code == 0, result.output
    manifest = ModelRegistry(out).manifest("tx", "v001")
    assert manifest.label_cutoff is not None
    cutoff = datetime.fromisoformat(manifest.label_cutoff)
    blind = tmp_path / "blind"
    shutil.copytree(card_dir, blind)
    for name in ("truth_tx", "truth_customers", "truth_terminals"):
        (blind / f"{name}.parquet").unlink()
    removed = 0
    for name in ("labels", "fraud_reports"):
        frame = pl.read_parquet(card_dir / f"{name}.parquet")
        kept = frame.filter(pl.col("known_at") <= cutoff)
        removed += frame.height - kept.height
        kept.write_parquet(blind / f"{name}.parquet")
    assert removed > 50  # the test window's labels and reports are really gone
    again = runner.invoke(app, ["train", "--data", str(blind), "--spec", "card", "--out", str(tmp_path / "m"),
                                "--rounds", "80"])
    assert again.exit_code == 0, again.output
    other = ModelRegistry(tmp_path / "m").manifest("tx", "v001")

    def booster(root: Path) -> str:
        return (root / "tx" / "v001" / "model.txt").read_text()

    assert booster(tmp_path / "m") == booster(out)
    assert other.calibration == manifest.calibration
    assert other.data_fingerprint == manifest.data_fingerprint
    assert other.metrics != manifest.metrics  # only the measurement saw the test window


def test_data_commands_know_the_card_kinds(card_dir: Path) -> None:
    summary = runner.invoke(app, ["data", "summary", str(card_dir), "--spec", "card"])
    assert summary.exit_code == 0, summary.output
    assert "card_tx" in summary.output and "fraud_report" in summary.output and "terminal" in summary.output
    valid = runner.invoke(app, ["data", "validate", str(card_dir / "labels.parquet"), "--kind", "label",
                                "--spec", "card"])
    assert valid.exit_code == 0 and "0 rejected" in valid.output
    # telecom's label kind does not know the card world's entity types
    invalid = runner.invoke(app, ["data", "validate", str(card_dir / "labels.parquet"), "--kind", "label"])
    assert invalid.exit_code == 1 and "entity_type 'tx'" in invalid.output
    schema = runner.invoke(app, ["data", "schema", "fraud_report", "--spec", "card"])
    assert schema.exit_code == 0 and "`terminal_id`" in schema.output
    unknown = runner.invoke(app, ["data", "validate", str(card_dir / "card_tx.parquet"), "--kind", "card_tx"])
    assert "unknown record kind 'card_tx'" in _input_error(unknown) and "--spec" in _input_error(unknown)


def test_wrong_folders_and_kinds_are_one_clear_input_error(card_dir: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["train", "--data", str(tmp_path / "nope"), "--spec", "card", "--out", str(tmp_path)])
    assert "does not exist" in _input_error(missing)
    assert isinstance(missing.exception, MissingInputError) or missing.exit_code == 2
    telecom = Path(__file__).resolve().parents[2] / "data" / "sample"
    wrong = runner.invoke(app, ["train", "--data", str(telecom), "--spec", "card", "--out", str(tmp_path)])
    assert "card_tx" in _input_error(wrong) and "scored stream" in _input_error(wrong)
    no_labels = tmp_path / "no_labels"
    shutil.copytree(card_dir, no_labels)
    (no_labels / "labels.parquet").unlink()
    unlabelled = runner.invoke(app, ["evaluate", "--data", str(no_labels), "--spec", "card"])
    assert "no labels file" in _input_error(unlabelled)
    summary = runner.invoke(app, ["data", "summary", str(tmp_path / "nope"), "--spec", "card"])
    assert "does not exist" in _input_error(summary)
    without_spec = runner.invoke(app, ["data", "summary", str(card_dir)])
    assert "entity_type 'tx'" in _input_error(without_spec) and "--spec" in _input_error(without_spec)


def test_a_world_too_short_to_learn_from_says_so(tmp_path: Path) -> None:
    world = simulate_cards(CardConfig(n_customers=40, n_terminals=80, days=6, seed=2, card_rate=0, terminal_rate=0,
                                      amount_threshold=1e6))
    world.write(tmp_path)
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--spec", "card", "--out", str(tmp_path / "m")])
    assert "cannot train model 'tx'" in _input_error(result) and "only one class" in _input_error(result)
