"""The card-payment world: deterministic, every handbook scenario present, reports and labels consistent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from fraud_brain.cli import app
from fraud_brain.features import bundled_spec
from fraud_brain.schema.validate import validate
from fraud_brain.sim.cards import FILES, SCENARIOS, CardConfig, CardWorld, simulate_cards

CONFIG = CardConfig(n_customers=300, n_terminals=600, days=61, seed=7)


@pytest.fixture(scope="module")
def world() -> CardWorld:
    return simulate_cards(CONFIG)


def _with_truth(world: CardWorld) -> pl.DataFrame:
    return world.card_tx.join(world.truth_tx, on="tx_id")


def test_same_seed_same_world_other_seed_other_world(world: CardWorld) -> None:
    again = simulate_cards(CONFIG)
    for name in FILES:
        assert getattr(world, name).equals(getattr(again, name)), name
    other = simulate_cards(CardConfig(n_customers=300, n_terminals=600, days=61, seed=8))
    assert not other.card_tx.equals(world.card_tx)


def test_records_validate_against_the_card_spec(world: CardWorld) -> None:
    spec = bundled_spec("card")
    for frame, kind in ((world.card_tx, "card_tx"), (world.fraud_reports, "fraud_report"), (world.labels, "label")):
        result = validate(frame, spec.record_schema(kind))
        assert result.ok, result.messages()[:3]
        assert result.valid.height == frame.height
    assert world.card_tx["time"].is_sorted() and world.card_tx["tx_id"].n_unique() == world.card_tx.height
    assert world.card_tx["time"].min().date() == CONFIG.start
    assert (world.card_tx["time"].max().date() - CONFIG.start) < timedelta(days=CONFIG.days)


def test_every_scenario_is_present_and_prevalence_is_near_the_handbook(world: CardWorld) -> None:
    counts = world.scenario_counts()
    assert set(counts) == set(SCENARIOS) and all(n > 0 for n in counts.values()), counts
    frauds = int(world.truth_tx["is_fraud"].sum())
    assert sum(counts.values()) == frauds
    assert world.prevalence == pytest.approx(frauds / world.card_tx.height)
    assert 0.002 < world.prevalence < 0.03


def test_amount_scenario_every_payment_above_the_threshold_is_fraud(world: CardWorld) -> None:
    tx = _with_truth(world)
    assert tx.filter(pl.col("amount") > CONFIG.amount_threshold)["is_fraud"].all()
    assert tx.filter(pl.col("scenario") == "amount")["amount"].min() > CONFIG.amount_threshold


def test_terminal_scenario_a_compromised_terminal_is_fraudulent_for_28_days(world: CardWorld) -> None:
    once = world.truth_terminals.filter(pl.col("times_compromised") == 1)
    assert once.height > 0
    tx = _with_truth(world).join(once.select("terminal_id", "first_compromised"), on="terminal_id")
    inside = (pl.col("time") >= pl.col("first_compromised")) & (
        pl.col("time") < pl.col("first_compromised") + timedelta(days=CONFIG.terminal_fraud_days)
    )
    assert tx.filter(inside)["is_fraud"].all() and tx.filter(inside).height > 0
    # outside its window, a terminal's payments are fraud only by another scenario
    assert (tx.filter(~inside & pl.col("is_fraud"))["scenario"] != "terminal").all()


def test_card_scenario_a_compromised_card_overspends_for_14_days(world: CardWorld) -> None:
    customers = world.truth_customers.filter(pl.col("times_compromised") == 1)
    tx = _with_truth(world).join(customers.select("customer_id", "first_compromised", "mean_amount"), on="customer_id")
    stolen = tx.filter(pl.col("scenario") == "card")
    assert stolen.height > 0
    assert ((stolen["time"] >= stolen["first_compromised"])
            & (stolen["time"] < stolen["first_compromised"] + timedelta(days=CONFIG.card_fraud_days))).all()
    legit = tx.filter(~pl.col("is_fraud"))
    assert stolen["amount"].median() > 3 * legit["amount"].median()
    # no customer outside the compromised ones has card frauds
    never = world.truth_customers.filter(pl.col("times_compromised") == 0)["customer_id"]
    assert _with_truth(world).filter(
        pl.col("customer_id").is_in(never.implode()) & (pl.col("scenario") == "card")
    ).is_empty()


def test_fraud_reports_name_real_frauds_with_their_terminal_after_a_delay(world: CardWorld) -> None:
    reports = world.fraud_reports.join(
        _with_truth(world).rename({"customer_id": "tx_customer", "terminal_id": "tx_terminal"}), on="tx_id"
    )
    assert reports.height == world.fraud_reports.height > 0
    assert reports["is_fraud"].all() and reports["reported"].all()
    assert (reports["terminal_id"] == reports["tx_terminal"]).all()
    assert (reports["customer_id"] == reports["tx_customer"]).all()
    delay = (reports["known_at"] - reports["time"]).dt.total_hours()
    assert delay.min() >= 1 and 24 < delay.median() < 24 * 10
    end = world.card_tx["time"].min().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=CONFIG.days)
    assert reports["known_at"].max() < end
    assert world.fraud_reports.height < int(world.truth_tx["is_fraud"].sum())


def test_labels_name_transactions_customers_and_terminals_with_provenance(world: CardWorld) -> None:
    labels = world.labels
    assert set(labels["entity_type"].unique()) == {"tx", "customer", "terminal"}
    tx = labels.filter(pl.col("entity_type") == "tx").join(
        world.truth_tx.rename({"tx_id": "entity_id", "is_fraud": "truly"}), on="entity_id"
    )
    assert (tx["is_fraud"] == tx["truly"]).all() and (~tx["is_fraud"]).sum() > 0
    assert set(tx.filter(pl.col("scenario") == "card")["source"]) == {"victim_report"}
    assert set(tx.filter(pl.col("is_fraud") & (pl.col("scenario") != "card"))["source"]) == {"bank"}
    reported = labels.filter((pl.col("entity_type") == "tx") & pl.col("is_fraud"))
    assert sorted(reported["entity_id"]) == sorted(world.fraud_reports["tx_id"])
    compromised_customers = world.truth_customers.filter(pl.col("times_compromised") > 0)["customer_id"]
    compromised_terminals = world.truth_terminals.filter(pl.col("times_compromised") > 0)["terminal_id"]
    assert labels.filter(pl.col("entity_type") == "customer")["entity_id"].is_in(compromised_customers.implode()).all()
    assert labels.filter(pl.col("entity_type") == "terminal")["entity_id"].is_in(compromised_terminals.implode()).all()
    assert labels["label_id"].n_unique() == labels.height and labels["known_at"].is_sorted()


def test_a_bad_setting_is_an_input_error() -> None:
    from fraud_brain.errors import InputError

    with pytest.raises(InputError, match="days"):
        CardConfig(days=0).check()
    with pytest.raises(InputError, match="report_share"):
        simulate_cards(CardConfig(report_share=2.0))


def test_simulate_world_card_writes_what_the_card_spec_replays(tmp_path: Path) -> None:
    out = tmp_path / "cards"
    args = ["simulate", "--world", "card", "--out", str(out), "--customers", "300", "--terminals", "600",
            "--days", "61", "--seed", "7"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.parquet" for name in FILES)
    expected = simulate_cards(CONFIG)
    assert f"Fraud prevalence {expected.prevalence:.3%}" in result.output
    assert pl.read_parquet(out / "card_tx.parquet").equals(expected.card_tx)
    replayed = CliRunner().invoke(app, ["features", "replay", str(out), "--spec", "card", "--out", str(tmp_path / "f")])
    assert replayed.exit_code == 0, replayed.output
    features = pl.read_parquet(tmp_path / "f" / "tx_features.parquet")
    assert features.height == expected.card_tx.height
    spec = bundled_spec("card")
    from_reports = [read.prefix + window.suffix() for agg in spec.aggregates if agg.stream == "fraud_report"
                    for read in agg.reads if read.stream == "tx" for window in agg.windows]
    assert from_reports and max(features[name].max() for name in from_reports) > 0  # the reports reach the payments


def test_simulate_world_card_rejects_telecom_options(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--world", "card", "--out", str(tmp_path), "--subscribers", "500"])
    assert result.exit_code == 2 and "--subscribers" in result.output
    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path), "--customers", "500"])
    assert result.exit_code == 2 and "--customers" in result.output
    result = CliRunner().invoke(app, ["simulate", "--world", "card", "--out", str(tmp_path), "--preset", "drift"])
    assert result.exit_code == 2 and "drift" in result.output


def test_payment_amounts_follow_each_customers_profile(world: CardWorld) -> None:
    legit = _with_truth(world).filter(~pl.col("is_fraud")).group_by("customer_id").agg(
        pl.col("amount").mean().alias("mean"), pl.len()
    ).join(world.truth_customers, on="customer_id").filter(pl.col("len") >= 30)
    assert np.corrcoef(legit["mean"].to_numpy(), legit["mean_amount"].to_numpy())[0, 1] > 0.9
