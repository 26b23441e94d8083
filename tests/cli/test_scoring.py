"""``train`` / ``models`` / ``rules check`` / ``backtest`` find their models and spec like run and serve."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraud_brain import bundled
from fraud_brain.cli import app
from fraud_brain.rules.defaults import CARD_RULES_PATH


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


def test_models_commands_read_the_bundled_registry_from_any_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./models here
    monkeypatch.setenv("COLUMNS", "240")
    code, out = invoke("models", "list")
    assert code == 0, out
    assert f"Models in {bundled.models_dir()}" in out
    assert "│ number " in out and "│ transfer " in out
    code, out = invoke("models", "show", "transfer")
    assert code == 0 and '"name": "transfer"' in out
    code, out = invoke("models", "list", "--models-dir", str(tmp_path / "none"))
    assert code == 2 and f"model registry folder {tmp_path / 'none'} does not exist" in out


def test_rules_check_takes_the_spec_whose_streams_the_rules_watch(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")
    code, out = invoke("rules", "check", str(CARD_RULES_PATH), "--spec", "card")
    assert code == 0, out
    assert "3 rule(s) OK" in out
    code, out = invoke("rules", "check", str(CARD_RULES_PATH))
    assert code == 1 and "'tx' unknown" in out


@pytest.mark.parametrize("flag", ["--out", "--models-dir"])
def test_train_refuses_a_file_as_its_registry(tmp_path: Path, flag: str) -> None:
    file = tmp_path / "models"
    file.write_text("")
    code, out = invoke("train", "--data", str(bundled.sample_dir()), flag, str(file))
    assert code == 2 and "is a file" in out
