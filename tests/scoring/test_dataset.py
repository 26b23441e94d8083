"""Training data for any scored stream: the spec names the records, the target and its key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from fraud_brain.errors import InputError, MissingInputError
from fraud_brain.features import bundled_spec, bundled_spec_path
from fraud_brain.features.spec import load_spec_text
from fraud_brain.scoring.dataset import (
    build_spec_data,
    build_training_data,
    load_spec_sources,
    telecom_protocol,
)
from fraud_brain.sim.cards import CardConfig, simulate_cards


@pytest.fixture(scope="module")
def card_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cards")
    simulate_cards(CardConfig(n_customers=200, n_terminals=400, days=40, seed=3)).write(folder, fmt="csv")
    return folder


def test_sources_are_the_spec_kinds_read_and_validated(card_dir: Path) -> None:
    spec = bundled_spec("card")
    sources = load_spec_sources(card_dir, spec)
    assert set(sources.streams) == {"tx", "fraud_report"}
    assert sources.streams["tx"].schema == spec.record_schema("card_tx").polars_schema()
    assert sources.labels is not None
    assert sources.labels.schema["entity_type"] == pl.Enum(["tx", "customer", "terminal"])
    assert set(sources.truth) == set()  # csv truth files are not read as truth (only parquet)


def test_each_scored_stream_gets_its_frame_and_the_spec_target(card_dir: Path) -> None:
    data = build_spec_data(card_dir, "card")
    assert list(data.streams) == ["tx"]
    tx = data.streams["tx"]
    assert tx.frame.height == pl.read_csv(card_dir / "card_tx.csv").height
    assert {"tx_id", "time", "customer_id", "amount"} <= set(tx.frame.columns)
    assert tx.feature_names == list(bundled_spec("card").feature_groups("tx")) and tx.entity == "customer_id"
    target = tx.target(data.labels)
    fraud_tx = data.labels.filter((pl.col("entity_type") == "tx") & pl.col("is_fraud"))["entity_id"]
    assert sorted(target.filter(pl.col("label") == 1)["tx_id"]) == sorted(fraud_tx)
    # point in time: a label counts only once known
    cutoff = tx.frame["time"].min() + timedelta(days=20)
    early = tx.target(data.labels, as_of=cutoff)
    known = data.labels.filter((pl.col("entity_type") == "tx") & pl.col("is_fraud") & (pl.col("known_at") <= cutoff))
    assert early["label"].sum() == known.height < target["label"].sum()


def test_the_target_entity_and_key_come_from_the_spec(card_dir: Path) -> None:
    text = bundled_spec_path("card").read_text().replace(
        'label = { entity = "tx", key = "tx_id" }', 'label = { entity = "customer", key = "customer_id" }'
    )
    spec = load_spec_text(text, "by_customer.toml")
    tx = build_spec_data(card_dir, spec).streams["tx"]
    labels = build_spec_data(card_dir, spec).labels
    stolen = labels.filter(pl.col("entity_type") == "customer")["entity_id"]
    assert stolen.len() > 0
    target = tx.target(labels)
    assert (target["label"] == target["customer_id"].is_in(stolen.implode()).cast(pl.Int8)).all()


def test_evaluation_labels_are_the_truth_when_the_folder_has_it(tmp_path: Path) -> None:
    world = simulate_cards(CardConfig(n_customers=100, n_terminals=200, days=30, seed=5))
    world.write(tmp_path)
    data = build_spec_data(tmp_path, "card")
    truth = data.evaluation_labels("tx")
    assert truth.height == int(world.truth_tx["is_fraud"].sum()) > data.labels.filter(pl.col("is_fraud")).height
    assert set(truth["entity_type"]) == {"tx"}


def test_missing_inputs_are_named(card_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="does not exist"):
        build_spec_data(tmp_path / "nope", "card")
    with pytest.raises(MissingInputError, match=r"tx: card_tx\.parquet/\.csv/\.jsonl or card_txs"):
        build_spec_data(tmp_path, "card")
    (tmp_path / "card_tx.csv").write_bytes((card_dir / "card_tx.csv").read_bytes())
    with pytest.raises(MissingInputError, match="no labels file"):
        build_spec_data(tmp_path, "card")
    with pytest.raises(MissingInputError, match="no transfers file"):
        build_training_data(card_dir, "card")


def test_only_specs_scoring_builtin_transfers_use_the_telecom_protocol() -> None:
    assert telecom_protocol(bundled_spec("telecom")) and not telecom_protocol(bundled_spec("card"))
    with pytest.raises(InputError):
        from fraud_brain.scoring.dataset import default_split

        default_split(pl.Series("time", [], pl.Datetime("ms", "UTC")))


def test_a_telecom_spec_without_scoring_tables_trains_as_before(tmp_path: Path) -> None:
    import re

    from .helpers import write_data_folder

    folder = write_data_folder(tmp_path / "data", n_calls=1500, n_transfers=600, days=6)
    text = re.sub(r"\[streams\.(call|transfer)\.scoring\]\n(.*\n)*?\n", "", bundled_spec_path("telecom").read_text())
    legacy = load_spec_text(text, "legacy.toml")
    assert legacy.scored_streams() == [] and telecom_protocol(legacy)
    old, new = build_training_data(folder, legacy), build_training_data(folder, "telecom")
    assert old.transfers.equals(new.transfers) and old.transfer_groups == new.transfer_groups
    assert old.calls is not None and new.calls is not None and old.calls.equals(new.calls)
