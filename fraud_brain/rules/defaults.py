"""The bundled default rules and the scored-frame schemas they are written against.

A scored batch, as the rules see it, is one event type's record fields, the victim's profile
(``age_band``, ``district``), the features of the bundled telecom feature spec (all Float64;
yes/no features are 1.0/0.0) and the scorer's columns. ``fraud-brain rules check`` uses these
schemas when no scored data is given.

Each bundled feature spec has its bundled rule file (:data:`BUNDLED_RULES`, by spec name):

>>> schemas = expected_scored_schemas()
>>> sorted(schemas), schemas["transfer"]["score"], schemas["transfer"]["new_payee"]
(['call', 'transfer'], Float64, Float64)
>>> bundled_rules_path("card").name
'card_rules.toml'
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fraud_brain.errors import ConfigError
from fraud_brain.rules.model import DType
from fraud_brain.schema.records import AGE_BANDS, CALLS, TRANSFERS

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")
"""The rule file shipped with the package (the telecom + bank spec)."""
CARD_RULES_PATH = Path(__file__).with_name("card_rules.toml")
"""The rule file shipped for the bundled card-payment spec."""
BUNDLED_RULES = {"telecom": DEFAULT_RULES_PATH, "card": CARD_RULES_PATH}
"""Feature spec name → the rule file shipped for it."""


def bundled_rules_path(spec_name: str) -> Path:
    """The rule file shipped for the feature spec called ``spec_name``; a spec with none is refused.

    >>> bundled_rules_path("telecom") == DEFAULT_RULES_PATH
    True
    >>> bundled_rules_path("mine")
    Traceback (most recent call last):
    ...
    fraud_brain.errors.ConfigError: no rules are bundled for feature spec 'mine' (bundled: card, telecom); ...
    """
    path = BUNDLED_RULES.get(spec_name)
    if path is None:
        raise ConfigError(f"no rules are bundled for feature spec {spec_name!r} (bundled: "
                          f"{', '.join(sorted(BUNDLED_RULES))}); give a rule file for its scored streams with --rules")
    return path

PROFILE: dict[str, DType] = {"age_band": pl.Enum(AGE_BANDS), "district": pl.String}
"""The likely victim's profile: the payer of a transfer, the callee of a call."""
SCORES: dict[str, DType] = {
    "score": pl.Float64,
    "offline_score": pl.Float64,
    "online_score": pl.Float64,
    "anomaly_score": pl.Float64,
    "reasons_en": pl.List(pl.String),
    "reasons_zh": pl.List(pl.String),
}
"""Columns the scorer adds (``fraud_brain.scoring.Scorer.score_batch``)."""


def feature_columns(event: str, spec: str = "telecom") -> dict[str, DType]:
    """The features a bundled feature spec emits for an event type (all Float64).

    >>> "payee_payers_24h" in feature_columns("transfer")
    True
    """
    from fraud_brain.features import bundled_spec

    return {o.name: pl.Float64 for o in bundled_spec(spec).outputs(event) if o.emit}


def spec_scored_schemas(spec: str = "telecom") -> dict[str, pl.Schema]:
    """The scored-frame schema of every scored stream of a feature spec (a bundled name or a file):
    the record's fields, the victim's profile, the stream's emitted features and the scorer's columns.

    >>> schema = spec_scored_schemas("card")["tx"]
    >>> schema["terminal_risk_30d"], schema["score"], "customer_id" in schema
    (Float64, Float64, True)
    """
    from fraud_brain.features import resolve_spec

    loaded = resolve_spec(spec)
    out: dict[str, pl.Schema] = {}
    for name in loaded.scored_streams():
        record = loaded.record_schema(loaded.streams[name].schema or name)
        features = {o.name: pl.Float64 for o in loaded.outputs(name) if o.emit}
        out[name] = pl.Schema({**record.polars_schema(), **PROFILE, **features, **SCORES})
    return out


def expected_scored_schemas() -> dict[str, pl.Schema]:
    """The scored-frame schema per event type that the default rules are written against."""
    return {
        "transfer": pl.Schema(
            {**TRANSFERS.polars_schema(), **PROFILE, **feature_columns("transfer"), **SCORES}
        ),
        "call": pl.Schema({**CALLS.polars_schema(), **PROFILE, **feature_columns("call"), **SCORES}),
    }
