"""Blending offline, online and anomaly scores, calibrated to a probability.

The parts are combined in log-odds with configurable weights (the online part only once it
has learned from enough labels), then mapped to a probability by a calibrator fitted on a
held-out period: isotonic regression (piecewise-linear, applied with ``np.interp``) or Platt
scaling (a logistic curve). Both are stored as plain numbers, so the hot path needs no
scikit-learn.

>>> import numpy as np
>>> config = BlendConfig(offline_weight=1.0, online_weight=0.5)
>>> z = config.blend(np.array([0.9, 0.1]), np.array([0.5, 0.5]))
>>> np.round(z, 3).tolist()
[2.197, -2.197]
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1.

    >>> logit(np.array([0.5])).tolist()
    [0.0]
    """
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    odds: np.ndarray = np.log(p / (1 - p))
    return odds


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The inverse of :func:`logit`.

    >>> sigmoid(np.array([0.0])).tolist()
    [0.5]
    """
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


@dataclass
class BlendConfig:
    """Weights of each part in log-odds; the online part counts once it has learned
    ``online_min_labels`` fraud labels (legitimate examples are plentiful; frauds are not).

    >>> BlendConfig.from_dict({"offline_weight": 0.7, "online_weight": 0.3}).online_weight
    0.3
    """

    offline_weight: float = 1.0
    online_weight: float = 0.0
    anomaly_weight: float = 0.0
    online_min_labels: int = 0

    def __post_init__(self) -> None:
        for name in ("offline_weight", "online_weight", "anomaly_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"blend config: {name} = {value!r} must be a number >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "blend config") -> BlendConfig:
        """Build from a dict (e.g. a TOML table), naming unknown keys."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> BlendConfig:
        """Read the ``[blend]`` table of a TOML file."""
        data = tomllib.loads(Path(path).read_text())
        return cls.from_dict(data.get("blend", {}), f"{path}: [blend]")

    def blend(
        self,
        offline: np.ndarray,
        online: np.ndarray | None = None,
        anomaly: np.ndarray | None = None,
        online_labels: int | np.ndarray | None = None,
    ) -> np.ndarray:
        """The blended log-odds of the parts (probabilities; anomaly scores in [0, 1]).

        ``online_labels`` (one count, or one per row) is how many fraud labels the online
        model had learned; below ``online_min_labels`` its part is left out.
        """
        z = self.offline_weight * logit(offline)
        if online is not None and self.online_weight:
            ready = 1.0 if online_labels is None else (np.asarray(online_labels) >= self.online_min_labels)
            z = z + self.online_weight * logit(online) * ready
        if anomaly is not None and self.anomaly_weight:
            z = z + self.anomaly_weight * np.nan_to_num(np.asarray(anomaly, dtype=np.float64) - 0.5)
        return z


@dataclass
class Calibrator:
    """Maps a blended log-odds to a probability, fitted on a held-out period.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=5000); y = rng.random(5000) < sigmoid(2 * z - 1)
    >>> cal = Calibrator.fit(z, y, method="platt")
    >>> round(cal.a, 1), round(cal.b, 1)
    (2.0, -1.0)
    >>> Calibrator.from_dict(cal.to_dict()).predict(np.array([0.5])).round(1).tolist()
    [0.5]
    """

    method: Literal["isotonic", "platt", "identity"] = "identity"
    a: float = 1.0
    b: float = 0.0
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, z: np.ndarray, labels: np.ndarray, method: Literal["isotonic", "platt"] = "isotonic") -> Calibrator:
        """Fit on held-out blended log-odds and their 0/1 labels."""
        z = np.asarray(z, dtype=np.float64)
        labels = np.asarray(labels).astype(np.float64)
        if len(np.unique(labels)) < 2:
            raise ValueError(f"calibration set of {len(labels)} events has a single class")
        if method == "platt":
            from sklearn.linear_model import LogisticRegression

            fitted = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), labels)
            return cls("platt", a=float(fitted.coef_[0, 0]), b=float(fitted.intercept_[0]))
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            fitted = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(z, labels)
            return cls("isotonic", x=fitted.X_thresholds_.tolist(), y=fitted.y_thresholds_.tolist())
        raise ValueError(f"calibration method {method!r} must be 'isotonic' or 'platt'")

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Probabilities for blended log-odds."""
        z = np.asarray(z, dtype=np.float64)
        if self.method == "platt":
            return sigmoid(self.a * z + self.b)
        if self.method == "isotonic":
            mapped: np.ndarray = np.interp(z, self.x, self.y)
            return mapped
        return sigmoid(z)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Rebuild from :meth:`to_dict` output."""
        if data.get("method") not in ("isotonic", "platt", "identity"):
            raise ValueError(f"calibrator: method {data.get('method')!r} must be isotonic, platt or identity")
        return cls(**data)


class ExpertWeights:
    """Blend weights of the offline and online parts from how well each ranked recent labels.

    Before the online part learns a labelled batch, both parts' predictions on it are kept in
    a window of the last ``window`` frauds and ``window * 10`` legitimate events; each part's
    average precision on that window gives the weights ``softmax(eta * AP)``. Ranking, not
    log-loss, is the judge: a frozen model may be badly calibrated for today's base rate and
    still rank best. Until ``min_positives`` frauds have been seen the offline part keeps all
    the weight. A frozen model that decays under drift thus hands over to the online model.

    >>> experts = ExpertWeights(min_positives=2)
    >>> y = np.array([1, 0, 0, 1, 0, 0])
    >>> experts.update(np.array([0.2, 0.8, 0.7, 0.3, 0.9, 0.6]), np.array([0.9, 0.1, 0.2, 0.8, 0.3, 0.1]), y)
    >>> offline, online = experts.weights
    >>> online > 0.99
    True
    """

    def __init__(self, eta: float = 10.0, window: int = 200, min_positives: int = 20) -> None:
        self.eta = eta
        self.window = window
        self.min_positives = min_positives
        self.positives = 0
        self._pos = np.empty((0, 2))
        self._neg = np.empty((0, 2))
        self._weights = (1.0, 0.0)

    def update(self, offline: np.ndarray, online: np.ndarray, labels: np.ndarray) -> None:
        """Judge both parts on newly labelled rows (before the online part learns them)."""
        labels = np.asarray(labels).astype(bool)
        pairs = np.column_stack([np.asarray(offline, dtype=np.float64), np.asarray(online, dtype=np.float64)])
        self._pos = np.concatenate([self._pos, pairs[labels]])[-self.window :]
        self._neg = np.concatenate([self._neg, pairs[~labels]])[-self.window * 10 :]
        self.positives += int(labels.sum())
        if self.positives < self.min_positives or len(self._pos) == 0 or len(self._neg) == 0:
            return
        from sklearn.metrics import average_precision_score

        y = np.concatenate([np.ones(len(self._pos)), np.zeros(len(self._neg))])
        both = np.concatenate([self._pos, self._neg])
        precision = np.array([average_precision_score(y, both[:, expert]) for expert in (0, 1)])
        scores = np.exp(self.eta * (precision - precision.max()))
        self._weights = (float(scores[0] / scores.sum()), float(scores[1] / scores.sum()))

    @property
    def weights(self) -> tuple[float, float]:
        """(offline, online) weights summing to 1."""
        return self._weights
