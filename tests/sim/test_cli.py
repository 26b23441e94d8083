"""``fraud-brain simulate`` writes a valid world and summarises it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fraud_brain.cli import app
from fraud_brain.io import read_frame
from fraud_brain.sim import FRAMES, SimConfig, simulate


def test_simulate_writes_every_frame(tmp_path: Path) -> None:
    out = tmp_path / "world"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--out",
            str(out),
            "--subscribers",
            "300",
            "--days",
            "2",
            "--seed",
            "4",
            "--format",
            "jsonl",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.jsonl" for name in FRAMES)
    assert "records" in result.output and "scam calls" in result.output
    expected = simulate(SimConfig.preset("sample", n_subscribers=300, days=2, seed=4))
    assert read_frame(out / "calls.jsonl", "call").equals(expected.calls)
    assert read_frame(out / "transfers.jsonl", "transfer").equals(expected.transfers)


def test_simulate_rejects_an_unknown_preset(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path), "--preset", "huge"])
    assert result.exit_code != 0
    assert "huge" in result.output


def test_simulate_help_describes_the_options() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--preset", "--seed", "--days", "--subscribers", "--format"):
        assert option in result.output


def test_simulate_drift_options_set_the_drift_and_name_the_day(tmp_path: Path) -> None:
    out = tmp_path / "world"
    args = ["simulate", "--out", str(out), "--preset", "drift", "--subscribers", "600", "--days", "6"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*args, "--drift-day", "3", "--drift-strength", "0.5"])
    assert result.exit_code == 0, result.output
    assert "--drift-day 2026-10-08" in result.output and "50% of later episodes over chat apps" in result.output
    config = SimConfig.preset("drift", n_subscribers=600, days=6, drift_day=3, drift_strength=0.5)
    assert read_frame(out / "transfers.parquet", "transfer").equals(simulate(config).transfers)


def test_simulate_rejects_a_drift_day_past_the_window(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["simulate", "--out", str(tmp_path), "--days", "4", "--drift-day", "9", "--drift-strength", "0.5"]
    )
    assert result.exit_code == 2
    assert "drift_day" in result.output
