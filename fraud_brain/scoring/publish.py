"""Train the shipped models from replayed data, calibrate them, and publish them to the registry.

One model per scored event type: ``transfer`` (every transfer, all feature groups) and
``number`` (every call, labelled by confirmed fraud numbers). Each is trained point-in-time,
its held-out scores fit an isotonic calibrator stored in the manifest, and it is published as
the next version (optionally champion, or challenger to run in shadow first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from fraud_brain.scoring.blend import BlendConfig, Calibrator, logit
from fraud_brain.scoring.dataset import TrainingData
from fraud_brain.scoring.offline import LABEL, TimeSplit, TrainResult, train_offline
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
        calibrator = calibrate(result)
        result.manifest.calibration = calibrator.to_dict() if calibrator else None
        result.manifest.blend = (blend or BlendConfig()).__dict__.copy()
        model = registry.publish(result.booster, result.manifest, champion=champion, challenger=challenger)
        published.append(Published(model, result))
    return published
