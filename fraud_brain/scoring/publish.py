"""Train the shipped models from replayed data, calibrate them, and publish them to the registry.

Telecom (:func:`train_models`): one model per scored event type, ``transfer`` (every transfer,
all feature groups) and ``number`` (every call, labelled by confirmed fraud numbers). Each is
trained point-in-time, its held-out scores fit an isotonic calibrator stored in the manifest,
and it is published as the next version (optionally champion, or challenger to run in shadow
first).

Any other spec (:func:`train_stream_models`): one model per scored stream, named by the
stream's ``scoring.model``, trained point-in-time on the labels the spec names; its calibrator
is fitted on the last part of the training window with the labels known at the cutoff, so no
fitted part of the published model has seen a test-window label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from fraud_brain.errors import InputError
from fraud_brain.scoring.blend import BlendConfig, Calibrator, logit
from fraud_brain.scoring.dataset import SpecData, TrainingData
from fraud_brain.scoring.offline import (
    LABEL,
    TimeSplit,
    TrainResult,
    feature_matrix,
    train_booster,
    train_offline,
)
from fraud_brain.scoring.registry import LoadedModel, ModelRegistry


@dataclass
class Published:
    """A published model and the training run behind it."""

    model: LoadedModel
    result: TrainResult


def calibrate(result: TrainResult) -> Calibrator | None:
    """An isotonic calibrator fitted on the held-out test window (None if it has one class).

    >>> import numpy as np, polars as pl
    >>> from fraud_brain.scoring.registry import Manifest
    >>> test = pl.DataFrame({"score": np.linspace(0.01, 0.99, 50), "label": [0] * 40 + [1] * 10})
    >>> cal = calibrate(TrainResult(None, Manifest.new("x", [], ""), test, 0, 0))
    >>> cal.method, float(cal.predict(np.array([5.0]))[0])
    ('isotonic', 1.0)
    """
    labels = result.test[LABEL].to_numpy()
    if result.test.height == 0 or len(np.unique(labels)) < 2:
        return None
    return Calibrator.fit(logit(result.test["score"].to_numpy()), labels, method="isotonic")


def train_models(
    data: TrainingData,
    split: TimeSplit,
    num_boost_round: int = 200,
    params: dict[str, Any] | None = None,
    models: tuple[str, ...] = ("transfer", "number"),
) -> dict[str, TrainResult]:
    """Train the transfer model (and the calling-number model when calls and number labels allow)."""
    results: dict[str, TrainResult] = {}
    if "transfer" in models:
        results["transfer"] = train_offline(
            data.transfers, data.labels, list(data.transfer_groups), data.spec_hash, split,
            name="transfer", entity_type="transfer", key="transfer_id", params=params, num_boost_round=num_boost_round,
            test_labels=data.evaluation_labels(),
        )
    number_labels = data.labels.filter(pl.col("entity_type").cast(pl.String) == "number")
    if "number" in models and data.calls is not None and data.call_groups and number_labels.height:
        try:
            results["number"] = train_offline(
                data.calls, data.labels, list(data.call_groups), data.spec_hash, split,
                name="number", entity_type="number", key="caller", time_col="start_time",
                params=params, num_boost_round=num_boost_round,
            )
        except ValueError as error:
            if "only one class" not in str(error):
                raise
    return results


def publish_models(
    results: dict[str, TrainResult],
    registry: ModelRegistry,
    champion: bool = True,
    challenger: bool = False,
    blend: BlendConfig | None = None,
) -> list[Published]:
    """Calibrate and publish each trained model; returns what was published."""
    published = []
    for result in results.values():
        calibrator = result.extra["calibrator"] if "calibrator" in result.extra else calibrate(result)
        result.manifest.calibration = calibrator.to_dict() if calibrator else None
        result.manifest.blend = (blend or BlendConfig()).__dict__.copy()
        model = registry.publish(result.booster, result.manifest, champion=champion, challenger=challenger)
        published.append(Published(model, result))
    return published


def holdout_calibrator(
    events: pl.DataFrame,
    labels: pl.DataFrame,
    feature_names: list[str],
    split: TimeSplit,
    entity_type: str,
    key: str,
    time_col: str = "time",
    share: float = 0.25,
    params: dict[str, Any] | None = None,
    num_boost_round: int = 200,
) -> Calibrator | None:
    """An isotonic calibrator that sees no test-window label.

    A booster trained on the first ``1 - share`` of the training window scores the last
    ``share`` of it; the calibrator maps those scores to the labels known at the label cutoff.
    None when that slice has a single class.
    """
    from fraud_brain.scoring.offline import label_events

    cut = split.train_start + (split.train_end - split.train_start) * (1 - share)
    known = label_events(
        events.filter((pl.col(time_col) >= split.train_start) & (pl.col(time_col) < split.train_end)),
        labels, entity_type, key, as_of=split.label_cutoff,
    )
    early, late = known.filter(pl.col(time_col) < cut), known.filter(pl.col(time_col) >= cut)
    y_early, y_late = early[LABEL].to_numpy(), late[LABEL].to_numpy()
    if len(np.unique(y_early)) < 2 or len(np.unique(y_late)) < 2:
        return None
    booster = train_booster(feature_matrix(early, feature_names), y_early.astype(np.float64), feature_names, params,
                            num_boost_round)
    raw = booster.predict(feature_matrix(late, feature_names), raw_score=True)
    return Calibrator.fit(np.asarray(raw, dtype=np.float64), y_late, method="isotonic")


def train_stream_models(
    data: SpecData,
    split: TimeSplit,
    num_boost_round: int = 200,
    params: dict[str, Any] | None = None,
    streams: tuple[str, ...] | None = None,
) -> dict[str, TrainResult]:
    """Train one model per scored stream of any spec, point-in-time; keyed by model name.

    Each stream's target is the spec's: labels of ``scoring.label_entity`` naming the row's
    ``scoring.label_key``, known at the label cutoff. The test window is judged by
    :meth:`SpecData.evaluation_labels`; the calibrator comes from :func:`holdout_calibrator`.
    Raises :class:`InputError` when a training window holds no known fraud.
    """
    results: dict[str, TrainResult] = {}
    for name in streams or tuple(data.streams):
        if name not in data.streams:
            raise InputError(f"stream {name!r} is not a scored stream with records; scored: {', '.join(data.streams)}")
        stream = data.streams[name]
        events = stream.frame.sort(stream.time_col, maintain_order=True)
        sc = stream.scoring
        try:
            result = train_offline(
                events, data.labels, stream.feature_names, data.spec_hash, split, name=sc.model,
                entity_type=sc.label_entity, key=sc.label_key, time_col=stream.time_col, params=params,
                num_boost_round=num_boost_round, test_labels=data.evaluation_labels(name),
            )
        except ValueError as error:
            if "only one class" in str(error) or "no events in the training window" in str(error):
                raise InputError(
                    f"stream {name!r}: cannot train model {sc.model!r}: {error} (labels: entity_type "
                    f"{sc.label_entity!r} naming {sc.label_key!r}, known by {split.label_cutoff:%Y-%m-%d %H:%M})"
                ) from None
            raise
        result.extra["calibrator"] = holdout_calibrator(
            events, data.labels, stream.feature_names, split, sc.label_entity, sc.label_key, stream.time_col,
            params=params, num_boost_round=num_boost_round,
        )
        result.manifest.params = {**result.manifest.params, "stream": name,
                                  "calibration_fit": "last quarter of the training window, labels known at the cutoff"}
        results[sc.model] = result
    return results
