"""Point-in-time offline training: train window, a gap of the label delay, test window.

A model trained at time ``T`` may only use labels known at ``T``. With a training window
``[train_start, train_end)`` and a gap equal to the label delay, the model is built at
``train_end + gap`` (the label cutoff) and tested on ``[train_end + gap, test_end)``; training
events whose fraud label only became known after the cutoff count as legitimate, exactly as
they would have in production. Test events get every label (the eventual truth).

>>> import numpy as np, polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> rng = np.random.default_rng(0)
>>> start = datetime(2026, 1, 1, tzinfo=UTC)
>>> n = 2000
>>> x = rng.normal(size=n)
>>> events = pl.DataFrame({"transfer_id": [f"t{i}" for i in range(n)],
...     "time": [start + timedelta(hours=i / 10) for i in range(n)], "x": x, "noise": rng.normal(size=n)})
>>> fraud = events.filter(pl.col("x") > 1.2)
>>> labels = pl.DataFrame({"entity_type": "transfer", "entity_id": fraud["transfer_id"],
...     "is_fraud": True, "known_at": fraud["time"] + timedelta(days=1)})
>>> split = TimeSplit.from_days(start, train_days=5, gap_days=1, test_days=2)
>>> result = train_offline(events, labels, ["x", "noise"], "spec1", split, num_boost_round=20)
>>> result.manifest.metrics["average_precision"] > 0.9
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import polars as pl

from fraud_brain.scoring.registry import Manifest, data_fingerprint

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 1,
    "seed": 7,
    "deterministic": True,
    "verbose": -1,
}
"""LightGBM parameters for the offline models (one thread: the machine is shared)."""

LABEL = "label"
"""The name of the 0/1 label column added to event frames."""


@dataclass(frozen=True)
class TimeSplit:
    """Train window, gap (the label delay) and test window of a point-in-time evaluation.

    >>> from datetime import datetime, UTC
    >>> s = TimeSplit.from_days(datetime(2026, 1, 1, tzinfo=UTC), 10, 3, 5)
    >>> s.label_cutoff.day, s.test_start.day, s.test_end.day
    (14, 14, 19)
    """

    train_start: datetime
    train_end: datetime
    gap: timedelta
    test_end: datetime

    def __post_init__(self) -> None:
        if not self.train_start < self.train_end:
            raise ValueError(f"time split: train_start {self.train_start} must be before train_end {self.train_end}")
        if self.gap < timedelta(0):
            raise ValueError(f"time split: gap {self.gap} must be >= 0")
        if not self.test_start < self.test_end:
            raise ValueError(f"time split: test_end {self.test_end} must be after test_start {self.test_start}")

    @classmethod
    def from_days(cls, start: datetime, train_days: float, gap_days: float, test_days: float) -> TimeSplit:
        """A split of consecutive windows measured in days from ``start``."""
        train_end = start + timedelta(days=train_days)
        gap = timedelta(days=gap_days)
        return cls(start, train_end, gap, train_end + gap + timedelta(days=test_days))

    @property
    def test_start(self) -> datetime:
        """The first instant of the test window (also when the model is built)."""
        return self.train_end + self.gap

    @property
    def label_cutoff(self) -> datetime:
        """Labels known after this instant are not used for training."""
        return self.train_end + self.gap

    def describe(self) -> dict[str, Any]:
        """The split as manifest fields."""
        return {
            "train_window": (self.train_start.isoformat(), self.train_end.isoformat()),
            "gap": str(self.gap),
            "test_window": (self.test_start.isoformat(), self.test_end.isoformat()),
            "label_cutoff": self.label_cutoff.isoformat(),
        }


def label_events(
    events: pl.DataFrame,
    labels: pl.DataFrame,
    entity_type: str = "transfer",
    key: str = "transfer_id",
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """Add a 0/1 ``label`` column from labels of one entity type known at ``as_of``.

    The latest label per entity known by ``as_of`` wins (a cleared entity becomes 0); events
    without a known label are 0. ``as_of=None`` uses every label.

    >>> from datetime import datetime, UTC
    >>> t = lambda d: datetime(2026, 1, d, tzinfo=UTC)
    >>> events = pl.DataFrame({"transfer_id": ["a", "b", "c"]})
    >>> labels = pl.DataFrame({"entity_type": ["transfer"] * 2, "entity_id": ["a", "b"],
    ...     "is_fraud": [True, True], "known_at": [t(2), t(9)]})
    >>> label_events(events, labels, as_of=t(5))["label"].to_list()
    [1, 0, 0]
    """
    if key not in events.columns:
        raise ValueError(f"events: key column {key!r} is missing (columns: {events.columns})")
    for column in ("entity_type", "entity_id", "is_fraud", "known_at"):
        if column not in labels.columns:
            raise ValueError(f"labels: column {column!r} is missing")
    known = labels.filter(pl.col("entity_type").cast(pl.String) == entity_type)
    if as_of is not None:
        known = known.filter(pl.col("known_at") <= as_of)
    latest = (
        known.sort("known_at")
        .group_by("entity_id", maintain_order=True)
        .agg(pl.col("is_fraud").last())
        .select(pl.col("entity_id").cast(events.schema[key]).alias(key), pl.col("is_fraud").cast(pl.Int8).alias(LABEL))
    )
    return (
        events.drop(LABEL, strict=False)
        .join(latest, on=key, how="left", maintain_order="left")
        .with_columns(pl.col(LABEL).fill_null(0))
    )


def feature_matrix(frame: pl.DataFrame, feature_names: list[str]) -> np.ndarray:
    """The feature columns as a C-ordered float64 matrix (nulls become NaN).

    >>> feature_matrix(pl.DataFrame({"a": [1, None], "b": [0.5, 2.0]}), ["b", "a"]).tolist()
    [[0.5, 1.0], [2.0, nan]]
    """
    missing = [name for name in feature_names if name not in frame.columns]
    if missing:
        raise ValueError(f"feature frame: feature column(s) {missing} are missing")
    columns = [frame.get_column(name) for name in feature_names]
    if columns and all(c.dtype == pl.Float64 and not c.null_count() for c in columns):
        # the engine's own output: stacking the columns skips planning a cast per feature
        return np.column_stack([c.to_numpy() for c in columns])
    selected = frame.select(pl.col(name).cast(pl.Float64) for name in feature_names)
    return np.ascontiguousarray(selected.to_numpy(), dtype=np.float64)


def train_booster(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: list[str],
    params: dict[str, Any] | None = None,
    num_boost_round: int = 200,
) -> lgb.Booster:
    """Train a binary LightGBM booster with the native API.

    >>> X = np.random.default_rng(1).normal(size=(300, 2)); y = (X[:, 1] > 0).astype(float)
    >>> train_booster(X, y, ["a", "b"], num_boost_round=5).feature_name()
    ['a', 'b']
    """
    if len(np.unique(y)) < 2:
        raise ValueError(f"training set of {len(y)} events has only one class; widen the training window")
    merged = {**DEFAULT_PARAMS, **(params or {})}
    dataset = lgb.Dataset(X, label=y, feature_name=list(feature_names), free_raw_data=True)
    return lgb.train(merged, dataset, num_boost_round=num_boost_round)


@dataclass
class TrainResult:
    """A trained booster, its manifest, and the labelled test events with their scores."""

    booster: lgb.Booster
    manifest: Manifest
    test: pl.DataFrame
    train_rows: int
    train_positives: int
    extra: dict[str, Any] = field(default_factory=dict)


def train_offline(
    events: pl.DataFrame,
    labels: pl.DataFrame,
    feature_names: list[str],
    spec_hash: str,
    split: TimeSplit,
    name: str = "transfer",
    entity_type: str = "transfer",
    key: str = "transfer_id",
    time_col: str = "time",
    params: dict[str, Any] | None = None,
    num_boost_round: int = 200,
    test_labels: pl.DataFrame | None = None,
) -> TrainResult:
    """Train one model point-in-time and score its test window.

    ``events`` holds one row per scored event with ``key``, ``time_col`` and the feature
    columns; the returned ``test`` frame adds ``label`` (eventual truth: every label, or
    ``test_labels`` such as a simulator's ground truth) and ``score``.
    """
    from fraud_brain.scoring.evaluate import ranking_metrics

    if time_col not in events.columns:
        raise ValueError(f"events: time column {time_col!r} is missing")
    in_train = events.filter((pl.col(time_col) >= split.train_start) & (pl.col(time_col) < split.train_end))
    in_test = events.filter((pl.col(time_col) >= split.test_start) & (pl.col(time_col) < split.test_end))
    if in_train.is_empty():
        raise ValueError(f"no events in the training window {split.train_start} .. {split.train_end}")
    train = label_events(in_train, labels, entity_type, key, as_of=split.label_cutoff)
    X = feature_matrix(train, feature_names)
    y = train[LABEL].to_numpy().astype(np.float64)
    booster = train_booster(X, y, feature_names, params, num_boost_round)
    test = label_events(in_test, labels if test_labels is None else test_labels, entity_type, key, as_of=None)
    scores = cast(np.ndarray, booster.predict(feature_matrix(test, feature_names))) if test.height else np.empty(0)
    test = test.with_columns(pl.Series("score", scores, dtype=pl.Float64))
    metrics = ranking_metrics(test[LABEL].to_numpy(), scores) if test.height else {}
    manifest = Manifest.new(
        name,
        feature_names,
        spec_hash,
        event_type=entity_type,
        data_fingerprint=data_fingerprint(train.select([key, time_col, *feature_names, LABEL])),
        metrics={k: float(v) for k, v in metrics.items()},
        params={**DEFAULT_PARAMS, **(params or {}), "num_boost_round": num_boost_round},
        **split.describe(),
    )
    return TrainResult(booster, manifest, test, train.height, int(y.sum()))
