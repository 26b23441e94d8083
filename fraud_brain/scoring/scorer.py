"""The scoring facade: offline LightGBM + online river + anomaly, blended, calibrated, explained.

``score_batch`` scores a feature frame (replay, feeds); ``score_one`` is the synchronous
single-record path for a bank's pre-transfer check: one ``Booster.predict`` on a 1-row float64
array, no scikit-learn, no pandas. A challenger model, when set, is scored in shadow: its
scores go to ``shadow_log`` and never into the result.

>>> import numpy as np, polars as pl, lightgbm as lgb
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(500, 2)); y = (X[:, 0] > 1).astype(float)
>>> booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 20)
>>> scorer = Scorer(booster, ["amount", "payee_fan_in_24h"])
>>> result = scorer.score_one({"amount": 3.0, "payee_fan_in_24h": 0.0})
>>> 0.5 < result.score <= 1.0, result.reasons[0].feature
(True, 'amount')
>>> frame = pl.DataFrame({"transfer_id": ["t1", "t2"], "amount": [3.0, -2.0], "payee_fan_in_24h": [0.0, 0.0]})
>>> scorer.score_batch(frame).select("transfer_id", pl.col("score") > 0.5).rows()
[('t1', True), ('t2', False)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from fraud_brain.scoring.blend import BlendConfig, Calibrator, logit, sigmoid
from fraud_brain.scoring.offline import feature_matrix
from fraud_brain.scoring.online import AnomalyScorer, OnlineLearner, OnlineModel
from fraud_brain.scoring.reasons import Reason, ReasonTemplates, top_reasons
from fraud_brain.scoring.registry import LoadedModel, ModelRegistry

PREDICT_THREADS = 1
"""LightGBM prediction on one thread: OpenMP threads spinning on a busy machine turn a 0.2 ms
single-row prediction into 10 ms, and parallel scoring belongs to partitions, not threads."""


def predict(booster: lgb.Booster, X: np.ndarray, *, raw_score: bool = False, pred_contrib: bool = False) -> np.ndarray:
    """A booster's predictions (probabilities, raw log-odds or SHAP contributions) as a float64 array."""
    out = booster.predict(X, raw_score=raw_score, pred_contrib=pred_contrib, num_threads=PREDICT_THREADS)
    return np.asarray(out, dtype=np.float64)

OFFLINE_LOGIT = "offline_logit"
"""The extra input the online model gets: the offline model's log-odds (it learns a correction)."""


def online_inputs(X: np.ndarray, offline_raw: np.ndarray) -> np.ndarray:
    """The online model's input rows: the features plus the offline log-odds as a last column.

    >>> online_inputs(np.array([[1.0, 2.0]]), np.array([0.5])).tolist()
    [[1.0, 2.0, 0.5]]
    """
    return np.column_stack([X, offline_raw])


@dataclass
class Score:
    """One scored event: the calibrated score, its parts, and the reasons behind it."""

    score: float
    offline: float
    online: float | None = None
    anomaly: float | None = None
    reasons: list[Reason] = field(default_factory=list)


class Scorer:
    """Score feature rows with the champion model (and optional online/anomaly parts)."""

    def __init__(
        self,
        model: lgb.Booster | LoadedModel,
        feature_names: list[str],
        *,
        templates: ReasonTemplates | None = None,
        online: OnlineModel | OnlineLearner | None = None,
        anomaly: AnomalyScorer | None = None,
        blend: BlendConfig | None = None,
        calibrator: Calibrator | None = None,
        challenger: LoadedModel | None = None,
        shadow_log: Callable[[pl.DataFrame], None] | None = None,
        n_reasons: int = 3,
        reason_threshold: float = 0.0,
        id_col: str = "transfer_id",
        cold_start_feature: str | None = None,
        time_col: str = "time",
    ) -> None:
        self.booster = model.booster if isinstance(model, LoadedModel) else model
        self.manifest = model.manifest if isinstance(model, LoadedModel) else None
        if self.booster.num_feature() != len(feature_names):
            raise ValueError(
                f"scorer: model has {self.booster.num_feature()} features "
                f"but {len(feature_names)} feature names were given"
            )
        self.feature_names = list(feature_names)
        self._index = {name: i for i, name in enumerate(self.feature_names)}
        self.templates = templates or ReasonTemplates.load()
        # An OnlineLearner also keeps each scored event's inputs for its label (batch path);
        # its model is what predicts.
        self.learner = online if isinstance(online, OnlineLearner) else None
        online_model = online.model if isinstance(online, OnlineLearner) else online
        if online_model is not None and not isinstance(online_model, OnlineModel):
            raise TypeError(f"scorer: the online part must be an OnlineModel, not {type(online_model).__name__}")
        self.online: OnlineModel | None = online_model
        self.anomaly = anomaly
        self.blend = blend or BlendConfig()
        self.calibrator = calibrator or Calibrator()
        self.challenger = challenger
        self.shadow_log = shadow_log
        self.n_reasons = n_reasons
        self.reason_threshold = reason_threshold
        self.id_col = id_col
        self.time_col = time_col
        if cold_start_feature is not None and cold_start_feature not in self._index:
            raise ValueError(f"scorer: cold_start_feature {cold_start_feature!r} is not one of the features")
        self.cold_start_feature = cold_start_feature
        self._row = np.zeros((1, len(self.feature_names)), dtype=np.float64)

    @classmethod
    def from_registry(
        cls, registry: ModelRegistry, name: str, feature_names: list[str], spec_hash: str, **options: Any
    ) -> Scorer:
        """The champion of ``name`` (checked against the running spec), its challenger in shadow.

        The champion's manifest supplies the calibration and blend it was published with.
        """
        champion = registry.load_champion(name, feature_names, spec_hash)
        challenger = registry.load_challenger(name, feature_names, spec_hash)
        if champion.manifest.calibration and "calibrator" not in options:
            options["calibrator"] = Calibrator.from_dict(champion.manifest.calibration)
        if champion.manifest.blend and "blend" not in options:
            options["blend"] = BlendConfig.from_dict(champion.manifest.blend)
        return cls(champion, feature_names, challenger=challenger, **options)

    def _combine(
        self, offline_raw: np.ndarray, X: np.ndarray, learn_anomaly: bool, events: pl.DataFrame | None = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        offline = sigmoid(offline_raw)
        online = None
        if self.learner is not None and events is not None:
            times = (
                events[self.time_col].dt.epoch("ms").to_numpy()
                if self.time_col in events.columns
                else np.zeros(len(X), np.int64)
            )
            online = self.learner.observe(
                events[self.id_col].cast(pl.String).to_list(), times, online_inputs(X, offline_raw)
            )
        elif self.online is not None and self.blend.online_weight:
            online = self.online.predict_proba(online_inputs(X, offline_raw))
        anomaly = None
        if self.anomaly is not None and self.blend.anomaly_weight:
            anomaly = self._anomaly(X, learn_anomaly)
        labels = self.online.n_positive if self.online is not None else None
        z = self.blend.blend(offline, online, anomaly, labels)
        return self.calibrator.predict(z), online, anomaly

    def _anomaly(self, X: np.ndarray, learn: bool) -> np.ndarray:
        """Anomaly scores for cold-start rows (all rows without ``cold_start_feature``);
        other rows get 0.5, which the blend treats as neutral."""
        assert self.anomaly is not None
        rows = np.arange(len(X))
        if self.cold_start_feature is not None:
            rows = np.flatnonzero(X[:, self._index[self.cold_start_feature]] >= 1)
        out = np.full(len(X), 0.5)
        if len(rows):
            out[rows] = self.anomaly.score_learn(X[rows]) if learn else self.anomaly.score(X[rows])
        return out

    def score_batch(self, features: pl.DataFrame, learn_anomaly: bool = True) -> pl.DataFrame:
        """Score a feature frame: id (and time) columns kept, score parts and reasons added.

        Reasons are computed for rows whose score is at least ``reason_threshold`` (they cost
        a SHAP pass per row); other rows get empty lists. With an :class:`OnlineLearner` the
        events are also remembered for their labels (``learner.learn_labels`` later).
        """
        X = feature_matrix(features, self.feature_names)
        offline_raw = predict(self.booster, X, raw_score=True) if len(X) else np.empty(0)
        score, online, anomaly = self._combine(offline_raw, X, learn_anomaly, features)
        keep = [c for c in (self.id_col, self.time_col) if c in features.columns]
        out = features.select(keep).with_columns(
            pl.Series("score", score, dtype=pl.Float64),
            pl.Series("offline_score", sigmoid(offline_raw), dtype=pl.Float64),
            (
                pl.Series("online_score", online, dtype=pl.Float64)
                if online is not None
                else pl.lit(None, pl.Float64).alias("online_score")
            ),
            (
                pl.Series("anomaly_score", anomaly, dtype=pl.Float64)
                if anomaly is not None
                else pl.lit(None, pl.Float64).alias("anomaly_score")
            ),
        )
        out = out.with_columns(self._reason_columns(X, np.flatnonzero(score >= self.reason_threshold)))
        if self.challenger is not None and self.shadow_log is not None and len(X):
            shadow = predict(self.challenger.booster, X)
            log = features.select(keep).with_columns(
                pl.Series("champion_score", score), pl.Series("challenger_score", shadow),
                pl.lit(self.challenger.manifest.version).alias("challenger_version"),
            )
            self.shadow_log(log)
        return out

    def explain(self, features: pl.DataFrame) -> pl.DataFrame:
        """Reason columns for every row of a feature frame, whatever its score (the id column kept).

        For events acted on below ``reason_threshold`` (a rule on features alone): whoever
        reads the case still gets the model's reasons.
        """
        X = feature_matrix(features, self.feature_names)
        keep = [c for c in (self.id_col,) if c in features.columns]
        return features.select(keep).with_columns(self._reason_columns(X, np.arange(len(X))))

    def _reason_columns(self, X: np.ndarray, rows: np.ndarray) -> list[pl.Series]:
        # Built from flat columns: a Python list of lists per row costs seconds per million rows.
        n = len(X)
        columns = ["reasons_en", "reasons_zh", "reason_features"]
        if not (self.n_reasons and len(rows)):
            # most batches: nothing to explain, every row gets the empty list
            empty = pl.Series("", [[]], dtype=pl.List(pl.String))
            return [empty.new_from_index(0, n).alias(c) for c in columns] if n else \
                [pl.Series(c, [], dtype=pl.List(pl.String)) for c in columns]
        row_of: list[int] = []
        en: list[str] = []
        zh: list[str] = []
        names: list[str] = []
        contrib = predict(self.booster, X[rows], pred_contrib=True)
        explained = top_reasons(contrib, X[rows], self.feature_names, self.templates, self.n_reasons)
        for row, reasons in zip(rows.tolist(), explained, strict=True):
            for reason in reasons:
                row_of.append(row)
                en.append(reason.en)
                zh.append(reason.zh)
                names.append(reason.feature)
        flat = pl.DataFrame(
            {"_row": row_of, "reasons_en": en, "reasons_zh": zh, "reason_features": names},
            schema={"_row": pl.Int64, "reasons_en": pl.String, "reasons_zh": pl.String, "reason_features": pl.String},
        )
        grouped = flat.group_by("_row").agg(pl.all())
        out = (
            pl.DataFrame({"_row": pl.int_range(n, eager=True, dtype=pl.Int64)})
            .join(grouped, on="_row", how="left", maintain_order="left")
            .with_columns(pl.col(c).fill_null(pl.lit([], dtype=pl.List(pl.String))) for c in columns)
        )
        return [out[c] for c in columns]

    def vector(self, values: np.ndarray | dict[str, float]) -> np.ndarray:
        """One event's features as a 1-row float64 matrix (missing dict entries become NaN)."""
        row = self._row
        if isinstance(values, dict):
            unknown = [name for name in values if name not in self._index]
            if unknown:
                raise ValueError(f"score_one: unknown feature(s) {unknown}; expected {self.feature_names}")
            row.fill(np.nan)
            for name, value in values.items():
                row[0, self._index[name]] = np.nan if value is None else value
            return row
        array = np.asarray(values, dtype=np.float64)
        if array.size != len(self.feature_names):
            raise ValueError(f"score_one: got {array.size} values, expected {len(self.feature_names)} features")
        row[0] = array.ravel()
        return row

    def score_one(self, values: np.ndarray | dict[str, float], reasons: bool | None = None) -> Score:
        """Score a single event synchronously (a bank's pre-transfer check).

        ``reasons=None`` explains only scores at or above ``reason_threshold`` (a SHAP pass
        costs ~10x a prediction, and a low-risk transfer needs no explanation); True always,
        False never. With reasons, one SHAP pass gives both the raw score and the contributions.
        """
        X = self.vector(values)
        if reasons and self.n_reasons:
            contrib = predict(self.booster, X, pred_contrib=True)
            raw = contrib.sum(axis=1)
        else:
            contrib = None
            raw = predict(self.booster, X, raw_score=True)
        offline = float(sigmoid(raw)[0])
        online = None
        if self.online is not None and self.blend.online_weight:
            online = float(self.online.predict_proba_one(online_inputs(X, raw)[0]))
        anomaly = None
        if self.anomaly is not None and self.blend.anomaly_weight:
            anomaly = float(self._anomaly(X, learn=False)[0])
        labels = self.online.n_positive if self.online is not None else None
        z = self.blend.blend(
            np.array([offline]),
            None if online is None else np.array([online]),
            None if anomaly is None else np.array([anomaly]),
            labels,
        )
        score = float(self.calibrator.predict(z)[0])
        if contrib is None and reasons is None and self.n_reasons and score >= self.reason_threshold:
            contrib = predict(self.booster, X, pred_contrib=True)
        explained = (
            [] if contrib is None else top_reasons(contrib, X, self.feature_names, self.templates, self.n_reasons)[0]
        )
        return Score(score, offline, online, anomaly, explained)


def load_champion_scorer(
    models: str | Path, spec: Any = "telecom", name: str = "transfer", **options: Any
) -> Scorer:
    """The champion of model ``name`` for a feature spec (a bundled name, a spec file or a loaded spec).

    The stream it scores is the one whose ``[streams.NAME.scoring]`` names this model (``number``
    scores the telecom spec's ``call`` stream); its features, id and time columns and reason
    threshold come from the spec. The model must have been trained on exactly this spec's
    features; otherwise :class:`~fraud_brain.scoring.registry.FeatureMismatchError` says what differs.
    """
    from fraud_brain.features import resolve_spec
    from fraud_brain.scoring.dataset import spec_hash

    loaded = resolve_spec(spec)
    streams = [s for s in loaded.scored_streams() if loaded.scoring(s).model == name]
    if not streams:
        models_of = {s: loaded.scoring(s).model for s in loaded.scored_streams()}
        raise ValueError(f"feature spec {loaded.name}: no scored stream uses model {name!r}; models: {models_of}")
    stream = loaded.streams[streams[0]]
    feature_names = list(loaded.feature_groups(stream.name))
    options.setdefault("id_col", stream.id)
    options.setdefault("time_col", stream.time)
    options.setdefault("reason_threshold", loaded.scoring(stream.name).reason_threshold)
    return Scorer.from_registry(ModelRegistry(models), name, feature_names, spec_hash(loaded), **options)


__all__ = ["OFFLINE_LOGIT", "Score", "Scorer", "load_champion_scorer", "logit", "online_inputs"]
