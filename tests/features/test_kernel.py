"""Kernel pieces with a stated contract: the distinct-count error and the hash table."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.features import kernel as K
from fraud_brain.features.engine import hash_columns


def test_distinct_count_error_matches_the_stated_bound() -> None:
    trials = 80
    for bits, bound in ((64, 0.11), (128, 0.08), (1024, 0.03)):
        for n in (10, bits // 2, bits):
            values = pl.DataFrame({"v": [f"b{bits}_n{n}_{i}" for i in range(trials * n)]})
            positions = ((hash_columns(values, ("v",)) >> np.uint64(11)) % np.uint64(bits)).reshape(trials, n)
            estimates = np.array([K.linear_count(len(set(row.tolist())), bits) for row in positions])
            errors = estimates / n - 1
            rmse = float(np.sqrt(np.mean(np.square(errors))))
            assert rmse < bound * 1.25, (bits, n, rmse)
            assert abs(float(np.mean(errors))) < bound / 2, (bits, n)


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.integers(1, 2**64 - 1), max_size=300))
def test_hash_table_is_a_map_from_keys_to_dense_slots(keys: list[int]) -> None:
    cap = 1024
    table, count = np.zeros(2 * cap, np.uint64), np.zeros(1, np.int64)
    slots = {}
    for key in keys:
        slot = int(K.set_insert(table, 0, cap - 1, count, 0, np.uint64(key)))
        assert slots.setdefault(key, slot) == slot
    assert sorted(slots.values()) == list(range(len(slots)))
    bigger = np.zeros(4 * cap, np.uint64)
    K.rehash(table, bigger, 2 * cap - 1)
    for key, slot in slots.items():
        assert K.table_lookup(bigger, 0, 2 * cap - 1, np.uint64(key)) == slot
    assert K.table_lookup(bigger, 0, 2 * cap - 1, np.uint64(12345678901234567)) in (-1, slots.get(12345678901234567))
