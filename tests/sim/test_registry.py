"""Every phone number, account and device in a world is distinct and well formed."""

from __future__ import annotations

import numpy as np
import polars as pl

from fraud_brain.schema.records import ID_PATTERN, PHONE_PATTERN
from fraud_brain.sim.registry import Registry


def test_numbers_are_distinct_across_types_and_calls() -> None:
    registry = Registry(np.random.default_rng(0))
    for _ in range(3):
        registry.add_numbers(5_000, "mobile", "resident")
        registry.add_numbers(500, "voip", "scam_voip", listed=False)
        registry.add_numbers(500, "fixed", "business")
        registry.add_numbers(300, "international", "scam_international", listed=False)
        registry.add_numbers(100, "international", "wangiri", listed=False)
    registry.add_hotlines()
    phones = registry.phone_strings()
    assert phones.n_unique() == phones.len() == registry.n_numbers
    assert phones.str.contains(PHONE_PATTERN).all()
    attrs = registry.numbers()
    mobile = phones.filter(pl.Series(attrs["type"] == 0))
    assert mobile.str.len_chars().eq(11).all()


def test_accounts_and_devices_are_distinct_and_valid_ids() -> None:
    registry = Registry(np.random.default_rng(1))
    registry.add_accounts(20_000)
    registry.add_accounts(100, np.zeros(100, dtype=np.int64))
    accounts = registry.account_strings()
    assert accounts.n_unique() == accounts.len() == 20_100
    assert accounts.str.contains(ID_PATTERN).all()
    registry.add_devices(5_000, "phone")
    registry.add_devices(50, "simbox")
    registry.add_devices(500, "pc")
    devices = registry.device_strings()
    assert devices.n_unique() == devices.len()
    assert devices.str.starts_with("pc").sum() == 500


def test_set_number_attribute_reaches_the_right_rows() -> None:
    registry = Registry(np.random.default_rng(2))
    registry.add_numbers(3, "mobile", "resident")
    registry.add_numbers(4, "fixed", "business")
    registry.set_number_attribute("account", np.array([1, 5]), np.array([10, 20]))
    assert registry.numbers()["account"].tolist() == [-1, 10, -1, -1, -1, 20, -1]
