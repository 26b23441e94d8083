"""Scored batches: what the rules see for each event, and the facts of each scored stream.

A scored batch of one stream is the event's record fields, the likely victim's profile
(``age_band``, ``district``, looked up by the stream's first phone victim column: the payer of
a transfer, the callee of a call), the features the engine computed for it, and the scorer's
columns (``score``, ``offline_score``, ``online_score``, ``anomaly_score``, ``reasons_en``,
``reasons_zh``, ``reason_features``). The same function builds it for a replay and for the
live service, so rules see one shape everywhere.

Which streams are scored and how (model, victim columns, risk entity, amount, reason threshold)
is read from the feature spec's stream descriptors (:func:`stream_facts`), so the brain works for
any spec.

>>> from fraud_brain.features import resolve_spec
>>> facts = stream_facts(resolve_spec("telecom"))
>>> [(f.name, f.model, f.profile_key, f.risk_entity) for f in facts.values()]
[('call', 'number', 'callee', 'number'), ('transfer', 'transfer', 'payer_phone', 'account')]
>>> SCORED_COLUMNS
('score', 'offline_score', 'online_score', 'anomaly_score', 'reasons_en', 'reasons_zh', 'reason_features')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl

from fraud_brain.features.spec import Spec
from fraud_brain.schema.records import AGE_BANDS, RecordSchema

PROFILE_COLUMNS: dict[str, pl.DataType] = {"age_band": pl.Enum(AGE_BANDS), "district": pl.String()}
"""The victim's profile columns a scored frame carries (from the subscriber reference data)."""
SCORED_COLUMNS = (
    "score", "offline_score", "online_score", "anomaly_score", "reasons_en", "reasons_zh", "reason_features",
)
"""The scorer's columns of a scored frame, in order (:meth:`fraud_brain.scoring.scorer.Scorer.score_batch`)."""


@dataclass(frozen=True)
class StreamFacts:
    """What the brain needs to know of one scored stream, read from the spec's descriptor."""

    name: str
    schema: RecordSchema
    id: str
    time: str
    model: str
    """Model registry name."""
    victim: tuple[str, ...]
    victim_kinds: tuple[str, ...]
    profile_key: str | None
    """The first victim column holding a phone number: the profile (age band, district) is looked up by it."""
    label_entity: str
    label_key: str
    risk_entity: str | None
    risk_key: str | None
    amount: str | None
    reason_threshold: float


def stream_facts(spec: Spec) -> dict[str, StreamFacts]:
    """The facts of every scored stream of ``spec``, in tie-break order."""
    out: dict[str, StreamFacts] = {}
    for name in spec.scored_streams():
        stream = spec.streams[name]
        scoring = spec.scoring(name)
        phones = [c for c, kind in zip(scoring.victim, scoring.victim_kinds, strict=True) if kind == "phone"]
        out[name] = StreamFacts(
            name=name, schema=spec.record_schema(stream.schema or name), id=stream.id, time=stream.time,
            model=scoring.model, victim=scoring.victim, victim_kinds=scoring.victim_kinds,
            profile_key=phones[0] if phones else None, label_entity=scoring.label_entity,
            label_key=scoring.label_key, risk_entity=scoring.risk_entity, risk_key=scoring.risk_key,
            amount=scoring.amount, reason_threshold=scoring.reason_threshold,
        )
    return out


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
    stream: StreamFacts,
    records: pl.DataFrame | None,
    features: pl.DataFrame,
    scores: pl.DataFrame,
    profiles: pl.DataFrame,
) -> pl.DataFrame:
    """Join records, victim profile, features and scores of the events in ``features``.

    Rows follow ``features`` (the engine's processing order); ``records`` may hold more events
    (a live buffer) and only those with features are kept. ``records=None`` says the feature
    frame already carries the record columns (an engine with ``keep_records``) and ``scores``
    has its rows in the same order: no join is needed for either.
    """
    schema = stream.schema
    id_col, time_col = stream.id, stream.time
    score_cols = [c for c in scores.columns if c not in (id_col, "time", time_col)]
    if records is None:
        record_cols = [c for c in schema.column_names() if c in features.columns]
        feature_cols = [c for c in features.columns if c not in record_cols]
        out = missing_as_null(features).hstack(scores.select(score_cols).get_columns())
    else:
        feature_cols = [c for c in features.columns if c not in records.columns]
        out = (
            missing_as_null(features.select(id_col, *feature_cols))
            .join(records, on=id_col, how="left", maintain_order="left")
            .join(scores.select(id_col, *score_cols), on=id_col, how="left", maintain_order="left")
        )
    if stream.profile_key is not None:
        out = out.join(profiles, left_on=stream.profile_key, right_on="phone", how="left", maintain_order="left")
    else:
        out = out.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in PROFILE_COLUMNS.items())
    ordered = [*schema.column_names(), *PROFILE_COLUMNS, *feature_cols, *score_cols]
    return out.select([c for c in ordered if c in out.columns])


class Explainer(Protocol):
    """What :func:`explain_hits` needs of a scorer (:class:`fraud_brain.scoring.scorer.Scorer`)."""

    def explain(self, features: pl.DataFrame) -> pl.DataFrame: ...


def explain_hits(
    stream: StreamFacts, scored: pl.DataFrame, hits: pl.DataFrame, scorer: Explainer
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give reasons to the events of ``stream`` that rules hit but that carry none (scored below
    the reason threshold); ``scored`` and the hits' ``reasons`` both get them.

    >>> class Fixed:
    ...     def explain(self, features):
    ...         return features.select("call_id", pl.lit(["long call"]).alias("reasons_en"),
    ...                                pl.lit(["长通话"]).alias("reasons_zh"),
    ...                                pl.lit(["call_minutes"]).alias("reason_features"))
    >>> none = pl.lit([], dtype=pl.List(pl.String))
    >>> scored = pl.DataFrame({"call_id": ["c1", "c2"], "score": [0.2, 0.1]}).with_columns(
    ...     reasons_en=none, reasons_zh=none, reason_features=none)
    >>> hits = pl.DataFrame({"event_id": ["c2"], "event": ["call"], "reasons": [[]]},
    ...                     schema_overrides={"reasons": pl.List(pl.String)})
    >>> from fraud_brain.features import resolve_spec
    >>> scored, hits = explain_hits(stream_facts(resolve_spec("telecom"))["call"], scored, hits, Fixed())
    >>> scored["reasons_en"].to_list(), hits["reasons"].to_list()
    ([[], ['long call']], [['long call']])
    """
    id_col = stream.id
    if hits.height == 0 or "reasons_en" not in scored.columns:
        return scored, hits
    hit_ids = hits.filter(pl.col("event") == stream.name).get_column("event_id")
    bare = scored.filter(pl.col(id_col).is_in(hit_ids.implode()) & (pl.col("reasons_en").list.len() == 0))
    if bare.height == 0:
        return scored, hits
    reasons = scorer.explain(bare)
    scored = scored.update(reasons, on=id_col, how="left")
    by_event = reasons.select(pl.col(id_col).alias("event_id"), pl.lit(stream.name).alias("event"),
                              pl.col("reasons_en").alias("reasons"))
    hits = hits.update(by_event, on=["event_id", "event"], how="left")
    return scored, hits
