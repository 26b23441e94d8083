"""Scored batches: what the rules see for each event.

A scored batch of one stream is the event's record fields, the likely victim's profile
(``age_band``, ``district``: the payer of a transfer, the callee of a call), the features the
engine computed for it, and the scorer's columns (``score``, ``offline_score``,
``online_score``, ``anomaly_score``, ``reasons_en``, ``reasons_zh``). The same function builds
it for a replay and for the live service, so rules see one shape everywhere.

>>> import polars as pl
>>> victim_column("transfer"), victim_column("call")
('payer_phone', 'callee')
"""

from __future__ import annotations

import polars as pl

from fraud_brain.schema.records import AGE_BANDS, SCHEMAS

STREAM_KIND = {"call": "call", "transfer": "transfer"}
"""Scored streams and their record kind."""
VICTIM = {"transfer": "payer_phone", "call": "callee"}
"""The column naming the likely victim's phone in each scored stream."""
PROFILE_COLUMNS = {"age_band": pl.Enum(AGE_BANDS), "district": pl.String}
REASONS_FROM = {"transfer": 0.1, "call": 0.3}
"""Per stream, the score from which reason codes are computed (a SHAP pass per row is most of the
scoring cost); the many events below it are never acted on on their score, and carry no reasons.
Calls are five times as many as transfers and their model ranks more of them above 0.1."""


def victim_column(stream: str) -> str:
    """The record column holding the likely victim's phone number for a stream."""
    return VICTIM[stream]


def profile_table(subscribers: pl.DataFrame | None) -> pl.DataFrame:
    """Subscriber profiles reduced to what rules read: phone → age_band, district.

    >>> profile_table(None).columns
    ['phone', 'age_band', 'district']
    """
    if subscribers is None:
        return pl.DataFrame(schema={"phone": pl.String, **PROFILE_COLUMNS})
    return subscribers.select("phone", "age_band", "district").unique("phone", keep="last")


def missing_as_null(features: pl.DataFrame) -> pl.DataFrame:
    """Undefined features (NaN from the engine: no key, no history) as nulls, for the rules.

    polars orders NaN above every number, so ``x >= 20`` would hold for NaN but not for null.

    >>> missing_as_null(pl.DataFrame({"x": [float("nan"), 1.0]}))["x"].to_list()
    [None, 1.0]
    """
    return features.with_columns(pl.col(pl.Float32, pl.Float64).fill_nan(None))


def assemble(
    stream: str,
    records: pl.DataFrame,
    features: pl.DataFrame,
    scores: pl.DataFrame,
    profiles: pl.DataFrame,
) -> pl.DataFrame:
    """Join records, victim profile, features and scores of the events in ``features``.

    Rows follow ``features`` (the engine's processing order); ``records`` may hold more events
    (a live buffer) and only those with features are kept.
    """
    schema = SCHEMAS[STREAM_KIND[stream]]
    id_col, time_col = schema.id_field, schema.time_field
    feature_cols = [c for c in features.columns if c not in records.columns]
    score_cols = [c for c in scores.columns if c not in (id_col, "time", time_col)]
    out = (
        missing_as_null(features.select(id_col, *feature_cols))
        .join(records, on=id_col, how="left", maintain_order="left")
        .join(scores.select(id_col, *score_cols), on=id_col, how="left", maintain_order="left")
        .join(
            profiles,
            left_on=victim_column(stream),
            right_on="phone",
            how="left",
            maintain_order="left",
        )
    )
    ordered = [*schema.column_names(), *PROFILE_COLUMNS, *feature_cols, *score_cols]
    return out.select([c for c in ordered if c in out.columns])
