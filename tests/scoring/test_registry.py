"""Model registry: round trip, champion/challenger markers, refusal on a spec mismatch."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from fraud_brain.scoring.registry import FeatureMismatchError, Manifest, ModelRegistry, data_fingerprint

FEATURES = ["amount", "payee_fan_in_24h", "caller_age_days"]


def _booster(seed: int = 0) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + X[:, 1] > 0.5).astype(float)
    return lgb.train({"objective": "binary", "verbose": -1, "seed": seed, "num_threads": 1}, lgb.Dataset(X, y), 15)


def test_round_trip_keeps_predictions_and_manifest(tmp_path):
    registry = ModelRegistry(tmp_path)
    booster = _booster()
    manifest = Manifest.new("transfer", FEATURES, "spec-1", metrics={"average_precision": 0.42}, gap="3 days")
    registry.publish(booster, manifest)
    loaded = registry.load("transfer", "v001", FEATURES, "spec-1")
    X = np.random.default_rng(5).normal(size=(50, 3))
    np.testing.assert_allclose(loaded.booster.predict(X), booster.predict(X))
    assert loaded.manifest.metrics == {"average_precision": 0.42}
    assert loaded.manifest.gap == "3 days"
    assert loaded.manifest.lightgbm_version == lgb.__version__
    saved = json.loads((tmp_path / "transfer" / "v001" / "manifest.json").read_text())
    assert saved["feature_names"] == FEATURES
    assert (tmp_path / "transfer" / "v001" / "model.txt").read_text().startswith("tree")


def test_versions_increase_and_champion_challenger_markers(tmp_path):
    registry = ModelRegistry(tmp_path)
    for seed in range(3):
        registry.publish(_booster(seed), Manifest.new("transfer", FEATURES, "s"))
    assert registry.versions("transfer") == ["v001", "v002", "v003"]
    assert registry.champion("transfer") is None
    registry.set_champion("transfer", "v001")
    registry.set_challenger("transfer", "v003")
    assert (registry.champion("transfer"), registry.challenger("transfer")) == ("v001", "v003")
    with pytest.raises(ValueError, match="is the champion"):
        registry.set_challenger("transfer", "v001")
    assert registry.promote_challenger("transfer") == "v003"
    assert (registry.champion("transfer"), registry.challenger("transfer")) == ("v003", None)
    assert registry.load_challenger("transfer", FEATURES, "s") is None
    assert registry.load_champion("transfer", FEATURES, "s").manifest.version == "v003"
    assert registry.names() == ["transfer"]


def test_unknown_version_names_known_versions(tmp_path):
    registry = ModelRegistry(tmp_path)
    registry.publish(_booster(), Manifest.new("transfer", FEATURES, "s"))
    with pytest.raises(FileNotFoundError, match=r"transfer/v009 not found .*versions: v001"):
        registry.set_champion("transfer", "v009")


def test_loading_refuses_other_features_naming_both_lists(tmp_path):
    registry = ModelRegistry(tmp_path)
    registry.publish(_booster(), Manifest.new("transfer", FEATURES, "spec-1"), champion=True)
    running = ["amount", "payee_fan_in_24h", "sim_age_days"]
    with pytest.raises(FeatureMismatchError) as caught:
        registry.load_champion("transfer", running, "spec-2")
    message = str(caught.value)
    assert "caller_age_days" in message and "sim_age_days" in message
    assert "spec-1" in message and "spec-2" in message


def test_loading_refuses_reordered_features_and_other_spec_hash(tmp_path):
    registry = ModelRegistry(tmp_path)
    registry.publish(_booster(), Manifest.new("transfer", FEATURES, "spec-1"), champion=True)
    with pytest.raises(FeatureMismatchError, match="different order"):
        registry.load_champion("transfer", list(reversed(FEATURES)), "spec-1")
    with pytest.raises(FeatureMismatchError, match=r"spec-1.*spec-9"):
        registry.load_champion("transfer", FEATURES, "spec-9")


def test_publish_refuses_feature_count_mismatch(tmp_path):
    with pytest.raises(ValueError, match="3 features but the manifest lists 2"):
        ModelRegistry(tmp_path).publish(_booster(), Manifest.new("transfer", FEATURES[:2], "s"))


def test_broken_manifest_names_the_file(tmp_path):
    registry = ModelRegistry(tmp_path)
    registry.publish(_booster(), Manifest.new("transfer", FEATURES, "s"))
    path = tmp_path / "transfer" / "v001" / "manifest.json"
    path.write_text('{"name": "transfer",\n "feature_names": [1, 2]}')
    with pytest.raises(ValueError, match=r"manifest.json: field 'spec_hash' is missing"):
        registry.load("transfer", "v001")
    path.write_text('{"name": "transfer",\n oops}')
    with pytest.raises(ValueError, match=r"manifest.json: line 2: invalid JSON"):
        registry.load("transfer", "v001")


def test_fingerprint_tracks_content():
    frame = pl.DataFrame({"id": ["a", "b"], "x": [1.0, None]})
    assert data_fingerprint(frame) == data_fingerprint(frame.clone())
    assert data_fingerprint(frame) != data_fingerprint(frame.with_columns(pl.col("x").fill_null(0.0)))
    assert data_fingerprint(frame) != data_fingerprint(frame.with_columns(pl.Series("id", ["a", "c"])))
