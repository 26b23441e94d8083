"""The Scorer facade: batch and single-record paths, shadow challenger, registry loading."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fraud_brain.scoring.blend import BlendConfig, Calibrator
from fraud_brain.scoring.offline import TimeSplit, feature_matrix, train_offline
from fraud_brain.scoring.online import AnomalyScorer, OnlineModel
from fraud_brain.scoring.registry import FeatureMismatchError, ModelRegistry
from fraud_brain.scoring.scorer import Scorer, online_inputs

from .helpers import FEATURES, START, synthetic_transfers


@pytest.fixture(scope="module")
def trained():
    events, labels = synthetic_transfers(3000, days=20)
    split = TimeSplit.from_days(START, 10, 2, 8)
    return events, train_offline(events, labels, FEATURES, "spec-1", split, num_boost_round=40)


def test_single_record_path_equals_batch_path(trained):
    events, result = trained
    X = feature_matrix(events, FEATURES)
    online = OnlineModel([*FEATURES, "offline_logit"])
    raw = result.booster.predict(X, raw_score=True)
    online.learn(online_inputs(X[:1500], raw[:1500]), (X[:1500, 1] > 2).astype(int))
    anomaly = AnomalyScorer(FEATURES).fit_limits(X[:500])
    scorer = Scorer(
        result.booster, FEATURES, online=online, anomaly=anomaly,
        blend=BlendConfig(1.0, 0.5, 0.5), calibrator=Calibrator("platt", a=0.9, b=-0.2),
    )
    batch = scorer.score_batch(events.head(50), learn_anomaly=False)
    for i, values in enumerate(events.head(50).select(FEATURES).iter_rows(named=True)):
        one = scorer.score_one(values)
        assert one.score == pytest.approx(batch["score"][i], rel=1e-9)
        assert one.offline == pytest.approx(batch["offline_score"][i], rel=1e-9)
        assert one.online == pytest.approx(batch["online_score"][i], rel=1e-9)
        assert one.anomaly == pytest.approx(batch["anomaly_score"][i])
        assert [r.en for r in one.reasons] == batch["reasons_en"][i].to_list()
    array_result = scorer.score_one(X[0], reasons=False)
    assert array_result.score == pytest.approx(batch["score"][0]) and array_result.reasons == []


def test_batch_output_has_parts_and_reasons_only_above_threshold(trained):
    events, result = trained
    scorer = Scorer(result.booster, FEATURES, reason_threshold=0.2)
    out = scorer.score_batch(events)
    assert out.columns[:2] == ["transfer_id", "time"]
    assert out["online_score"].null_count() == out.height
    high = out.filter(pl.col("score") >= 0.2)
    assert high.height > 0 and (high["reasons_en"].list.len() > 0).all()
    assert (high["reasons_zh"].list.len() == high["reasons_en"].list.len()).all()
    assert (out.filter(pl.col("score") < 0.2)["reasons_en"].list.len() == 0).all()
    np.testing.assert_allclose(out["score"].to_numpy(), result.booster.predict(feature_matrix(events, FEATURES)))


def test_score_one_rejects_unknown_or_missing_width(trained):
    _, result = trained
    scorer = Scorer(result.booster, FEATURES)
    with pytest.raises(ValueError, match=r"unknown feature\(s\) \['colour'\]"):
        scorer.score_one({"colour": 1.0})
    with pytest.raises(ValueError, match="got 2 values, expected 5"):
        scorer.score_one(np.array([1.0, 2.0]))
    partial = scorer.score_one({"amount": 100.0})
    assert 0.0 <= partial.score <= 1.0


def test_champion_from_registry_with_shadow_challenger(tmp_path, trained):
    events, result = trained
    registry = ModelRegistry(tmp_path)
    result.manifest.calibration = Calibrator("platt", a=1.0, b=-1.0).to_dict()
    registry.publish(result.booster, result.manifest, champion=True)
    split = TimeSplit.from_days(START, 8, 2, 8)
    _, labels = synthetic_transfers(3000, days=20)
    other = train_offline(events, labels, FEATURES, "spec-1", split, num_boost_round=10)
    registry.publish(other.booster, other.manifest, challenger=True)

    logged: list[pl.DataFrame] = []
    scorer = Scorer.from_registry(registry, "transfer", FEATURES, "spec-1", shadow_log=logged.append)
    out = scorer.score_batch(events.head(100))
    X = feature_matrix(events.head(100), FEATURES)
    champion_raw = result.booster.predict(X, raw_score=True)
    np.testing.assert_allclose(out["score"].to_numpy(), 1 / (1 + np.exp(-(champion_raw - 1.0))))
    assert len(logged) == 1
    np.testing.assert_allclose(logged[0]["challenger_score"].to_numpy(), other.booster.predict(X))
    assert logged[0]["challenger_version"][0] == "v002"
    assert "challenger_score" not in out.columns
    with pytest.raises(FeatureMismatchError):
        Scorer.from_registry(registry, "transfer", FEATURES[::-1], "spec-1")


def test_anomaly_part_only_for_cold_start_rows(trained):
    events, result = trained
    X = feature_matrix(events, FEATURES)
    frame = events.with_columns((pl.col("caller_age_days") < 30).cast(pl.Float64).alias("caller_age_days"))
    anomaly = AnomalyScorer(FEATURES).fit_limits(X[:500])
    scorer = Scorer(
        result.booster, FEATURES, anomaly=anomaly, blend=BlendConfig(1.0, 0.0, 1.0),
        cold_start_feature="caller_age_days",
    )
    out = scorer.score_batch(frame.head(300), learn_anomaly=False)
    cold = frame.head(300)["caller_age_days"].to_numpy() >= 1
    assert cold.any() and (~cold).any()
    assert (out["anomaly_score"].to_numpy()[~cold] == 0.5).all()
    assert (out["anomaly_score"].to_numpy()[cold] != 0.5).any()
    with pytest.raises(ValueError, match="cold_start_feature 'nope'"):
        Scorer(result.booster, FEATURES, cold_start_feature="nope")


def test_scorer_with_a_live_learner_remembers_events_for_their_labels(trained):
    from fraud_brain.scoring.online import OnlineLearner

    events, result = trained
    learner = OnlineLearner(OnlineModel([*FEATURES, "offline_logit"]), n_features=len(FEATURES) + 1)
    scorer = Scorer(result.booster, FEATURES, online=learner, blend=BlendConfig(1.0, 0.5))
    out = scorer.score_batch(events.head(200))
    assert (out["online_score"] == 0.5).all() and len(learner.pending) == 200
    learned = learner.learn_labels(events["transfer_id"].head(50).to_list(), np.r_[np.ones(10), np.zeros(40)])
    assert learned == 50 and learner.model.n_positive == 10 and len(learner.pending) == 150
    assert not (scorer.score_batch(events.slice(200, 50))["online_score"] == 0.5).all()


def test_score_one_explains_by_default_only_scores_above_the_reason_threshold(trained):
    events, result = trained
    scorer = Scorer(result.booster, FEATURES, reason_threshold=0.3)
    rows = events.select(FEATURES).head(300).iter_rows(named=True)
    seen_high = seen_low = False
    for values in rows:
        auto = scorer.score_one(values)
        forced = scorer.score_one(values, reasons=True)
        assert auto.score == pytest.approx(forced.score)
        if auto.score >= 0.3:
            seen_high = True
            assert [r.feature for r in auto.reasons] == [r.feature for r in forced.reasons]
        else:
            seen_low = True
            assert auto.reasons == []
    assert seen_high and seen_low
