"""Detection metrics against hand-computed small examples and brute force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.scoring.evaluate import (
    budget_threshold,
    detection_report,
    false_alarms_per_10k,
    first_alerts,
    median_time_to_alert,
    metrics_by_window,
    money_flagged_share,
    precision_at_daily_budget,
    ranking_metrics,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def at(day: int, hour: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def test_ranking_metrics_by_hand():
    # ranking: 0.9(1) 0.8(0) 0.7(1) 0.1(0): AP = (1/1 + 2/3) / 2; AUC = 3 of 4 pairs
    result = ranking_metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert result["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert result["roc_auc"] == pytest.approx(0.75)
    assert np.isnan(ranking_metrics(np.array([0, 0]), np.array([0.1, 0.2]))["roc_auc"])


def test_precision_at_budget_removes_entities_alerted_before():
    scored = pl.DataFrame(
        {
            "time": [at(0, 1), at(0, 2), at(0, 3), at(0, 4), at(1, 1), at(1, 2), at(1, 3)],
            "payer": ["a", "a", "b", "c", "a", "b", "d"],
            "score": [0.2, 0.95, 0.9, 0.1, 0.99, 0.5, 0.4],
            "label": [0, 1, 0, 1, 1, 0, 1],
        }
    )
    # day 0: a (max .95, label 1), b (.9, 0) -> 1/2; day 1: a, b removed -> d (.4, 1) -> 1/2
    assert precision_at_daily_budget(scored, k=2, entity="payer") == pytest.approx(0.5)
    # k=1: day 0 a -> 1; day 1 a removed -> b (.5, 0) -> 0
    assert precision_at_daily_budget(scored, k=1, entity="payer") == pytest.approx(0.5)
    assert precision_at_daily_budget(scored, k=4, entity="payer") == pytest.approx((2 / 4 + 1 / 4) / 2)


def _brute_precision(rows, k):
    days = sorted({d for d, *_ in rows})
    alerted, out = set(), []
    for day in days:
        best: dict[str, tuple[float, int]] = {}
        for d, entity, score, label in rows:
            if d == day:
                s, fraud = best.get(entity, (-1.0, 0))
                best[entity] = (max(s, score), max(fraud, label))
        ranked = sorted(((s, e, fraud) for e, (s, fraud) in best.items() if e not in alerted), key=lambda r: -r[0])[:k]
        alerted.update(e for _, e, _ in ranked)
        out.append(sum(fraud for *_, fraud in ranked) / k)
    return float(np.mean(out))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from("abcdefg"), st.integers(0, 10_000), st.integers(0, 1)),
        min_size=1,
        max_size=40,
        unique_by=lambda r: r[2],
    ),
    st.integers(1, 4),
)
def test_precision_at_budget_matches_brute_force(rows, k):
    rows = [(d, e, s / 10_000, label) for d, e, s, label in rows]
    scored = pl.DataFrame(
        {
            "time": [at(d, 5) for d, *_ in rows],
            "payer": [e for _, e, _, _ in rows],
            "score": [s for *_, s, _ in rows],
            "label": [label for *_, label in rows],
        }
    )
    assert precision_at_daily_budget(scored, k, "payer") == pytest.approx(_brute_precision(rows, k))


def test_money_flagged_counts_transfers_at_or_after_the_first_alert():
    scored = pl.DataFrame(
        {
            "time": [at(0, 1), at(0, 2), at(0, 3), at(0, 4), at(0, 5)],
            "payer": ["a", "a", "a", "b", "c"],
            "amount": [100.0, 200.0, 700.0, 1000.0, 50.0],
            "score": [0.1, 0.8, 0.2, 0.3, 0.9],
            "label": [1, 1, 1, 1, 0],
        }
    )
    # fraud money 2000; a is alerted at hour 2 -> 200 + 700 protected; b never alerted
    assert money_flagged_share(scored, 0.5, "payer") == pytest.approx(900 / 2000)
    alerts = first_alerts(scored, 0.5, "payer")
    assert alerts.rows() == [("a", at(0, 2)), ("c", at(0, 5))]


def test_median_time_to_alert_and_false_alarms():
    alerts = pl.DataFrame({"payer": ["a", "b", "c"], "alert_time": [at(0, 2), at(0, 5), at(0, 9)]})
    calls = pl.DataFrame(
        {"payer": ["a", "b", "c", "d"], "first_scam_call_time": [at(0, 1), at(0, 1), at(0, 3), at(0, 0)]}
    )
    assert median_time_to_alert(alerts, calls, "payer") == timedelta(hours=4)
    assert median_time_to_alert(alerts.head(0), calls, "payer") is None
    labels = np.array([0] * 9 + [1])
    flagged = np.array([True, True, False, False, False, False, False, False, False, True])
    assert false_alarms_per_10k(labels, flagged) == pytest.approx(2 / 9 * 10_000)


def test_budget_threshold_and_full_report():
    rng = np.random.default_rng(0)
    n = 400
    scored = pl.DataFrame(
        {
            "time": [at(int(d), int(h)) for d, h in zip(rng.integers(0, 4, n), rng.integers(0, 24, n), strict=True)],
            "payer_account": [f"p{i}" for i in rng.integers(0, 100, n)],
            "amount": rng.uniform(10, 1000, n),
            "score": rng.random(n),
        }
    ).with_columns((pl.col("score") + pl.Series(rng.normal(0, 0.3, n)) > 0.9).cast(pl.Int8).alias("label"))
    threshold = budget_threshold(scored, k=10)
    assert (scored["score"] >= threshold).sum() == 40
    report = detection_report(scored, k=10)
    assert report.threshold == threshold and report.events == n and report.frauds == scored["label"].sum()
    expected = ranking_metrics(scored["label"].to_numpy(), scored["score"].to_numpy())
    assert report.average_precision == pytest.approx(expected["average_precision"])
    legit = scored.filter(pl.col("label") == 0)
    assert report.false_alarms_per_10k == pytest.approx((legit["score"] >= threshold).sum() / legit.height * 1e4)


def test_metrics_by_window_splits_by_time():
    scored = pl.DataFrame(
        {"time": [at(0), at(1), at(7), at(8), at(9)], "score": [0.9, 0.1, 0.2, 0.8, 0.7], "label": [1, 0, 1, 0, 0]}
    )
    windows = metrics_by_window(scored, "1w")
    assert windows["events"].to_list() == [2, 3]
    assert windows["roc_auc"].to_list() == [1.0, 0.0]


def test_metrics_before_after_matches_sklearn_on_each_side_of_the_cut():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from fraud_brain.scoring.evaluate import metrics_before_after

    rng = np.random.default_rng(3)
    n = 600
    days = rng.integers(0, 10, n)
    scored = pl.DataFrame(
        {
            "time": [at(int(d), int(h)) for d, h in zip(days, rng.integers(0, 24, n), strict=True)],
            "score": rng.random(n),
        }
    ).with_columns((pl.col("score") + pl.Series(rng.normal(0, 0.4, n)) > 1.0).cast(pl.Int8).alias("label"))
    cut = at(6)
    periods = metrics_before_after(scored, cut)
    assert periods["period"].to_list() == ["before", "after"]
    parts = (scored.filter(pl.col("time") < cut), scored.filter(pl.col("time") >= cut))
    for row, part in zip(periods.iter_rows(named=True), parts, strict=True):
        assert row["events"] == part.height and row["frauds"] == part["label"].sum()
        assert row["average_precision"] == pytest.approx(average_precision_score(part["label"], part["score"]))
        assert row["roc_auc"] == pytest.approx(roc_auc_score(part["label"], part["score"]))
    assert periods["events"].sum() == n
