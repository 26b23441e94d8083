"""Point-in-time offline training."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from fraud_brain.scoring.offline import TimeSplit, feature_matrix, label_events, train_offline

from .helpers import FEATURES, START, synthetic_transfers


def test_split_windows_follow_each_other():
    split = TimeSplit.from_days(START, 10, 2, 5)
    assert split.test_start - split.train_end == timedelta(days=2)
    assert split.label_cutoff == split.test_start
    with pytest.raises(ValueError, match="gap"):
        TimeSplit(START, START + timedelta(days=1), timedelta(days=-1), START + timedelta(days=5))
    with pytest.raises(ValueError, match="train_start"):
        TimeSplit(START, START, timedelta(0), START + timedelta(days=5))


def test_labels_are_taken_as_of_the_cutoff_and_the_latest_wins():
    events = pl.DataFrame({"transfer_id": ["a", "b", "c", "d"]})
    labels = pl.DataFrame(
        {
            "entity_type": ["transfer", "transfer", "transfer", "number", "transfer"],
            "entity_id": ["a", "b", "c", "d", "a"],
            "is_fraud": [True, True, True, True, False],
            "known_at": [START + timedelta(days=d) for d in (1, 2, 9, 1, 5)],
        }
    )
    as_of = START + timedelta(days=3)
    assert label_events(events, labels, as_of=as_of)["label"].to_list() == [1, 1, 0, 0]
    assert label_events(events, labels)["label"].to_list() == [0, 1, 1, 0]
    by_number = label_events(events.rename({"transfer_id": "caller"}), labels, "number", "caller")
    assert by_number["label"].to_list() == [0, 0, 0, 1]


def test_training_uses_only_labels_known_at_the_cutoff():
    events, labels = synthetic_transfers(3000, days=20)
    split = TimeSplit.from_days(START, 10, 2, 8)
    result = train_offline(events, labels, FEATURES, "spec-x", split, num_boost_round=30)
    in_train = events.filter(pl.col("time") < split.train_end)
    known = labels.filter(pl.col("known_at") <= split.label_cutoff)["entity_id"]
    eventually = labels["entity_id"]
    assert result.train_rows == in_train.height
    assert result.train_positives == in_train["transfer_id"].is_in(known.implode()).sum()
    assert result.train_positives < in_train["transfer_id"].is_in(eventually.implode()).sum()
    # the test window is labelled with the eventual truth and starts after the gap
    assert result.test["time"].min() >= split.test_start
    assert result.test["label"].sum() == result.test["transfer_id"].is_in(eventually.implode()).sum()
    assert result.manifest.metrics["roc_auc"] > 0.75
    assert result.manifest.label_cutoff == split.label_cutoff.isoformat()
    assert result.manifest.feature_names == FEATURES and result.manifest.spec_hash == "spec-x"


def test_a_label_known_after_the_cutoff_does_not_change_the_model():
    events, labels = synthetic_transfers(2000, days=20, seed=4)
    split = TimeSplit.from_days(START, 10, 2, 8)
    late = events.filter(pl.col("time") < split.train_end).head(50).select(
        pl.lit("transfer").alias("entity_type"),
        pl.col("transfer_id").alias("entity_id"),
        pl.lit(True).alias("is_fraud"),
        pl.lit(split.label_cutoff + timedelta(seconds=1)).cast(pl.Datetime("ms", "UTC")).alias("known_at"),
    )
    a = train_offline(events, labels, FEATURES, "s", split, num_boost_round=20)
    b = train_offline(events, pl.concat([labels, late]), FEATURES, "s", split, num_boost_round=20)
    X = feature_matrix(events.head(200), FEATURES)
    np.testing.assert_array_equal(a.booster.predict(X), b.booster.predict(X))
    assert a.manifest.data_fingerprint == b.manifest.data_fingerprint


def test_missing_feature_and_single_class_errors_are_readable():
    events, labels = synthetic_transfers(500, days=20)
    split = TimeSplit.from_days(START, 10, 2, 8)
    with pytest.raises(ValueError, match=r"feature column\(s\) \['nope'\] are missing"):
        train_offline(events, labels, ["nope"], "s", split)
    with pytest.raises(ValueError, match="only one class"):
        train_offline(events, labels.head(0), FEATURES, "s", split)
