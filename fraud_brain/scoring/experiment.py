"""The evaluation protocol end to end: transfer-only vs cross-channel vs cross-channel + online.

Each setup is trained point-in-time on the same split and scored on the same test window;
the online setup adds a river model that starts at the end of the training window, learns from
labels as they arrive (and from transfers still unreported after the label delay, as
legitimate) and is blended with the frozen offline model in log-odds.

>>> import numpy as np, polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> rng = np.random.default_rng(0)
>>> n, start = 3000, datetime(2026, 3, 2, tzinfo=UTC)
>>> call = rng.exponential(1, n); amount = rng.normal(size=n)
>>> fraud = rng.random(n) < 1 / (1 + np.exp(-(-4 + 2 * call + 0.3 * amount)))
>>> events = pl.DataFrame({"transfer_id": [f"t{i}" for i in range(n)],
...     "time": [start + timedelta(minutes=10 * i) for i in range(n)],
...     "payer_account": [f"p{i % 700}" for i in range(n)], "amount": amount, "call_minutes": call})
>>> labels = events.filter(pl.Series(fraud)).select(pl.lit("transfer").alias("entity_type"),
...     pl.col("transfer_id").alias("entity_id"), pl.lit(True).alias("is_fraud"),
...     (pl.col("time") + timedelta(days=1)).alias("known_at"))
>>> groups = {"amount": "transfer", "call_minutes": "cross_channel"}
>>> split = TimeSplit.from_days(start, 12, 1, 8)
>>> results = compare_setups(events, labels, groups, "h", split, k=5, num_boost_round=30)
>>> [r.name for r in results]
['transfer-only', 'cross-channel', 'cross-channel + online']
>>> results[1].report.average_precision > results[0].report.average_precision
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import numpy as np
import polars as pl

from fraud_brain.scoring.blend import BlendConfig, ExpertWeights, logit, sigmoid
from fraud_brain.scoring.evaluate import (
    DetectionReport,
    detection_report,
    metrics_before_after,
    metrics_by_window,
)
from fraud_brain.scoring.offline import (
    LABEL,
    TimeSplit,
    TrainResult,
    feature_matrix,
    label_events,
    train_offline,
)
from fraud_brain.scoring.online import OnlineModel, ReplayLog, replay_online
from fraud_brain.scoring.scorer import OFFLINE_LOGIT, online_inputs

DEFAULT_BLEND = BlendConfig(offline_weight=1.0, online_weight=0.5, online_min_labels=20)
"""Marks the default: weights then follow each part's recent accuracy (:class:`ExpertWeights`);
any other config is a fixed blend."""

TRANSFER_GROUPS = ("transfer", "profile")
"""Feature groups a bank alone could compute (the transfer-only baseline)."""


@dataclass
class SetupResult:
    """One evaluated setup: its report, its AP per time window, and the scored test events."""

    name: str
    features: list[str]
    report: DetectionReport
    windows: pl.DataFrame
    scored: pl.DataFrame
    train: TrainResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def transfer_only(feature_groups: dict[str, str]) -> list[str]:
    """Features of the transfer-only baseline (groups transfer and profile).

    >>> transfer_only({"amount": "transfer", "caller_risk": "cross_channel", "age": "profile"})
    ['amount', 'age']
    """
    return [name for name, group in feature_groups.items() if group in TRANSFER_GROUPS]


def online_scores(
    events: pl.DataFrame,
    labels: pl.DataFrame,
    feature_names: list[str],
    offline_raw: np.ndarray,
    start: Any,
    negative_after: timedelta,
    learn_every: timedelta = timedelta(hours=1),
    key: str = "transfer_id",
    time_col: str = "time",
    model: Any = None,
    negative_sample: float = 0.25,
) -> tuple[np.ndarray, Any, ReplayLog]:
    """Online-model scores of ``events`` (sorted by time), learning from ``start`` onwards.

    The model sees events from ``start`` only (it is deployed then) and learns each label at
    the first hourly step after ``known_at``; a quarter of the matured legitimate events are
    learned by default (unweighted: a shift toward fraud that ranking does not mind).
    """
    model = model if model is not None else OnlineModel([*feature_names, OFFLINE_LOGIT])
    times = events[time_col].dt.epoch("ms").to_numpy()
    begin = int(np.searchsorted(times, int(start.timestamp() * 1000), side="left"))
    X = online_inputs(feature_matrix(events, feature_names), offline_raw)
    transfer_labels = labels.filter(pl.col("entity_type").cast(pl.String) == "transfer")
    scores = np.full(events.height, np.nan)
    part, log = replay_online(
        events[key].cast(pl.String).to_list()[begin:],
        times[begin:],
        X[begin:],
        transfer_labels["entity_id"].to_list(),
        transfer_labels["known_at"].dt.epoch("ms").to_numpy(),
        transfer_labels["is_fraud"].cast(pl.Int8).to_numpy(),
        model,
        learn_every=int(learn_every.total_seconds() * 1000),
        negative_after=int(negative_after.total_seconds() * 1000),
        negative_sample=negative_sample,
        negative_weight=1.0,
    )
    scores[begin:] = part
    return scores, model, log


def compare_setups(
    events: pl.DataFrame,
    labels: pl.DataFrame,
    feature_groups: dict[str, str],
    spec_hash: str,
    split: TimeSplit,
    first_scam_calls: pl.DataFrame | None = None,
    k: int = 100,
    window: str = "1w",
    blend: BlendConfig | None = None,
    entity: str = "payer_account",
    num_boost_round: int = 200,
    params: dict[str, Any] | None = None,
    evaluation_labels: pl.DataFrame | None = None,
) -> list[SetupResult]:
    """Evaluate the three setups on one point-in-time split of scored transfers.

    ``events`` has one row per transfer: ``transfer_id``, ``time``, ``entity``, ``amount``
    (when present) and the feature columns named in ``feature_groups``. Models learn from
    ``labels`` as they become known; test windows are judged by ``evaluation_labels``
    (default: every label, i.e. the eventual truth).
    """
    events = events.sort("time")
    blend = blend or DEFAULT_BLEND
    all_features = list(feature_groups)
    bank_features = transfer_only(feature_groups)
    if not bank_features:
        raise ValueError("no transfer-group features: the transfer-only baseline needs at least one")
    results: list[SetupResult] = []
    cross: TrainResult | None = None
    for name, names in (("transfer-only", bank_features), ("cross-channel", all_features)):
        trained = train_offline(
            events, labels, names, spec_hash, split, name="transfer", num_boost_round=num_boost_round, params=params,
            test_labels=evaluation_labels,
        )
        results.append(_result(name, names, trained.test, trained, k, entity, window, first_scam_calls))
        cross = trained
    assert cross is not None
    # The online model runs over the whole history (learning only from labels once known),
    # so at the start of the test window it has what a deployed one would have had.
    in_window = events.filter((pl.col("time") >= split.train_start) & (pl.col("time") < split.test_end))
    raw = cast(np.ndarray, cross.booster.predict(feature_matrix(in_window, all_features), raw_score=True))
    if blend is DEFAULT_BLEND:
        tracked = _TrackedOnline(OnlineModel([*all_features, OFFLINE_LOGIT]), ExpertWeights())
        online, model, log = online_scores(
            in_window, labels, all_features, raw, split.train_start, split.gap, model=tracked
        )
        weights = np.zeros((len(raw), 2))
        weights[len(raw) - len(tracked.weights_at) :] = tracked.weights_at
        blended = weights[:, 0] * raw + weights[:, 1] * logit(np.nan_to_num(online, nan=0.5))
        model = tracked.model
    else:
        online, model, log = online_scores(in_window, labels, all_features, raw, split.train_start, split.gap)
        ready = _labels_seen(in_window, log)
        blended = blend.blend(sigmoid(raw), np.nan_to_num(online, nan=0.5), online_labels=ready)
    scored = (
        in_window.with_columns(pl.Series("score", sigmoid(blended)), pl.Series("online_score", online))
        .filter(pl.col("time") >= split.test_start)
    )
    scored = label_events(scored, labels if evaluation_labels is None else evaluation_labels)
    results.append(
        _result(
            "cross-channel + online", all_features, scored, None, k, entity, window, first_scam_calls,
            extra={"online_learned": log.n_learned, "online_positives": model.n_positive},
        )
    )
    return results


class _TrackedOnline:
    """An online model that, before learning each labelled batch, lets both parts be judged on
    it, and remembers the blend weights in force when each event was scored."""

    def __init__(self, model: OnlineModel, experts: ExpertWeights) -> None:
        self.model = model
        self.experts = experts
        self.weights_at: list[tuple[float, float]] = []

    @property
    def n_positive(self) -> int:
        return self.model.n_positive

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self.weights_at.extend([self.experts.weights] * len(X))
        return self.model.predict_proba(X)

    def learn(self, X: np.ndarray, y: np.ndarray, weight: float | np.ndarray = 1.0) -> None:
        # the offline log-odds are the last input column (see online_inputs)
        self.experts.update(sigmoid(X[:, -1]), self.model.predict_proba(X), y)
        self.model.learn(X, y, weight)


def drift_summary(results: list[SetupResult], at: Any) -> pl.DataFrame:
    """Each setup's AP on the test events before and from ``at`` (the drift moment), and the change.

    ``ap_before`` / ``ap_after`` pool each period's events; ``window_ap_before`` /
    ``window_ap_after`` average the per-window AP of :attr:`SetupResult.windows` (windows
    starting before / from ``at``), which a score scale moving over time (an online model
    learning) does not blur.

    >>> from datetime import datetime, UTC
    >>> d = lambda day: datetime(2026, 1, day, tzinfo=UTC)
    >>> scored = pl.DataFrame({"time": [d(1), d(1), d(3), d(3)], "score": [0.9, 0.1, 0.2, 0.8],
    ...     "label": [1, 0, 1, 0]})
    >>> frozen = SetupResult("frozen", [], None, metrics_by_window(scored, "1d"), scored)  # type: ignore[arg-type]
    >>> drift_summary([frozen], d(2)).row(0)
    ('frozen', 1, 1, 1.0, 0.5, -0.5, 1.0, 0.5)
    """
    rows = []
    for result in results:
        periods = metrics_before_after(result.scored, at)
        before, after = periods.row(0, named=True), periods.row(1, named=True)
        windows = result.windows

        def window_ap(part: pl.DataFrame) -> float:
            return float(cast(float, part["average_precision"].fill_nan(None).mean()) or float("nan"))

        rows.append(
            {
                "setup": result.name,
                "frauds_before": before["frauds"],
                "frauds_after": after["frauds"],
                "ap_before": before["average_precision"],
                "ap_after": after["average_precision"],
                "ap_change": after["average_precision"] - before["average_precision"],
                "window_ap_before": window_ap(windows.filter(pl.col("window_start") < at)),
                "window_ap_after": window_ap(windows.filter(pl.col("window_start") >= at)),
            }
        )
    return pl.DataFrame(rows)


def _labels_seen(events: pl.DataFrame, log: ReplayLog) -> np.ndarray:
    """How many fraud labels the online model had learned before each event."""
    times = events["time"].dt.epoch("ms").to_numpy()
    moments = np.asarray(log.learned_at, dtype=np.int64)
    counts = np.cumsum([int(y.sum()) for y in log.learned_labels]) if log.learned_keys else np.zeros(0)
    index = np.searchsorted(moments, times, side="right")
    return np.where(index > 0, np.concatenate([[0], counts])[index], 0)


def _result(
    name: str,
    names: list[str],
    scored: pl.DataFrame,
    trained: TrainResult | None,
    k: int,
    entity: str,
    window: str,
    first_scam_calls: pl.DataFrame | None,
    extra: dict[str, Any] | None = None,
) -> SetupResult:
    report = detection_report(scored, k=k, entity=entity, first_scam_calls=first_scam_calls, label=LABEL)
    return SetupResult(name, names, report, metrics_by_window(scored, window), scored, trained, extra or {})


def compare_number_setups(
    calls: pl.DataFrame,
    labels: pl.DataFrame,
    call_groups: dict[str, str],
    spec_hash: str,
    split: TimeSplit,
    fraud_numbers: list[str] | None = None,
    k: int = 20,
    cold_start_feature: str = "caller_new",
    anomaly_weight: float = 2.0,
    num_boost_round: int = 200,
    params: dict[str, Any] | None = None,
) -> list[SetupResult]:
    """Calling numbers: the number model alone, and with the anomaly score for cold-start numbers.

    Calls are scored one by one; a number's daily score is its highest call score that day.
    Measured per (number, day) against ``fraud_numbers`` (simulated truth) or, by default,
    every fraud number label. The HalfSpaceTrees model learns test-then-train from the
    training window onwards, on cold-start calls only.
    """
    from fraud_brain.scoring.online import AnomalyScorer

    names = list(call_groups)
    calls = calls.sort("start_time")
    if fraud_numbers is None:
        fraud_numbers = labels.filter(
            (pl.col("entity_type").cast(pl.String) == "number") & pl.col("is_fraud")
        )["entity_id"].to_list()
    truth = pl.DataFrame({"entity_type": "number", "entity_id": fraud_numbers, "is_fraud": True}).with_columns(
        pl.lit(None, pl.Datetime("ms", "UTC")).alias("known_at")
    )
    trained = train_offline(
        calls, labels, names, spec_hash, split, name="number", entity_type="number", key="caller",
        time_col="start_time", num_boost_round=num_boost_round, params=params, test_labels=truth,
    )
    window = calls.filter((pl.col("start_time") >= split.train_start) & (pl.col("start_time") < split.test_end))
    X = feature_matrix(window, names)
    cold = X[:, names.index(cold_start_feature)] >= 1 if cold_start_feature in names else np.ones(len(X), bool)
    train_rows = window["start_time"] < split.train_end
    cold_train = cold & train_rows.to_numpy()
    scorer = AnomalyScorer(names).fit_limits(X[cold_train] if cold_train.any() else X)
    anomaly = np.full(len(X), 0.5)
    anomaly[cold] = scorer.score_learn(X[cold])
    blended = BlendConfig(1.0, 0.0, anomaly_weight).blend(
        sigmoid(cast(np.ndarray, trained.booster.predict(X, raw_score=True))), anomaly=anomaly
    )
    with_anomaly = label_events(
        window.with_columns(pl.Series("score", sigmoid(blended))).filter(pl.col("start_time") >= split.test_start),
        truth, "number", "caller",
    )
    results = []
    for name, scored in (("number model", trained.test), ("number model + cold-start anomaly", with_anomaly)):
        daily = (
            scored.group_by(pl.col("start_time").dt.truncate("1d").alias("time"), "caller")
            .agg(pl.col("score").max(), pl.col(LABEL).max())
        )
        report = detection_report(daily, k=k, entity="caller", amount="__none__", label=LABEL)
        results.append(SetupResult(name, names, report, metrics_by_window(daily, "1d"), daily, trained))
    return results


def compare_stream_setups(
    events: pl.DataFrame,
    labels: pl.DataFrame,
    feature_groups: dict[str, str],
    spec_hash: str,
    split: TimeSplit,
    entity_type: str,
    key: str,
    entity: str,
    amount: str | None = None,
    time_col: str = "time",
    k: int = 100,
    window: str = "1w",
    num_boost_round: int = 200,
    params: dict[str, Any] | None = None,
    evaluation_labels: pl.DataFrame | None = None,
    name: str = "model",
) -> list[SetupResult]:
    """Any scored stream: the model on every feature, then on each feature group alone.

    Each setup is trained point-in-time on labels of ``entity_type`` naming the row's ``key``
    and judged on the test window by ``evaluation_labels`` (default: every label); alerts are
    counted per ``entity`` and day, money by the ``amount`` column when given. The group-only
    setups show what each part of the spec (e.g. the customer's habits, the terminal's
    reported fraud) adds.

    >>> import numpy as np, polars as pl
    >>> from datetime import datetime, timedelta, UTC
    >>> rng = np.random.default_rng(0)
    >>> n, start = 3000, datetime(2026, 3, 2, tzinfo=UTC)
    >>> risk, habit = rng.exponential(1, n), rng.normal(size=n)
    >>> fraud = rng.random(n) < 1 / (1 + np.exp(-(-5 + 2 * risk)))
    >>> events = pl.DataFrame({"tx_id": [f"t{i}" for i in range(n)],
    ...     "time": [start + timedelta(minutes=10 * i) for i in range(n)],
    ...     "customer_id": [f"c{i % 300}" for i in range(n)], "risk": risk, "habit": habit})
    >>> labels = events.filter(pl.Series(fraud)).select(pl.lit("tx").alias("entity_type"),
    ...     pl.col("tx_id").alias("entity_id"), pl.lit(True).alias("is_fraud"),
    ...     (pl.col("time") + timedelta(days=1)).alias("known_at"))
    >>> results = compare_stream_setups(events, labels, {"risk": "terminal", "habit": "customer"}, "h",
    ...     TimeSplit.from_days(start, 12, 1, 8), "tx", "tx_id", "customer_id", k=5, num_boost_round=30)
    >>> [r.name for r in results]
    ['all features', 'terminal features only', 'customer features only']
    >>> results[1].report.average_precision > results[2].report.average_precision
    True
    """
    events = events.sort(time_col, maintain_order=True)
    setups = [("all features", list(feature_groups))]
    groups = list(dict.fromkeys(feature_groups.values()))
    if len(groups) > 1:
        setups += [(f"{g} features only", [f for f, group in feature_groups.items() if group == g]) for g in groups]
    results = []
    for setup, names in setups:
        trained = train_offline(
            events, labels, names, spec_hash, split, name=name, entity_type=entity_type, key=key, time_col=time_col,
            params=params, num_boost_round=num_boost_round, test_labels=evaluation_labels,
        )
        report = detection_report(trained.test, k=k, entity=entity, time_col=time_col, label=LABEL,
                                  amount=amount or "__none__")
        results.append(SetupResult(setup, names, report, metrics_by_window(trained.test, window, time_col),
                                   trained.test, trained))
    return results
