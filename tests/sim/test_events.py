"""Vectorized event helpers, checked against plain-loop reference implementations."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.schema.records import CHANNELS, DISPOSITIONS
from fraud_brain.sim.events import ANSWERED, call_batch, choice_codes, concat, expand, select, talk
from fraud_brain.sim.scams import _escalating, _segment_cumsum

counts_strategy = st.lists(st.integers(0, 6), min_size=0, max_size=30)


def reference_expand(counts: list[int]) -> tuple[list[int], list[int]]:
    owners, positions = [], []
    for owner, count in enumerate(counts):
        for position in range(count):
            owners.append(owner)
            positions.append(position)
    return owners, positions


@settings(max_examples=200, deadline=None)
@given(counts_strategy)
def test_expand_matches_a_loop(counts: list[int]) -> None:
    owner, position = expand(np.array(counts, dtype=np.int64))
    assert (owner.tolist(), position.tolist()) == reference_expand(counts)


@settings(max_examples=200, deadline=None)
@given(counts_strategy, st.randoms(use_true_random=False))
def test_segment_cumsum_matches_a_loop(counts: list[int], random) -> None:
    values = [random.uniform(-5, 5) for _ in range(sum(counts))]
    expected, i = [], 0
    for count in counts:
        running = 0.0
        for _ in range(count):
            running += values[i]
            expected.append(running)
            i += 1
    got = _segment_cumsum(np.array(values, dtype=np.float64), np.array(counts, dtype=np.int64))
    assert np.allclose(got, expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=20), st.integers(0, 2**31))
def test_escalating_amounts_never_decrease_within_an_episode(steps: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(steps)
    amounts = _escalating(
        rng, rng.uniform(50, 500, n), np.full(n, 1.2), np.full(n, 2.5), np.array(steps), 80_000
    )
    owner, _ = expand(np.array(steps))
    for episode in range(n):
        mine = amounts[owner == episode]
        assert (np.diff(mine) >= 0).all()
        assert mine.max() <= 80_000


def test_talk_gives_zero_seconds_exactly_when_unanswered() -> None:
    disposition, seconds = talk(np.random.default_rng(3), 5000, 0.6, 120, 1.0)
    answered = disposition == ANSWERED
    assert 0.55 < answered.mean() < 0.65
    assert (seconds[~answered] == 0).all() and (seconds[answered] >= 3).all()
    assert set(np.unique(disposition).tolist()) <= set(range(len(DISPOSITIONS)))


def test_choice_codes_follow_weights() -> None:
    codes = choice_codes(np.random.default_rng(0), 10_000, {"atm": 3.0, "counter": 1.0}, CHANNELS)
    assert 0.72 < (codes == CHANNELS.index("atm")).mean() < 0.78
    assert set(codes.tolist()) == {CHANNELS.index("atm"), CHANNELS.index("counter")}


def test_concat_keeps_keys_of_empty_batches_and_select_filters() -> None:
    empty = call_batch(np.empty(0), np.empty(0), np.empty(0), "family", np.empty(0), np.empty(0))
    joined = concat([empty, empty])
    assert joined["t"].size == 0 and set(joined) == set(empty)
    batch = call_batch(
        np.arange(4), np.arange(4), np.arange(4), "episode", np.full(4, 60), np.zeros(4), episode=7
    )
    picked = select(batch, batch["t"] % 2 == 0)
    assert picked["t"].tolist() == [0, 2] and picked["episode"].tolist() == [7, 7] and picked["scam"].all()
