"""Reason codes: the top contributing features of a score, as sentences an agent can read.

Contributions come from LightGBM itself (``pred_contrib=True``: per-feature SHAP values in
log-odds, plus the expected value, summing to the raw score). Sentences come from a TOML file
of templates keyed by feature name, in English and Chinese; unknown features, or templates
whose inputs are missing, fall back to a generic sentence.

>>> templates = ReasonTemplates.load()
>>> values = {"last_call_duration_s": 1680.0, "caller_age_days": 2.0, "minutes_since_last_call": 14.0}
>>> templates.sentence("last_call_duration_s", values, "en")
'28-minute call from a number first seen 2 days ago, 14 minutes before this transfer'
>>> templates.sentence("last_call_duration_s", values, "zh")
'转账前14分钟接到一个2天前首次出现的号码的28分钟来电'
>>> templates.sentence("mystery_feature", {"mystery_feature": 3.5}, "en")
'mystery feature: 3.5 (raises the risk)'
"""

from __future__ import annotations

import math
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_TEMPLATES = Path(__file__).with_name("reasons.toml")
LANGUAGES = ("en", "zh")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MIN_CONTRIBUTION = 1e-9
"""Contributions at or below this (log-odds) are rounding noise, not reasons."""


@dataclass(frozen=True)
class Reason:
    """One contributing feature of a score, with its sentence in each language."""

    feature: str
    value: float
    contribution: float
    en: str
    zh: str


@dataclass(frozen=True)
class _Template:
    label: str
    label_zh: str
    en: str | None
    zh: str | None
    scale: float
    minimum: float | None
    maximum: float | None = None


class ReasonTemplates:
    """Sentence templates keyed by feature name, loaded (and checked) from a TOML file."""

    def __init__(self, generic: dict[str, str], features: dict[str, _Template], source: str = "<memory>") -> None:
        self.generic = generic
        self.features = features
        self.source = source

    @classmethod
    def load(cls, path: str | Path | None = None) -> ReasonTemplates:
        """Read templates from ``path`` (default: the bundled ``reasons.toml``)."""
        path = Path(path) if path is not None else DEFAULT_TEMPLATES
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: invalid TOML ({error})") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<memory>") -> ReasonTemplates:
        """Build and validate templates from parsed TOML.

        >>> ReasonTemplates.from_dict({"generic": {"en": "{x.y}", "zh": ""}}, "r.toml")
        Traceback (most recent call last):
        ...
        ValueError: r.toml: [generic].en: placeholder 'x.y' must be a plain name
        """
        generic = data.get("generic")
        if not isinstance(generic, dict) or not all(isinstance(generic.get(lang), str) for lang in LANGUAGES):
            raise ValueError(f"{source}: [generic] must define en and zh strings")
        for lang in LANGUAGES:
            _check_placeholders(generic[lang], f"{source}: [generic].{lang}")
        features: dict[str, _Template] = {}
        for name, entry in (data.get("features") or {}).items():
            where = f"{source}: [features.{name}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{where} must be a table")
            unknown = set(entry) - {"label", "label_zh", "en", "zh", "scale", "min", "max"}
            if unknown:
                raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
            for lang in LANGUAGES:
                if lang in entry:
                    if not isinstance(entry[lang], str):
                        raise ValueError(f"{where}.{lang} must be a string")
                    _check_placeholders(entry[lang], f"{where}.{lang}")
            scale = entry.get("scale", 1.0)
            if not isinstance(scale, int | float):
                raise ValueError(f"{where}.scale must be a number")
            features[name] = _Template(
                label=str(entry.get("label", name.replace("_", " "))),
                label_zh=str(entry.get("label_zh", entry.get("label", name))),
                en=entry.get("en"),
                zh=entry.get("zh"),
                scale=float(scale),
                minimum=_number(entry.get("min"), f"{where}.min"),
                maximum=_number(entry.get("max"), f"{where}.max"),
            )
        return cls({lang: generic[lang] for lang in LANGUAGES}, features, source)

    def sentence(self, feature: str, values: dict[str, float], language: str = "en") -> str:
        """The sentence for one feature of one event, with values formatted in."""
        if language not in LANGUAGES:
            raise ValueError(f"language {language!r} must be one of {LANGUAGES}")
        template = self.features.get(feature)
        value = values.get(feature, float("nan"))
        label = template.label if template else feature.replace("_", " ")
        label_zh = template.label_zh if template else label
        outside = template is not None and (
            (template.minimum is not None and not value >= template.minimum)
            or (template.maximum is not None and not value <= template.maximum)
        )
        if template is not None and not outside:
            text = template.en if language == "en" else template.zh
            if text is not None:
                rendered = self._render(text, feature, values, template.scale, label, label_zh)
                if rendered is not None:
                    return rendered
        if isinstance(value, float) and math.isnan(value):
            # LightGBM routes missing values down their own branch: "no history" is a reason too
            return f"{label}: no record yet" if language == "en" else f"{label_zh}：暂无记录"
        generic = self._render(self.generic[language], feature, values, 1.0, label, label_zh)
        return generic if generic is not None else f"{label}: {value}"

    def _render(
        self, text: str, feature: str, values: dict[str, float], scale: float, label: str, label_zh: str
    ) -> str | None:
        arguments: dict[str, Any] = {"feature": feature, "label": label, "label_zh": label_zh}
        for _, name, _, _ in string.Formatter().parse(text):
            if not name or name in ("feature", "label", "label_zh"):
                continue
            source = feature if name == "value" else name
            raw = values.get(source)
            if raw is None or (isinstance(raw, float) and math.isnan(raw)):
                return None
            value = float(raw)
            if name == "value" or name == feature:
                value *= scale
            arguments[name] = value
        try:
            return text.format(**arguments)
        except (ValueError, KeyError):
            return None


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number")
    return float(value)


def _check_placeholders(text: str, where: str) -> None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise ValueError(f"{where}: bad template ({error})") from None
    for _, name, _, _ in parsed:
        if name is not None and name != "" and not _FIELD.match(name):
            raise ValueError(f"{where}: placeholder {name!r} must be a plain name")


def contributions(booster: Any, X: np.ndarray) -> np.ndarray:
    """Per-feature contributions in log-odds; the last column is the expected value.

    Rows sum to the booster's raw score.

    >>> import lightgbm as lgb
    >>> X = np.random.default_rng(0).normal(size=(300, 3)); y = (X[:, 0] + X[:, 2] > 0).astype(float)
    >>> b = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 10)
    >>> c = contributions(b, X[:5])
    >>> c.shape, bool(np.allclose(c.sum(axis=1), b.predict(X[:5], raw_score=True)))
    ((5, 4), True)
    """
    return np.asarray(booster.predict(X, pred_contrib=True), dtype=np.float64)


def top_reasons(
    contrib: np.ndarray,
    X: np.ndarray,
    feature_names: list[str],
    templates: ReasonTemplates,
    k: int = 3,
) -> list[list[Reason]]:
    """The ``k`` features that pushed each score up the most, with their sentences.

    Only features with a positive contribution (above numerical noise, ``MIN_CONTRIBUTION``)
    are reasons: a reason explains why the risk is high. An event with none gets an empty
    list; ties keep feature order.

    >>> t = ReasonTemplates.load()
    >>> contrib = np.array([[0.1, 2.0, -0.5, -3.0]])
    >>> X = np.array([[500.0, 12.0, 1.0]])
    >>> [r.en for r in top_reasons(contrib, X, ["amount", "payee_fan_in_24h", "is_night"], t)[0]]
    ['payee account received money from 12 different payers in 24 hours', 'transfer of 500 yuan']
    """
    n_features = len(feature_names)
    if contrib.shape[1] != n_features + 1:
        raise ValueError(f"contributions have {contrib.shape[1] - 1} features, expected {n_features}")
    per_feature = contrib[:, :n_features]
    k = min(k, n_features)
    order = np.argsort(-per_feature, axis=1, kind="stable")[:, :k]
    result: list[list[Reason]] = []
    for row in range(per_feature.shape[0]):
        chosen = [j for j in order[row] if per_feature[row, j] > MIN_CONTRIBUTION]
        if not chosen:
            result.append([])
            continue
        values = dict(zip(feature_names, X[row].tolist(), strict=True))
        result.append(
            [
                Reason(
                    feature=feature_names[j],
                    value=float(X[row, j]),
                    contribution=float(per_feature[row, j]),
                    en=templates.sentence(feature_names[j], values, "en"),
                    zh=templates.sentence(feature_names[j], values, "zh"),
                )
                for j in chosen
            ]
        )
    return result
