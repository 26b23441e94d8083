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
    result = runner.invoke(
        app, ["features", "replay", str(tmp_path), "--spec", str(spec_path), "-o", str(tmp_path / "o")])
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


SHOP_SPEC = '''[streams.tx]
id = "tx_id"
time = "time"
passthrough = ["shop"]
[entities]
shop = {}
[[aggregate]]
name = "pos_spend"
entity = "shop"
stream = "tx"
key = "shop"
op = "sum"
value = "amount"
where = "chanel == 'pos'"
sliding = ["1d"]
'''


def test_check_with_data_finds_misspelt_columns_a_spec_without_schema_cannot(tmp_path: Path) -> None:
    spec = tmp_path / "shop.toml"
    spec.write_text(SHOP_SPEC)
    tx = pl.DataFrame({"tx_id": ["a"], "time": ["2026-01-01T00:00:00Z"], "shop": ["s"], "amount": [1.0],
                       "channel": ["pos"]})
    tx.write_csv(tmp_path / "tx.csv")
    assert runner.invoke(app, ["features", "check", str(spec)]).exit_code == 0  # nothing to check against
    result = runner.invoke(app, ["features", "check", str(spec), "--data", str(tmp_path / "tx.csv")])
    assert result.exit_code == 2
    assert (f"{spec}:14: [[aggregate]] #1 key 'where': unknown name 'chanel'" in result.output
            and "did you mean 'channel'?" in result.output)
    fixed = tmp_path / "fixed.toml"
    fixed.write_text(SHOP_SPEC.replace("chanel", "channel"))
    result = runner.invoke(app, ["features", "check", str(fixed), "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "has every column the spec names" in result.output
    # a file that fits no stream by name is refused unless --stream says which
    other = tmp_path / "sales.parquet"
    tx.write_parquet(other)
    # the spec has one stream, so any file holds that stream's records
    assert runner.invoke(app, ["features", "check", str(fixed), "--data", str(other)]).exit_code == 0
    result = runner.invoke(app, ["features", "check", str(fixed), "--data", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such file or folder" in result.output


def test_check_with_data_against_the_card_spec_and_a_folder(tmp_path: Path) -> None:
    frames = synthetic_card(n=20)
    frames["tx"].rename({"terminal_id": "terminal"}).write_parquet(tmp_path / "tx.parquet")
    result = runner.invoke(app, ["features", "check", "card", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert ("key 'key': unknown column 'terminal_id' of stream 'tx': not a column of tx.parquet"
            in result.output)
    assert "card.toml:" in result.output
    frames["tx"].write_parquet(tmp_path / "tx.parquet")
    result = runner.invoke(app, ["features", "check", "card", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
