"""Labels arrive after the event, late (hours to weeks), not always, and sometimes clear."""

from __future__ import annotations

import numpy as np
import polars as pl

from fraud_brain.sim import SimConfig, World, simulate
from fraud_brain.sim.labels import label_delay_ms


def test_transfer_labels_are_known_after_the_transfer(world: World) -> None:
    labels = world.labels.filter(pl.col("entity_type") == "transfer").join(
        world.transfers.select(pl.col("transfer_id").alias("entity_id"), "time"), on="entity_id"
    )
    assert labels.height > 0
    assert (labels["known_at"] > labels["time"]).all()


def test_number_and_account_labels_are_known_after_first_activity(world: World) -> None:
    first_call = world.calls.group_by(pl.col("caller").alias("entity_id")).agg(
        pl.col("start_time").min().alias("first")
    )
    numbers = world.labels.filter(pl.col("entity_type") == "number").join(first_call, on="entity_id")
    assert numbers.height == world.labels.filter(pl.col("entity_type") == "number").height
    assert (numbers["known_at"] > numbers["first"]).all()
    first_in = world.transfers.group_by(pl.col("payee_account").alias("entity_id")).agg(
        pl.col("time").min().alias("first")
    )
    accounts = world.labels.filter(pl.col("entity_type") == "account").join(first_in, on="entity_id")
    assert accounts.height > 0
    assert (accounts["known_at"] > accounts["first"]).all()


def test_delays_span_hours_to_weeks(small_world: World) -> None:
    labels = small_world.labels.filter((pl.col("entity_type") == "transfer") & pl.col("is_fraud")).join(
        small_world.transfers.select(pl.col("transfer_id").alias("entity_id"), "time"), on="entity_id"
    )
    hours = (labels["known_at"] - labels["time"]).dt.total_hours()
    assert hours.min() < 6
    assert hours.max() > 7 * 24
    assert 6 < hours.median() < 24 * 7


def test_not_every_scam_is_labelled_and_some_labels_clear(world: World) -> None:
    victim_ids = world.truth_transfers.filter(pl.col("kind") == "victim")["transfer_id"]
    labelled = world.labels.filter(pl.col("entity_type") == "transfer")["entity_id"]
    share = victim_ids.is_in(labelled.implode()).mean()
    assert 0.3 < share < 0.9
    cleared = world.labels.filter(~pl.col("is_fraud"))
    assert cleared.height > 0
    truth = cleared.filter(pl.col("entity_type") == "transfer").join(
        world.truth_transfers.select(pl.col("transfer_id").alias("entity_id"), "is_scam"), on="entity_id"
    )
    assert not truth["is_scam"].any()
    assert set(world.labels["source"].unique().to_list()) >= {"victim_report", "agent", "bank", "telecom"}


def test_fraud_labels_agree_with_the_ground_truth(world: World) -> None:
    fraud = world.labels.filter(pl.col("is_fraud"))
    transfers = fraud.filter(pl.col("entity_type") == "transfer").join(
        world.truth_transfers.select(pl.col("transfer_id").alias("entity_id"), "is_scam"), on="entity_id"
    )
    assert transfers["is_scam"].all()
    scam_entities = world.truth_entities["entity_id"]
    others = fraud.filter(pl.col("entity_type") != "transfer")
    assert others["entity_id"].is_in(scam_entities.implode()).all()


def test_no_labels_beyond_the_horizon() -> None:
    config = SimConfig.preset("sample", n_subscribers=800, days=3, label_horizon_days=0)
    world = simulate(config)
    assert world.labels["known_at"].dt.epoch("ms").max() < config.end_ms


def test_label_delay_median_follows_the_setting() -> None:
    rng = np.random.default_rng(0)
    delays = label_delay_ms(rng, 20_000, 48.0) / 3_600_000
    assert 40 < np.median(delays) < 56
    assert delays.min() >= 1.0
