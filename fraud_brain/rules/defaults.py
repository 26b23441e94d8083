"""The bundled default rules and the scored-frame schemas they are written against.

The feature and scoring stages are being built alongside; these schemas are the column
names the default rules expect (record fields, victim profile fields, a few features and the
scores). ``fraud-brain rules check`` uses them when no scored data is given.

>>> sorted(expected_scored_schemas())
['call', 'transfer']
>>> expected_scored_schemas()["transfer"]["score"]
Float64
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fraud_brain.schema.records import AGE_BANDS, CALLS, TRANSFERS

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")
"""The rule file shipped with the package (the telecom + bank spec)."""

_PROFILE = {"age_band": pl.Enum(AGE_BANDS), "district": pl.String}
_SCORES = {
    "score": pl.Float64,
    "score_offline": pl.Float64,
    "score_online": pl.Float64,
    "anomaly": pl.Float64,
    "reasons": pl.List(pl.String),
}
TRANSFER_FEATURES = {
    "is_new_payee": pl.Boolean,
    "amount_ratio_payer": pl.Float64,
    "payer_transfers_24h": pl.Int64,
    "payee_distinct_payers_24h": pl.Int64,
    "payee_account_age_days": pl.Int64,
    "risky_call_score_max_24h": pl.Float64,
    "minutes_since_risky_call": pl.Float64,
    "is_night": pl.Boolean,
}
"""Transfer features the default rules use (amount vs the payer's history, mule fan-in, the call before)."""
CALL_FEATURES = {
    "caller_distinct_callees_1h": pl.Int64,
    "caller_short_call_share_1h": pl.Float64,
    "device_numbers_24h": pl.Int64,
    "callee_calls_from_caller_30d": pl.Int64,
}
"""Call features the default rules use (fan-out, one-ring share, SIM-box devices, repeat contact)."""


def expected_scored_schemas() -> dict[str, pl.Schema]:
    """The scored-frame schema per event type that the default rules are written against."""
    return {
        "transfer": pl.Schema({**TRANSFERS.polars_schema(), **_PROFILE, **TRANSFER_FEATURES, **_SCORES}),
        "call": pl.Schema({**CALLS.polars_schema(), **_PROFILE, **CALL_FEATURES, **_SCORES}),
    }
