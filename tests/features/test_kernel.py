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


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.integers(0, 40), max_size=200), probes=st.lists(st.integers(0, 50), max_size=100))
def test_join_index_finds_the_last_row_of_each_key(keys: list[int], probes: list[int]) -> None:
    table, mask = K.build_index(np.array(keys, np.uint64))
    last = {k: i for i, k in enumerate(keys) if k != 0}
    got = K.lookup_rows(table, mask, np.array(probes, np.uint64))
    assert got.tolist() == [last.get(p, -1) for p in probes]


@settings(max_examples=30, deadline=None)
@given(stored=st.lists(st.integers(1, 2**64 - 1), max_size=100, unique=True),
       probe=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=60), col=st.integers(0, 2))
def test_missing_in_column_is_missing_mask_of_that_column(stored: list[int], probe: list[int], col: int) -> None:
    cap = 512
    table, count = np.zeros(2 * cap, np.uint64), np.zeros(1, np.int64)
    for h in stored:
        K.set_insert(table, 0, cap - 1, count, 0, np.uint64(h))
    block = np.zeros((len(probe), 3), np.uint64)
    block[:, col] = np.array(probe, np.uint64)
    block[:, (col + 1) % 3] = np.uint64(5)
    want = K.missing_mask(table, 0, cap - 1, np.ascontiguousarray(block[:, col]))
    assert K.missing_in_column(table, 0, cap - 1, block, col).tolist() == want.tolist()
    assert want.tolist() == [p != 0 and p not in set(stored) for p in probe]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 30), width=st.integers(0, 4), seed=st.integers(0, 1000))
def test_scatter_and_gather_equal_numpy_fancy_indexing(n: int, width: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.permutation(n)
    src = rng.random((n, width))
    dst = np.zeros((n, width + 2))
    K.scatter_rows(dst, rows, src)
    want = np.zeros((n, width + 2))
    want[rows, :width] = src
    assert np.array_equal(dst, want)
    cols = rng.integers(0, width + 2, size=3)
    take = rows[: n // 2]
    assert np.array_equal(K.gather_columns(dst, take, cols), dst[take][:, cols].T)


@settings(max_examples=50, deadline=None)
@given(entries=st.dictionaries(st.integers(1, 2**64 - 1), st.integers(-10**6, 10**6), max_size=200),
       threshold=st.integers(-10**6, 10**6))
def test_seen_rebuild_keeps_exactly_the_ids_at_or_above_the_threshold(entries: dict[int, int], threshold: int) -> None:
    cap = 512
    seen, count = np.zeros(2 * cap, np.uint64), np.zeros(1, np.int64)
    ids = np.array(list(entries), np.uint64)
    times = np.array(list(entries.values()), np.int64)
    status, _ = K.judge_arrivals(times, ids, seen, cap - 1, count, K.NONE_TIME, K.NONE_TIME, K.NONE_TIME)
    assert status.tolist() == [0] * len(entries) and int(count[0]) == len(entries)
    live = {h: t for h, t in entries.items() if t >= threshold}
    assert K.seen_live(seen, threshold) == len(live)
    new = np.zeros(2 * 256, np.uint64)
    assert K.seen_rebuild(seen, new, 255, threshold) == len(live)
    for h, t in entries.items():
        got = int(K.table_lookup(new, 0, 255, np.uint64(h)))
        assert got == (t if h in live else -1)
