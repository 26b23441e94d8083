"""The models committed under models/ load against the bundled feature spec and score.

If this fails after a change to the telecom feature spec, retrain the shipped models:
``fraud-brain train --data data/sample --out models`` (after removing the old versions).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from fraud_brain.features import bundled_spec, replay
from fraud_brain.features.synthetic import synthetic_telecom
from fraud_brain.scoring import ModelRegistry, load_champion_scorer

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_shipped_champions_exist_with_manifests():
    registry = ModelRegistry(MODELS)
    assert {"transfer", "number"} <= set(registry.names())
    for name in ("transfer", "number"):
        manifest = registry.manifest(name, registry.champion(name))
        assert manifest.calibration and manifest.train_window and manifest.data_fingerprint
        assert (MODELS / name / manifest.version / "model.txt").stat().st_size < 600_000


def test_shipped_transfer_model_scores_replayed_features_with_reasons():
    spec = bundled_spec("telecom")
    frames = synthetic_telecom(n_calls=3000, n_transfers=500, n_phones=200, seed=3)
    features = replay(spec, {k: v for k, v in frames.items() if k in spec.streams},
                      reference={"subscribers": frames["subscribers"]})
    scorer = load_champion_scorer(MODELS, spec, "transfer")
    out = scorer.score_batch(features["transfer"])
    assert out.height == 500 and out["score"].is_between(0, 1).all()
    top = out.sort("score", descending=True).row(0, named=True)
    row = features["transfer"].filter(pl.col("transfer_id") == top["transfer_id"]).select(scorer.feature_names)
    one = scorer.score_one(row.row(0, named=True))
    assert np.isclose(one.score, top["score"])
    calls = load_champion_scorer(MODELS, spec, "number").score_batch(features["call"], learn_anomaly=False)
    assert calls.columns[:2] == ["call_id", "start_time"] and calls["score"].is_between(0, 1).all()
