"""Online learning: the delayed-label store, point-in-time replay, river models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.scoring.online import (
    AnomalyScorer,
    CountingLearner,
    DelayedLabelStore,
    OnlineModel,
    replay_online,
)


def test_store_evicts_oldest_and_counts_it():
    store = DelayedLabelStore(n_features=1, capacity=3)
    store.remember(["a", "b", "c", "d"], np.arange(4), np.arange(4.0).reshape(-1, 1))
    assert len(store) == 3 and store.evicted == 1
    keys, X, times = store.take(["a", "b", "d"])
    assert keys == ["b", "d"] and X.ravel().tolist() == [1.0, 3.0] and times.tolist() == [1, 3]
    assert store.take(["b"])[0] == []


def test_store_keeps_the_latest_row_of_a_remembered_key():
    store = DelayedLabelStore(n_features=1, capacity=10)
    store.remember(["n1", "n2", "n1"], np.array([1, 2, 3]), np.array([[1.0], [2.0], [3.0]]))
    assert len(store) == 2
    keys, X, times = store.take_older_than(10)
    assert keys == ["n2", "n1"] and X.ravel().tolist() == [2.0, 3.0] and times.tolist() == [2, 3]


def test_store_take_older_than_stops_at_the_cutoff_and_survives_wraparound():
    store = DelayedLabelStore(n_features=1, capacity=4)
    for t in range(10):
        store.remember([f"e{t}"], np.array([t]), np.array([[float(t)]]))
        if t % 3 == 2:
            store.take_older_than(t - 2)
    keys, _, times = store.take_older_than(8)
    assert keys == ["e7", "e8"] and times.tolist() == [7, 8]
    assert store.take_older_than(100)[0] == ["e9"]


events_strategy = st.lists(st.integers(0, 200), min_size=1, max_size=60).map(sorted)


@st.composite
def history(draw):
    times = draw(events_strategy)
    n = len(times)
    labelled = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    delays = draw(st.lists(st.integers(0, 80), min_size=len(labelled), max_size=len(labelled)))
    values = draw(st.lists(st.booleans(), min_size=len(labelled), max_size=len(labelled)))
    ghost = draw(st.booleans())
    label_keys = [f"e{i}" for i in labelled] + (["ghost"] if ghost else [])
    label_at = [times[i] + d for i, d in zip(labelled, delays, strict=True)] + ([50] if ghost else [])
    label_values = [int(v) for v in values] + ([1] if ghost else [])
    return times, label_keys, label_at, label_values


def _reference_counts(times, label_keys, label_at, learn_every):
    """Slow and obvious: an event sees every label whose learning moment is <= its time,
    provided the labelled event had been scored before that moment."""
    time_of = {f"e{i}": t for i, t in enumerate(times)}
    moments = [a if learn_every is None else -(-a // learn_every) * learn_every for a in label_at]
    counts = []
    for t in times:
        seen = 0
        for key, moment in zip(label_keys, moments, strict=True):
            if key in time_of and moment <= t and time_of[key] < moment:
                seen += 1
        counts.append(seen)
    return counts


@settings(max_examples=150, deadline=None)
@given(history(), st.sampled_from([None, 1, 7, 25]))
def test_replay_uses_each_label_only_once_known(case, learn_every):
    times, label_keys, label_at, label_values = case
    keys = [f"e{i}" for i in range(len(times))]
    X = np.arange(len(times), dtype=np.float64).reshape(-1, 1)
    scores, log = replay_online(
        keys, np.array(times), X, label_keys, np.array(label_at), np.array(label_values),
        CountingLearner(), learn_every=learn_every, max_batch=7,
    )
    assert scores.tolist() == _reference_counts(times, label_keys, label_at, learn_every)
    assert log.n_learned + log.labels_unmatched == len(label_keys)
    known_at = dict(zip(label_keys, label_at, strict=True))
    value_of = dict(zip(label_keys, label_values, strict=True))
    for moment, learned, y in zip(log.learned_at, log.learned_keys, log.learned_labels, strict=True):
        for key, value in zip(learned, y.tolist(), strict=True):
            assert known_at[key] <= moment and value == value_of[key]


@settings(max_examples=120, deadline=None)
@given(history(), st.sampled_from([1, 10, 30]), st.integers(0, 60))
def test_replay_learns_unlabelled_events_as_negatives_only_after_the_delay(case, learn_every, negative_after):
    times, label_keys, label_at, label_values = case
    keys = [f"e{i}" for i in range(len(times))]
    X = np.arange(len(times), dtype=np.float64).reshape(-1, 1)
    scores, log = replay_online(
        keys, np.array(times), X, label_keys, np.array(label_at), np.array(label_values),
        CountingLearner(), learn_every=learn_every, negative_after=negative_after,
    )
    time_of = dict(zip(keys, times, strict=True))
    known_at = dict(zip(label_keys, label_at, strict=True))
    learned_once: set[str] = set()
    for moment, learned, y in zip(log.learned_at, log.learned_keys, log.learned_labels, strict=True):
        for key, value in zip(learned, y.tolist(), strict=True):
            assert key not in learned_once
            learned_once.add(key)
            assert time_of[key] < moment or (time_of[key] <= moment - negative_after)
            from_label = key in known_at and known_at[key] <= moment
            assert from_label or (value == 0 and time_of[key] + negative_after <= moment)
    # each event saw exactly what had been learned at moments up to its own time
    for t, score in zip(times, scores.tolist(), strict=True):
        expected = sum(len(k) for m, k in zip(log.learned_at, log.learned_keys, strict=True) if m <= t)
        assert score == expected


def test_replay_refuses_unsorted_events():
    with pytest.raises(ValueError, match="sorted by time"):
        replay_online(["a", "b"], np.array([5, 1]), np.zeros((2, 1)), [], np.array([]), np.array([]), CountingLearner())


def test_online_model_learns_and_single_row_path_agrees_with_batch():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] - X[:, 2] > 1).astype(int)
    model = OnlineModel(["a", "b", "c"], learning_rate=0.2)
    assert model.predict_proba(X[:2]).tolist() == [0.5, 0.5]
    for start in range(0, 3000, 300):
        model.learn(X[start : start + 300], y[start : start + 300])
    test = rng.normal(size=(200, 3))
    batch = model.predict_proba(test)
    single = [model.predict_proba_one(row) for row in test]
    np.testing.assert_allclose(batch, single, rtol=1e-9)
    truth = test[:, 0] - test[:, 2] > 1
    assert batch[truth].mean() > batch[~truth].mean() + 0.3
    assert model.n_learned == 3000 and model.n_positive == int(y.sum())


def test_anomaly_scorer_ranks_outliers_higher_and_needs_limits():
    rng = np.random.default_rng(2)
    normal = rng.normal(size=(1000, 3))
    with pytest.raises(RuntimeError, match="fit_limits"):
        AnomalyScorer(["a", "b", "c"]).score(normal[:1])
    scorer = AnomalyScorer(["a", "b", "c"], window_size=100).fit_limits(normal)
    scorer.score_learn(normal)
    outliers = rng.normal(size=(50, 3)) + 5
    assert scorer.score(outliers).mean() > scorer.score(rng.normal(size=(50, 3))).mean()


@st.composite
def store_operations(draw):
    step = st.tuples(st.sampled_from(["remember", "take", "older"]), st.integers(0, 12), st.integers(0, 5))
    steps = draw(st.lists(step, max_size=40))
    return draw(st.integers(1, 8)), steps


@settings(max_examples=200, deadline=None)
@given(store_operations())
def test_store_matches_a_plain_reference(case):
    """Against an obviously-correct list of (key, time, value) with the same eviction rule."""
    capacity, steps = case
    store = DelayedLabelStore(n_features=1, capacity=capacity)
    reference: list[tuple[str, int, float]] = []  # live rows, oldest first
    slots_used: list[str | None] = []  # every remember takes the next ring slot
    clock = 0
    for op, a, b in steps:
        if op == "remember":
            keys = [f"k{(a + i) % 7}" for i in range(b)]
            times = np.arange(clock, clock + b)
            clock += b
            store.remember(keys, times, times.astype(float).reshape(-1, 1))
            for key, t in zip(keys, times.tolist(), strict=True):
                slots_used.append(key)
                if len(slots_used) > capacity:  # the oldest slot is overwritten
                    gone = len(slots_used) - capacity - 1
                    reference = [r for r in reference if r[1] != gone]
                reference = [r for r in reference if r[0] != key] + [(key, t, float(t))]
        elif op == "take":
            wanted = [f"k{(a + i) % 7}" for i in range(b)]
            keys, X, _ = store.take(wanted)
            expected = [r for r in reference if r[0] in set(wanted)]
            assert sorted(keys) == sorted(r[0] for r in expected)
            assert sorted(X.ravel().tolist()) == sorted(r[2] for r in expected)
            reference = [r for r in reference if r[0] not in set(wanted)]
        else:
            cutoff = clock - a
            keys, _, times = store.take_older_than(cutoff)
            expected = [r for r in reference if r[1] <= cutoff]
            assert keys == [r[0] for r in expected] and times.tolist() == [r[1] for r in expected]
            reference = [r for r in reference if r[1] > cutoff]
        assert len(store) == len(reference)


def test_negative_sampling_learns_a_share_of_negatives_with_weight():
    class WeightLog(CountingLearner):
        def __init__(self):
            super().__init__()
            self.weights: list[np.ndarray] = []

        def learn(self, X, y, weight=1.0):
            super().learn(X, y, weight)
            self.weights.append(np.broadcast_to(np.asarray(weight, dtype=float), (len(y),)))

    n = 4000
    learner = WeightLog()
    _, log = replay_online([f"e{i}" for i in range(n)], np.arange(n), np.zeros((n, 1)), [], np.array([]), np.array([]),
                           learner, learn_every=10, negative_after=5, negative_sample=0.25)
    assert 0.2 * n < log.n_learned < 0.3 * n
    assert np.unique(np.concatenate(learner.weights)).tolist() == [4.0]
    with pytest.raises(ValueError, match="negative_sample"):
        replay_online(
            ["a"], np.array([0]), np.zeros((1, 1)), [], np.array([]), np.array([]), CountingLearner(), negative_sample=0
        )


@settings(max_examples=100, deadline=None)
@given(history(), st.sampled_from([None, 10]))
def test_live_learner_driven_in_time_order_matches_replay(case, negative_after):
    """The live loop (observe / learn_labels / learn_matured) against replay_online."""
    from fraud_brain.scoring.online import OnlineLearner

    times, label_keys, label_at, label_values = case
    keys = [f"e{i}" for i in range(len(times))]
    X = np.arange(len(times), dtype=np.float64).reshape(-1, 1)
    expected, _ = replay_online(keys, np.array(times), X, label_keys, np.array(label_at), np.array(label_values),
                                CountingLearner(), learn_every=5, negative_after=negative_after)
    live = OnlineLearner(CountingLearner(), n_features=1, negative_after=negative_after)
    moments = sorted({-(-a // 5) * 5 for a in label_at} | set(range(times[0] // 5 * 5, times[-1] + 5, 5)))
    scores = np.empty(len(times))
    done = 0
    for i, t in enumerate(times):
        while done < len(moments) and moments[done] <= t:
            moment = moments[done]
            due = [
                (k, v)
                for k, a, v in zip(label_keys, label_at, label_values, strict=True)
                if -(-a // 5) * 5 == moment
            ]
            if due:
                live.learn_labels([k for k, _ in due], np.array([v for _, v in due]))
            live.learn_matured(moment)
            done += 1
        scores[i] = live.observe([keys[i]], np.array([t]), X[i : i + 1])[0]
    # without negatives replay stops only at label moments; the extra grid moments here are no-ops
    assert scores.tolist() == expected.tolist()


def test_a_saved_learner_continues_with_its_model_and_pending_rows(tmp_path):
    from fraud_brain.scoring.online import OnlineLearner

    learner = OnlineLearner(OnlineModel(["a", "b"]), n_features=2, negative_after=10, capacity=5)
    learner.observe([f"e{i}" for i in range(8)], np.arange(8), np.arange(16, dtype=float).reshape(8, 2))
    learner.learn_labels(["e4"], np.array([1]))
    learner.save(tmp_path / "l")
    again = OnlineLearner(OnlineModel(["a", "b"]), n_features=2, negative_after=10, capacity=5)
    assert again.load(tmp_path / "l")
    assert (len(again.pending), again.n_learned, again.pending.evicted) == (4, 1, learner.pending.evicted)
    before, after = learner.pending.take_older_than(100), again.pending.take_older_than(100)
    assert before[0] == after[0] == ["e3", "e5", "e6", "e7"]
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[2], after[2])
    assert again.model.n_learned == 1
    other = OnlineLearner(OnlineModel(["a"]), n_features=1)
    assert not other.load(tmp_path / "l")  # rows of another width are not taken
