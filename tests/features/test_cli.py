"""The ``features`` commands on real files (lives here: tests/cli belongs to the CLI shell)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from fraud_brain.cli import app
from fraud_brain.features import bundled_spec, replay
from fraud_brain.features.synthetic import synthetic_card, synthetic_telecom
from fraud_brain.io.files import write_frame

runner = CliRunner()


def test_replay_command_writes_the_same_features_as_replay(tmp_path: Path) -> None:
    frames = synthetic_telecom(n_calls=300, n_transfers=80, n_phones=30, seed=9)
    data = tmp_path / "data"
    for stream, name in (("call", "calls"), ("transfer", "transfers"), ("label", "labels"),
                         ("subscribers", "subscribers")):
        write_frame(frames[stream], data / f"{name}.parquet")
    result = runner.invoke(app, ["features", "replay", str(data), "--out", str(tmp_path / "out"), "--batch-size", "50"])
    assert result.exit_code == 0, result.output
    written = pl.read_parquet(tmp_path / "out" / "transfer_features.parquet")
    expected = replay(bundled_spec("telecom"), {s: frames[s] for s in ("call", "transfer", "label")},
                      reference={"subscribers": frames["subscribers"]})["transfer"]
    assert written.equals(expected)


def test_replay_command_with_a_spec_file_and_csv(tmp_path: Path) -> None:
    frames = synthetic_card(n=100)
    frames["tx"].write_csv(tmp_path / "tx.csv")
    spec_path = Path(bundled_spec("card").source)
    result = runner.invoke(app, ["features", "replay", str(tmp_path), "--spec", str(spec_path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(tmp_path / "o" / "tx_features.parquet").height == 100


def test_check_lists_features_and_rejects_bad_specs(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "check", "telecom"])
    assert result.exit_code == 0, result.output
    assert "payer_longest_risky_call_minutes_1h" in result.output and "cross_channel" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[streams.x]\nid = "i"\ntime = "t"\n[[feature]]\nstream = "y"\nname = "f"\nexpr = "1"\n')
    result = runner.invoke(app, ["features", "check", str(bad)])
    assert result.exit_code == 2
    assert "bad.toml:5" in result.output and "unknown stream 'y'" in result.output
    missing = runner.invoke(app, ["features", "replay", str(tmp_path / "empty"), "-o", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "no record files" in missing.output
