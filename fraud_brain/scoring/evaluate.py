"""Detection-quality metrics, computed exactly with scikit-learn and polars.

The measures a centre judges detection by: average precision, ROC-AUC, precision at a daily alert budget
("card precision@k": the top-k entities per day, entities already alerted removed), the share
of scam money flagged at or before the transfer, the median time from the first scam call to
the alert, and false alarms per 10,000 legitimate transfers.

>>> import numpy as np
>>> ranking_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
{'average_precision': 0.8333333333333333, 'roc_auc': 0.75}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
import polars as pl


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Average precision and ROC-AUC (NaN when the labels have a single class)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return {"average_precision": float("nan"), "roc_auc": float("nan")}
    return {
        "average_precision": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
    }


def precision_at_daily_budget(
    scored: pl.DataFrame, k: int, entity: str, time_col: str = "time", score: str = "score", label: str = "label"
) -> float:
    """Mean over days of the share of true fraud among the day's top-k alerted entities.

    Each entity's daily score is its highest event score that day and its label the highest
    event label; an entity alerted on an earlier day is removed from later days (it is already
    being handled). Days are UTC days.

    >>> from datetime import datetime, UTC
    >>> d = lambda day: datetime(2026, 1, day, tzinfo=UTC)
    >>> scored = pl.DataFrame({"time": [d(1), d(1), d(1), d(2), d(2)],
    ...     "payer": ["a", "b", "c", "a", "c"], "score": [0.9, 0.8, 0.1, 0.95, 0.5],
    ...     "label": [1, 0, 0, 1, 1]})
    >>> precision_at_daily_budget(scored, k=2, entity="payer")  # day 1: a,b -> 1/2; day 2: a removed, c -> 1/2
    0.5
    """
    if k <= 0:
        raise ValueError(f"daily budget k={k} must be > 0")
    daily = (
        scored.group_by(pl.col(time_col).dt.truncate("1d").alias("_day"), pl.col(entity))
        .agg(pl.col(score).max(), pl.col(label).max())
        .sort("_day", score, descending=[False, True])
    )
    alerted: set[Any] = set()
    precisions: list[float] = []
    for (_day,), day in daily.group_by("_day", maintain_order=True):
        fresh = day.filter(~pl.col(entity).is_in(list(alerted))) if alerted else day
        top = fresh.head(k)
        alerted.update(top[entity].to_list())
        precisions.append(float(top[label].sum()) / k)
    return float(np.mean(precisions)) if precisions else float("nan")


def first_alerts(
    scored: pl.DataFrame, threshold: float, entity: str, time_col: str = "time", score: str = "score"
) -> pl.DataFrame:
    """The first time each entity's score reached ``threshold``: columns entity, ``alert_time``.

    >>> from datetime import datetime, UTC
    >>> d = lambda day: datetime(2026, 1, day, tzinfo=UTC)
    >>> s = pl.DataFrame({"time": [d(1), d(2), d(3)], "payer": ["a", "a", "b"], "score": [0.2, 0.9, 0.1]})
    >>> first_alerts(s, 0.5, "payer")["alert_time"].dt.day().to_list()
    [2]
    """
    return (
        scored.filter(pl.col(score) >= threshold)
        .group_by(entity)
        .agg(pl.col(time_col).min().alias("alert_time"))
        .sort(entity)
    )


def money_flagged_share(
    scored: pl.DataFrame,
    threshold: float,
    entity: str,
    amount: str = "amount",
    time_col: str = "time",
    score: str = "score",
    label: str = "label",
) -> float:
    """Share of scam money on transfers whose payer was alerted at or before the transfer.

    >>> from datetime import datetime, UTC
    >>> d = lambda day: datetime(2026, 1, day, tzinfo=UTC)
    >>> s = pl.DataFrame({"time": [d(1), d(2), d(3)], "payer": ["a", "a", "a"],
    ...     "amount": [100.0, 300.0, 600.0], "score": [0.1, 0.9, 0.2], "label": [1, 1, 1]})
    >>> money_flagged_share(s, 0.5, "payer")  # alert on day 2 protects days 2 and 3
    0.9
    """
    alerts = first_alerts(scored, threshold, entity, time_col, score)
    fraud = scored.filter(pl.col(label) == 1).join(alerts, on=entity, how="left")
    total = fraud[amount].sum()
    if not total:
        return float("nan")
    flagged = fraud.filter(pl.col("alert_time") <= pl.col(time_col))[amount].sum()
    return float(cast(float, flagged) / cast(float, total))


def median_time_to_alert(
    alerts: pl.DataFrame, first_scam_calls: pl.DataFrame, entity: str, first_call: str = "first_scam_call_time"
) -> timedelta | None:
    """Median delay from each victim's first scam call to its first alert (alerted victims only).

    >>> from datetime import datetime, UTC
    >>> t = lambda h: datetime(2026, 1, 1, h, tzinfo=UTC)
    >>> alerts = pl.DataFrame({"payer": ["a", "b"], "alert_time": [t(3), t(5)]})
    >>> calls = pl.DataFrame({"payer": ["a", "b", "c"], "first_scam_call_time": [t(1), t(1), t(1)]})
    >>> median_time_to_alert(alerts, calls, "payer")
    datetime.timedelta(seconds=10800)
    """
    joined = first_scam_calls.join(alerts, on=entity, how="inner").filter(
        pl.col(first_call).is_not_null() & (pl.col("alert_time") >= pl.col(first_call))
    )
    if joined.is_empty():
        return None
    delays = (joined["alert_time"] - joined[first_call]).dt.total_milliseconds().to_numpy()
    return timedelta(milliseconds=float(np.median(delays)))


def false_alarms_per_10k(labels: np.ndarray, flagged: np.ndarray) -> float:
    """Flagged legitimate events per 10,000 legitimate events.

    >>> false_alarms_per_10k(np.array([0, 0, 0, 0, 1]), np.array([True, False, False, False, True]))
    2500.0
    """
    labels = np.asarray(labels)
    legit = labels == 0
    if not legit.any():
        return float("nan")
    return float(np.asarray(flagged)[legit].sum() / legit.sum() * 10_000)


def budget_threshold(scored: pl.DataFrame, k: int, time_col: str = "time", score: str = "score") -> float:
    """The score threshold that raises about ``k`` alerts a day on average in this period.

    >>> from datetime import datetime, UTC
    >>> s = pl.DataFrame({"time": [datetime(2026, 1, 1, tzinfo=UTC)] * 4, "score": [0.1, 0.2, 0.3, 0.4]})
    >>> budget_threshold(s, k=2)
    0.3
    """
    days = max(1, scored.select(pl.col(time_col).dt.truncate("1d").n_unique()).item())
    count = min(scored.height, k * days)
    if count == 0:
        return float("inf")
    return float(scored[score].sort(descending=True)[count - 1])


@dataclass
class DetectionReport:
    """The headline detection measures of one scored period."""

    events: int
    frauds: int
    average_precision: float
    roc_auc: float
    precision_at_k: float
    k: int
    threshold: float
    money_flagged_share: float
    median_minutes_to_alert: float | None
    false_alarms_per_10k: float

    def as_dict(self) -> dict[str, float | int | None]:
        """A JSON-ready dict."""
        return asdict(self)


def detection_report(
    scored: pl.DataFrame,
    k: int = 100,
    entity: str = "payer_account",
    threshold: float | None = None,
    first_scam_calls: pl.DataFrame | None = None,
    time_col: str = "time",
    score: str = "score",
    label: str = "label",
    amount: str = "amount",
) -> DetectionReport:
    """All measures for a frame of scored, labelled transfers.

    ``threshold`` defaults to the one that spends the daily budget ``k``; ``first_scam_calls``
    (entity, ``first_scam_call_time``) enables the time-to-alert measure.
    """
    labels = scored[label].to_numpy()
    scores = scored[score].to_numpy()
    ranks = ranking_metrics(labels, scores)
    cut = budget_threshold(scored, k, time_col, score) if threshold is None else threshold
    minutes = None
    if first_scam_calls is not None:
        delay = median_time_to_alert(first_alerts(scored, cut, entity, time_col, score), first_scam_calls, entity)
        minutes = None if delay is None else delay.total_seconds() / 60
    return DetectionReport(
        events=scored.height,
        frauds=int(labels.sum()),
        average_precision=ranks["average_precision"],
        roc_auc=ranks["roc_auc"],
        precision_at_k=precision_at_daily_budget(scored, k, entity, time_col, score, label),
        k=k,
        threshold=cut,
        money_flagged_share=money_flagged_share(scored, cut, entity, amount, time_col, score, label)
        if amount in scored.columns
        else float("nan"),
        median_minutes_to_alert=minutes,
        false_alarms_per_10k=false_alarms_per_10k(labels, scores >= cut),
    )


def metrics_by_window(
    scored: pl.DataFrame, every: str = "1w", time_col: str = "time", score: str = "score", label: str = "label"
) -> pl.DataFrame:
    """Average precision and ROC-AUC per time window (to show decay and recovery under drift).

    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 5, tzinfo=UTC)
    >>> s = pl.DataFrame({"time": [t0 + timedelta(days=d) for d in (0, 1, 8, 9)],
    ...     "score": [0.9, 0.1, 0.2, 0.8], "label": [1, 0, 1, 0]})
    >>> metrics_by_window(s, "1w")["average_precision"].to_list()
    [1.0, 0.5]
    """
    rows = []
    for (start,), part in scored.sort(time_col).group_by(
        pl.col(time_col).dt.truncate(every).alias("_window"), maintain_order=True
    ):
        metrics = ranking_metrics(part[label].to_numpy(), part[score].to_numpy())
        rows.append({"window_start": start, "events": part.height, "frauds": int(part[label].sum()), **metrics})
    return pl.DataFrame(rows)


def metrics_before_after(
    scored: pl.DataFrame, at: datetime, time_col: str = "time", score: str = "score", label: str = "label"
) -> pl.DataFrame:
    """Average precision and ROC-AUC before and from ``at`` (e.g. the day scam tactics changed).

    Rows ``before`` and ``after`` with events, frauds and the two ranking measures, so a frozen
    model's decay and an online model's recovery read at a glance.

    >>> from datetime import datetime, UTC
    >>> d = lambda day: datetime(2026, 1, day, tzinfo=UTC)
    >>> s = pl.DataFrame({"time": [d(1), d(1), d(2), d(3), d(3), d(4)],
    ...     "score": [0.9, 0.1, 0.2, 0.1, 0.8, 0.3], "label": [1, 0, 0, 1, 0, 0]})
    >>> metrics_before_after(s, d(3))["average_precision"].round(3).to_list()  # after: the fraud ranks 3rd
    [1.0, 0.333]
    """
    rows = []
    for period, part in (
        ("before", scored.filter(pl.col(time_col) < at)),
        ("after", scored.filter(pl.col(time_col) >= at)),
    ):
        metrics = ranking_metrics(part[label].to_numpy(), part[score].to_numpy())
        rows.append({"period": period, "events": part.height, "frauds": int(part[label].sum()), **metrics})
    return pl.DataFrame(rows)
