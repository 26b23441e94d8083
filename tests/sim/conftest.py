"""Worlds shared by the simulator tests (each is built once per session; they take well under a second)."""

from __future__ import annotations

import polars as pl
import pytest

from fraud_brain.sim import SimConfig, World, simulate


@pytest.fixture(scope="session")
def world() -> World:
    """The ``sample`` preset exactly as committed to data/sample (seed 7)."""
    return simulate(SimConfig.preset("sample"))


@pytest.fixture(scope="session")
def small_world() -> World:
    """A smaller, longer world with drift, so both tactic regimes have many events."""
    return simulate(SimConfig.preset("sample", n_subscribers=4_000, days=14, seed=11))


def victim_transfers(world: World, typology: str) -> pl.DataFrame:
    """Victims' payments of one typology, with their episode and ground truth."""
    return (
        world.transfers.join(world.truth_transfers, on="transfer_id")
        .filter((pl.col("kind") == "victim") & (pl.col("typology") == typology))
        .sort("time")
    )


def episode_calls(world: World, typology: str) -> pl.DataFrame:
    """Ring → victim calls of one typology, with their episode."""
    return (
        world.calls.join(world.truth_calls, on="call_id")
        .filter((pl.col("kind") == "episode") & (pl.col("typology") == typology))
        .sort("start_time")
    )


@pytest.fixture(scope="session")
def app_world() -> World:
    """A small world whose rings move to chat apps on day 6 (drift_strength 0.85)."""
    return simulate(SimConfig.preset("drift", n_subscribers=4_000, days=12, drift_day=6, seed=5))
