"""Online learning with delayed labels, and an unsupervised anomaly score for cold numbers.

Labels arrive hours to weeks after the event, so the features an event was scored with are
kept (:class:`DelayedLabelStore`, bounded) and joined with its label when the label comes. An
event still unlabelled ``negative_after`` its own time is learned as legitimate then (the
usual convention: no fraud report within the label delay means genuine). :func:`replay_online`
runs this loop over a history in time order and never lets a label, or a matured negative,
reach the model before the moment it became known.

>>> import numpy as np
>>> store = DelayedLabelStore(n_features=2, capacity=3)
>>> store.remember(["a", "b"], np.array([1, 2]), np.array([[1.0, 2.0], [3.0, 4.0]]))
>>> ids, X, times = store.take(["b", "zz"])
>>> ids, X.tolist(), len(store)
(['b'], [[3.0, 4.0]], 1)
"""

from __future__ import annotations

import pickle
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd


class Learner(Protocol):
    """What :func:`replay_online` needs from a model: batch prediction and batch learning."""

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    def learn(self, X: np.ndarray, y: np.ndarray, weight: float | np.ndarray = 1.0) -> None: ...


class DelayedLabelStore:
    """Feature rows kept from scoring time, keyed by event id (or entity), in a bounded ring.

    Remembering a key again replaces its row (per-entity use: the latest features of a calling
    number). When the ring is full the oldest rows are dropped and counted in ``evicted``.
    """

    def __init__(self, n_features: int, capacity: int = 1_000_000) -> None:
        if capacity <= 0:
            raise ValueError(f"store capacity {capacity} must be > 0")
        self.capacity = capacity
        self._X = np.zeros((capacity, n_features), dtype=np.float64)
        self._times = np.zeros(capacity, dtype=np.int64)
        self._keys: list[str | None] = [None] * capacity
        self._slot: dict[str, int] = {}
        # Live rows lie in the circular range of `_span` slots that ends just before `_next`.
        self._next = 0
        self._span = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._slot)

    def remember(self, keys: list[str], times: np.ndarray, X: np.ndarray) -> None:
        """Keep the feature rows of scored events (times as integers, e.g. epoch ms, non-decreasing)."""
        if len(keys) != len(X) or len(keys) != len(times):
            raise ValueError(f"store: {len(keys)} keys, {len(times)} times and {len(X)} rows must match")
        if len(keys) > self.capacity:
            self.evicted += len(keys) - self.capacity
            keys, times, X = keys[-self.capacity :], times[-self.capacity :], X[-self.capacity :]
        n = len(keys)
        if n == 0:
            return
        slots = (self._next + np.arange(n)) % self.capacity
        slot_of = self._slot
        held = self._keys
        for key, slot in zip(keys, slots.tolist(), strict=True):
            old = held[slot]
            if old is not None:
                del slot_of[old]
                self.evicted += 1
            previous = slot_of.get(key)
            if previous is not None:
                held[previous] = None
            held[slot] = key
            slot_of[key] = slot
        self._X[slots] = X
        self._times[slots] = times
        self._next = int(slots[-1] + 1) % self.capacity
        self._span = min(self._span + n, self.capacity)

    def take(self, keys: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Remove and return the rows of those keys that are held (others are skipped)."""
        found, slots = [], []
        for key in keys:
            slot = self._slot.pop(key, None)
            if slot is not None:
                self._keys[slot] = None
                found.append(key)
                slots.append(slot)
        index = np.asarray(slots, dtype=np.int64)
        return found, self._X[index].copy(), self._times[index].copy()

    def take_older_than(self, cutoff: int) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Remove and return every row remembered with a time <= ``cutoff``, oldest first."""
        # Rows are remembered in time order, so the old ones are a prefix of the live range,
        # which is at most two contiguous pieces of the ring.
        start = (self._next - self._span) % self.capacity
        first = self._times[start : min(start + self._span, self.capacity)]
        count = int(np.searchsorted(first, cutoff, side="right"))
        if count == len(first) and self._span > len(first):
            count += int(np.searchsorted(self._times[: self._span - len(first)], cutoff, side="right"))
        positions = (start + np.arange(count)) % self.capacity
        found, slots = [], []
        held = self._keys
        for position in positions.tolist():
            key = held[position]
            if key is not None:
                del self._slot[key]
                held[position] = None
                found.append(key)
                slots.append(position)
        self._span -= count
        index = np.asarray(slots, dtype=np.int64)
        return found, self._X[index].copy(), self._times[index].copy()


CLIP = 5.0
"""Standardised online-model inputs are clipped to [-CLIP, CLIP]."""


class OnlineModel:
    """A river StandardScaler → LogisticRegression pipeline, fed with numpy batches.

    ``positive_weight`` up-weights fraud examples (they are rare). river's ``learn_many`` takes
    one gradient step per call, so a batch is learned in mini-batches of ``mini_batch`` rows.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4000, 2)); y = (X[:, 0] > 1).astype(int)
    >>> model = OnlineModel(["a", "b"])
    >>> for start in range(0, 4000, 500):
    ...     model.learn(X[start:start + 500], y[start:start + 500])
    >>> p = model.predict_proba(np.array([[2.5, 0.0], [-2.5, 0.0]]))
    >>> bool(p[0] > p[1]), model.n_learned
    (True, 4000)
    """

    def __init__(
        self,
        feature_names: list[str],
        learning_rate: float = 0.05,
        l2: float = 1e-4,
        positive_weight: float = 5.0,
        mini_batch: int = 200,
    ) -> None:
        from river import linear_model, optim, preprocessing

        self.feature_names = list(feature_names)
        self.positive_weight = positive_weight
        self.mini_batch = mini_batch
        # river ships no type hints: its objects are Any to the type checker.
        self.scaler: Any = preprocessing.StandardScaler()
        self.classifier: Any = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate), l2=l2)
        self.n_learned = 0
        self.n_positive = 0

    def _frame(self, X: np.ndarray) -> pd.DataFrame:
        clean = np.nan_to_num(np.asarray(X, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        return pd.DataFrame(clean, columns=self.feature_names)

    def _scaled(self, X: np.ndarray) -> pd.DataFrame:
        # The river scaler's own running means and variances, applied in numpy (pandas-side
        # transform and clip cost milliseconds per batch). Heavy-tailed features (amounts)
        # stay extreme after scaling; clipping keeps one outlier from blowing up SGD weights.
        clean = np.nan_to_num(np.asarray(X, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        means = np.array([self.scaler.means.get(n, 0.0) for n in self.feature_names])
        variances = np.array([self.scaler.vars.get(n, 0.0) for n in self.feature_names])
        scale = np.where(variances > 0, np.sqrt(variances), 1.0)
        scaled = np.clip((clean - means) / scale, -CLIP, CLIP)
        scaled[:, variances <= 0] = 0.0
        return pd.DataFrame(scaled, columns=self.feature_names)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Fraud probability per row (0.5 everywhere before any learning)."""
        if len(X) == 0:
            return np.empty(0)
        if self.n_learned == 0:
            return np.full(len(X), 0.5)
        return np.asarray(self.classifier.predict_proba_many(self._scaled(X))[True], dtype=np.float64)

    def predict_proba_one(self, row: np.ndarray) -> float:
        """Fraud probability of one row, without pandas (the single-record path)."""
        if self.n_learned == 0:
            return 0.5
        clean = np.nan_to_num(np.asarray(row, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        scaled = self.scaler.transform_one(dict(zip(self.feature_names, clean.tolist(), strict=True)))
        clipped = {name: min(CLIP, max(-CLIP, value)) for name, value in scaled.items()}
        return float(self.classifier.predict_proba_one(clipped)[True])

    def learn(self, X: np.ndarray, y: np.ndarray, weight: float | np.ndarray = 1.0) -> None:
        """Learn from a batch of labelled rows (``weight``, one or per row, scales them)."""
        if len(X) == 0:
            return
        y = np.asarray(y).astype(bool)
        for start in range(0, len(X), self.mini_batch):
            part = X[start : start + self.mini_batch]
            self.scaler.learn_many(self._frame(part))
            scaled = self._scaled(part)
            labels = pd.Series(y[start : start + self.mini_batch], index=scaled.index)
            scale = weight[start : start + self.mini_batch] if isinstance(weight, np.ndarray) else weight
            weights = pd.Series(np.where(labels, self.positive_weight, 1.0) * scale, index=scaled.index)
            self.classifier.learn_many(scaled, labels, w=weights)
        self.n_learned += len(X)
        self.n_positive += int(y.sum())


class AnomalyScorer:
    """An unsupervised river HalfSpaceTrees score, for calling numbers with little history.

    Feature limits come from a reference batch (1st-99th percentile), so no scaler has to be
    learned; scores are in [0, 1], higher is more anomalous.

    >>> rng = np.random.default_rng(0)
    >>> normal = rng.normal(size=(600, 2))
    >>> scorer = AnomalyScorer(["a", "b"], window_size=100, seed=1).fit_limits(normal)
    >>> _ = scorer.score_learn(normal)
    >>> s = scorer.score(np.array([[0.0, 0.0], [6.0, -6.0]]))
    >>> bool(s[1] > s[0])
    True
    """

    def __init__(
        self, feature_names: list[str], n_trees: int = 15, height: int = 6, window_size: int = 250, seed: int = 7
    ) -> None:
        self.feature_names = list(feature_names)
        self.n_trees, self.height, self.window_size, self.seed = n_trees, height, window_size, seed
        self.model: Any = None  # a river HalfSpaceTrees once the limits are known (river has no type hints)

    def fit_limits(self, X: np.ndarray) -> AnomalyScorer:
        """Set each feature's range from a reference batch and start fresh trees."""
        from river import anomaly

        # missing values are scored as 0, so 0 must lie inside every range
        clean = np.nan_to_num(np.asarray(X, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low = np.minimum(np.percentile(clean, 1, axis=0), 0.0) if len(clean) else np.zeros(X.shape[1])
        high = np.percentile(clean, 99, axis=0) if len(clean) else np.ones(X.shape[1])
        high = np.where(high > low, high, low + 1.0)
        limits: dict[Hashable, tuple[float, float]] = {
            name: (float(lo), float(hi)) for name, lo, hi in zip(self.feature_names, low, high, strict=True)
        }
        self.model = anomaly.HalfSpaceTrees(
            n_trees=self.n_trees, height=self.height, window_size=self.window_size, limits=limits, seed=self.seed
        )
        return self

    def _rows(self, X: np.ndarray) -> list[dict[str, float]]:
        clean = np.nan_to_num(np.asarray(X, dtype=np.float64), nan=0.0)
        return [dict(zip(self.feature_names, row, strict=True)) for row in clean.tolist()]

    def score(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score per row, without learning."""
        if self.model is None:
            raise RuntimeError("AnomalyScorer: call fit_limits() before scoring")
        return np.array([self.model.score_one(row) for row in self._rows(X)], dtype=np.float64)

    def score_learn(self, X: np.ndarray) -> np.ndarray:
        """Score each row, then learn it (the streaming use: test-then-train)."""
        if self.model is None:
            raise RuntimeError("AnomalyScorer: call fit_limits() before scoring")
        out = np.empty(len(X), dtype=np.float64)
        for i, row in enumerate(self._rows(X)):
            out[i] = self.model.score_one(row)
            self.model.learn_one(row)
        return out


@dataclass
class ReplayLog:
    """What :func:`replay_online` learned and when (times as integers like the event times)."""

    learned_at: list[int] = field(default_factory=list)
    learned_keys: list[list[str]] = field(default_factory=list)
    learned_labels: list[np.ndarray] = field(default_factory=list)
    labels_unmatched: int = 0

    @property
    def n_learned(self) -> int:
        """Examples learned in total."""
        return sum(len(k) for k in self.learned_keys)


def replay_online(
    keys: list[str],
    times: np.ndarray,
    X: np.ndarray,
    label_keys: list[str],
    label_known_at: np.ndarray,
    label_values: np.ndarray,
    model: Learner,
    learn_every: int | None = None,
    negative_after: int | None = None,
    capacity: int = 1_000_000,
    max_batch: int = 20_000,
    negative_sample: float = 1.0,
    negative_weight: float | None = None,
    seed: int = 7,
) -> tuple[np.ndarray, ReplayLog]:
    """Score a time-ordered history test-then-train through an :class:`OnlineLearner`, learning
    from labels only once known.

    Events are scored in batches that never straddle a learning moment. Learning moments are
    the label arrival times (``learn_every=None``) or arrival times rounded up to multiples of
    ``learn_every``; at each, labels known by then are joined with the stored features of their
    events, and (with ``negative_after``) events older than that without a label are learned
    as legitimate. A label for an event not (or no longer) in the store is counted unmatched.
    ``negative_sample`` < 1 learns only that share of matured negatives (legitimate events are
    the bulk of the learning cost and carry little news each), each with ``negative_weight``
    (default ``1 / negative_sample``, which keeps the class balance; 1 shifts it toward fraud).

    >>> keys = ["e1", "e2", "e3"]
    >>> scores, log = replay_online(keys, np.array([0, 10, 20]), np.array([[0.0], [1.0], [2.0]]),
    ...     ["e1"], np.array([15]), np.array([1]), CountingLearner())
    >>> scores.tolist(), log.learned_at  # e3 (t=20) is scored after e1's label (known at 15)
    ([0.0, 0.0, 1.0], [15])
    """
    times = np.asarray(times, dtype=np.int64)
    if len(times) > 1 and np.any(np.diff(times) < 0):
        raise ValueError("replay_online: events must be sorted by time")
    learner = OnlineLearner(model, X.shape[1], negative_after, capacity, negative_sample, negative_weight, seed)
    order = np.argsort(np.asarray(label_known_at, dtype=np.int64), kind="stable")
    label_keys = [label_keys[i] for i in order]
    label_at = np.asarray(label_known_at, dtype=np.int64)[order]
    label_values = np.asarray(label_values)[order]
    label_moment = label_at if learn_every is None else -(-label_at // learn_every) * learn_every
    moments = np.unique(label_moment)
    if negative_after is not None and learn_every is not None and len(times):
        grid = np.arange(times[0] // learn_every * learn_every, times[-1] + learn_every, learn_every)
        moments = np.union1d(moments, grid)

    log = ReplayLog()
    scores = np.empty(len(times), dtype=np.float64)
    next_label = 0
    bounds = np.searchsorted(times, moments, side="left")
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(times)]])
    moment_before = np.concatenate([[np.iinfo(np.int64).min], moments])
    for start, end, moment in zip(starts.tolist(), ends.tolist(), moment_before.tolist(), strict=True):
        if moment != np.iinfo(np.int64).min:
            stop = int(np.searchsorted(label_moment, moment, side="right"))
            learned = learner.learn(label_keys[next_label:stop], label_values[next_label:stop], now=moment)
            next_label = stop
            if learned.keys:
                _record(log, moment, learned.keys, learned.y)
        for lo in range(start, end, max_batch):
            hi = min(end, lo + max_batch)
            scores[lo:hi] = learner.observe(keys[lo:hi], times[lo:hi], X[lo:hi])
    log.labels_unmatched = learner.labels_unmatched
    return scores, log


def _record(log: ReplayLog, moment: int, keys: list[str], y: np.ndarray) -> None:
    log.learned_at.append(int(moment))
    log.learned_keys.append(list(keys))
    log.learned_labels.append(y)


class CountingLearner:
    """The simplest learner: predicts how many examples it has learned (for checks and demos)."""

    def __init__(self) -> None:
        self.n = 0

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The number of examples learned so far, for every row."""
        return np.full(len(X), float(self.n))

    def learn(self, X: np.ndarray, y: np.ndarray, weight: float | np.ndarray = 1.0) -> None:
        """Count the examples."""
        self.n += len(X)


@dataclass
class Learned:
    """What one :meth:`OnlineLearner.learn` call taught the model: keys and their 0/1 labels."""

    keys: list[str] = field(default_factory=list)
    y: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    labels: int = 0
    """How many of them were labels (the rest are matured negatives)."""


class OnlineLearner:
    """The one online-learning loop: score and remember events, learn delayed labels and matured negatives.

    ``observe`` scores events and keeps their inputs (``remember`` only keeps them); ``learn``
    joins the labels that arrived with the kept inputs and, with ``negative_after``, learns the
    events unlabelled that long after their time as legitimate, all in one model call.
    :func:`replay_online` (experiments, backtests) and the live brain both drive it, so a
    history replayed and the same events fed live learn the same. The kept rows (pending
    labels) and the model survive a model reload and a restart (:meth:`save`, :meth:`load`).

    >>> learner = OnlineLearner(CountingLearner(), n_features=1, negative_after=100)
    >>> learner.observe(["t1", "t2"], np.array([0, 5]), np.zeros((2, 1))).tolist()
    [0.0, 0.0]
    >>> learner.learn_labels(["t1", "zz"], np.array([1, 1])), learner.learn_matured(now=105)
    (1, 1)
    >>> learner.observe(["t3"], np.array([110]), np.zeros((1, 1))).tolist()
    [2.0]
    >>> len(learner.pending), learner.n_learned
    (1, 2)
    """

    def __init__(
        self,
        model: Learner,
        n_features: int,
        negative_after: int | None = None,
        capacity: int = 1_000_000,
        negative_sample: float = 1.0,
        negative_weight: float | None = None,
        seed: int = 7,
    ) -> None:
        if not 0.0 < negative_sample <= 1.0:
            raise ValueError(f"negative_sample {negative_sample} must be in (0, 1]")
        self.model = model
        self.pending = DelayedLabelStore(n_features, capacity)
        self.negative_after = negative_after
        self.negative_sample = negative_sample
        self.negative_weight = 1.0 / negative_sample if negative_weight is None else negative_weight
        self.labels_unmatched = 0
        self.n_learned = 0
        self._rng = np.random.default_rng(seed)

    @property
    def n_features(self) -> int:
        """Width of the rows this learner keeps and learns."""
        return int(self.pending._X.shape[1])

    def observe(self, keys: list[str], times: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Score events with the current model and keep their inputs for their labels."""
        scores = self.model.predict_proba(X)
        self.remember(keys, times, X)
        return scores

    def remember(self, keys: list[str], times: np.ndarray, X: np.ndarray) -> None:
        """Keep events' inputs for their labels without scoring them (the online part is not blended)."""
        self.pending.remember(keys, np.asarray(times, dtype=np.int64), X)

    def learn(self, keys: list[str], values: np.ndarray, now: int | None = None) -> Learned:
        """Learn the labels whose events are held and, when ``now`` is given, the matured negatives."""
        out = Learned()
        parts: list[tuple[np.ndarray, np.ndarray, float]] = []
        if len(keys):
            value_of = dict(zip(keys, np.asarray(values).tolist(), strict=True))
            found, rows, _ = self.pending.take(list(keys))
            self.labels_unmatched += len(keys) - len(found)
            if found:
                y = np.array([value_of[k] for k in found], dtype=np.int64)
                parts.append((rows, y, 1.0))
                out.keys += found
                out.labels = len(found)
        if now is not None and self.negative_after is not None:
            found, rows, _ = self.pending.take_older_than(now - self.negative_after)
            if found and self.negative_sample < 1.0:
                keep = self._rng.random(len(found)) < self.negative_sample
                found, rows = [k for k, kept in zip(found, keep.tolist(), strict=True) if kept], rows[keep]
            if found:
                parts.append((rows, np.zeros(len(found), dtype=np.int64), self.negative_weight))
                out.keys += found
        if not parts:
            return out
        # Labels and matured negatives of one moment go to the model in one call: river's batch
        # methods cost about a millisecond each in overhead.
        rows = np.concatenate([p[0] for p in parts])
        out.y = np.concatenate([p[1] for p in parts])
        weights = np.concatenate([np.full(len(p[1]), p[2]) for p in parts])
        if np.all(weights == 1.0):
            self.model.learn(rows, out.y)
        else:
            self.model.learn(rows, out.y, weight=weights)
        self.n_learned += len(out.y)
        return out

    def learn_labels(self, keys: list[str], values: np.ndarray) -> int:
        """Learn the labels whose events are held; returns how many were learned."""
        return self.learn(keys, values).labels

    def learn_matured(self, now: int) -> int:
        """Learn events older than ``negative_after`` with no label as legitimate; returns how many."""
        return len(self.learn([], np.empty(0), now=now).keys)

    def save(self, folder: Path) -> None:
        """Write the model and the pending rows (only those held, oldest first) to ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        store = self.pending
        start = (store._next - store._span) % store.capacity
        positions = (start + np.arange(store._span)) % store.capacity
        held = [int(i) for i in positions.tolist() if store._keys[i] is not None]
        keys = np.array([store._keys[i] for i in held], dtype=np.str_)
        np.savez(folder / "pending.npz", X=store._X[held], times=store._times[held], keys=keys,
                 counts=np.array([store.evicted, self.n_learned, self.labels_unmatched], dtype=np.int64))
        with open(folder / "model.pickle", "wb") as out:
            pickle.dump(self.model, out)

    def load(self, folder: Path) -> bool:
        """Continue from what :meth:`save` wrote to ``folder``; False (nothing changed) when there is
        nothing there or it was kept for rows of another width (a model with other features)."""
        if not (folder / "pending.npz").exists():
            return False
        with np.load(folder / "pending.npz") as saved:
            X = saved["X"]
            if X.ndim != 2 or X.shape[1] != self.n_features:
                return False
            store = DelayedLabelStore(self.n_features, self.pending.capacity)
            store.remember([str(k) for k in saved["keys"].tolist()], saved["times"], X)
            store.evicted, self.n_learned, self.labels_unmatched = (int(v) for v in saved["counts"].tolist())
        with open(folder / "model.pickle", "rb") as source:
            # Our own state folder, written by save(): not input from outside.
            self.model = pickle.load(source)
        self.pending = store
        return True
