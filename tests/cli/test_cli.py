"""The ``data`` commands on real files."""

from __future__ import annotations

import polars as pl
from typer.testing import CliRunner

from fraud_brain.cli import app
from fraud_brain.io import DeadLetterStore, read_frame, write_frame

runner = CliRunner()


def _transfers() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "transfer_id": ["t1", "t2", "t3"],
            "time": ["2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z"],
            "payer_account": ["A1", "A2", "A3"],
            "payee_account": ["B1", "B2", "B3"],
            "payee_bank": ["ICBC", "ICBC", "BOC"],
            "amount": ["5", "-5", "700"],
            "channel": ["atm", "atm", "mobile_app"],
        }
    )


def test_validate_reports_bad_records_stores_dead_letters_and_keeps_the_good(tmp_path):
    write_frame(_transfers(), tmp_path / "in.csv")
    result = runner.invoke(
        app,
        ["data", "validate", str(tmp_path / "in.csv"), "--kind", "transfer",
         "--dead-letters", str(tmp_path / "dl"), "--out", str(tmp_path / "good.parquet")],
    )
    assert result.exit_code == 1
    assert "transfer 1 (t2): amount -5 must be > 0" in result.output
    assert "2 valid, 1 rejected" in result.output
    assert DeadLetterStore(tmp_path / "dl").count("transfer") == 1
    assert read_frame(tmp_path / "good.parquet", "transfer")["transfer_id"].to_list() == ["t1", "t3"]


def test_summary_prints_each_kind(tmp_path):
    write_frame(_transfers().filter(pl.col("transfer_id") != "t2"), tmp_path / "transfers.jsonl")
    result = runner.invoke(app, ["data", "summary", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "transfer" in result.output and "mobile_app 1" in result.output


def test_every_command_has_help():
    import typer.main

    def walk(command, path: list[str]):
        yield path
        if isinstance(getattr(command, "commands", None), dict):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    paths = list(walk(typer.main.get_command(app), []))
    assert ["data", "validate"] in paths and ["run"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output
