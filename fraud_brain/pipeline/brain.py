"""The live brain: one object holding the streaming state, the models, the rules and the store.

Feeds call :meth:`Brain.ingest` with micro-batches; each batch is validated (bad records go to
the dead-letter store with their reasons), processed by the streaming feature engine in event
time, scored, judged by the hot-reloaded rules with cooldowns, and the decisions become cases
and outbox actions in SQLite. :meth:`Brain.check_transfer` answers a bank's synchronous
pre-transfer check against the current state without changing it. Labels (confirmed outcomes)
update the engine's known-label state and teach the online model, joined with the features
each transfer had when it was scored.

The same record set gives the same scores whether it arrives through :meth:`ingest` in any
batch sizes or through the replay of :mod:`fraud_brain.pipeline.batch` — one feature
definition, one scoring path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraud_brain.errors import InputError, MissingInputError
from fraud_brain.io.deadletter import DeadLetterStore
from fraud_brain.io.files import load_kind
from fraud_brain.pipeline.scored import (
    REASONS_FROM,
    STREAM_KIND,
    assemble,
    explain_hits,
    profile_table,
)
from fraud_brain.schema.quick import obviously_valid
from fraud_brain.schema.records import TRANSFERS, schema_for
from fraud_brain.schema.validate import ValidationResult, validate

MODEL_FOR_STREAM = {"transfer": "transfer", "call": "number"}
"""The registry model name scoring each stream."""


@dataclass
class BrainConfig:
    """Where the live brain keeps its state and finds its parts.

    >>> BrainConfig(state_dir=Path("/tmp/x")).hold_threshold
    0.9
    """

    state_dir: Path
    """SQLite store, dead letters, engine snapshot and rule cooldowns live here."""
    spec: str | Path = "telecom"
    models_dir: Path = field(default_factory=lambda: Path("models"))
    rules_path: Path | None = None
    policy_path: Path | None = None
    subscribers: Path | None = None
    """Subscriber profile file (reference data for features and the victim's profile)."""
    hold_threshold: float = 0.9
    """Pre-transfer check: a score at or above this holds the transfer."""
    review_threshold: float = 0.5
    """Pre-transfer check: a score at or above this asks for review."""
    dedupe_horizon_hours: float = 24.0
    """A record re-sent within this long (beyond the allowed lateness) is a duplicate, counted and
    dropped; an older copy is judged late (dead-lettered). Never processed twice either way."""
    seed: int = 0


@dataclass
class IngestReport:
    """What one ingest did: accepted and rejected records, scores released, alerts raised."""

    accepted: int = 0
    rejected: int = 0
    late: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    scored: pl.DataFrame = field(default_factory=pl.DataFrame)
    alerts: int = 0
    refused_decisions: list[str] = field(default_factory=list)
    """Rule decisions the workflow could not take (e.g. naming no victim), each with why;
    they are also in the store's audit log."""


@dataclass
class CheckResult:
    """The answer to a bank's pre-transfer check."""

    decision: str
    score: float
    reasons: list[str]
    reasons_zh: list[str]
    rules: list[str] = field(default_factory=list)


def _require_stream(kind: str) -> str:
    """``kind`` when the brain ingests it (calls, transfers), else a readable refusal."""
    if kind not in MODEL_FOR_STREAM:
        raise InputError(f"cannot ingest {kind!r} records; expected 'call' or 'transfer' (labels: add_labels)")
    return kind


class _BrainClock:
    """The brain's clock as the actions layer's :class:`~fraud_brain.actions.clock.Clock`."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)


class Brain:
    """The streaming engine, models, rules and case store of one running service."""

    def __init__(self, config: BrainConfig, clock: Callable[[], datetime] | None = None) -> None:
        from fraud_brain.actions import Orchestrator, load_policy
        from fraud_brain.features import FeatureEngine, resolve_spec
        from fraud_brain.rules import DEFAULT_RULES_PATH
        from fraud_brain.store import SQLiteRepository

        self.config = config
        self.now = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.spec = resolve_spec(config.spec)
        subscribers = None
        if config.subscribers is not None:
            subscribers = load_kind(config.subscribers.parent, "subscriber", config.subscribers.stem)
        self.subscribers = subscribers
        self.profiles = profile_table(subscribers)
        self._profile_of = {
            phone: (age, district) for phone, age, district in self.profiles.iter_rows()
        }
        reference = {"subscribers": subscribers if subscribers is not None else schema_for("subscriber").empty()}
        snapshot = config.state_dir / "engine"
        # The engine hands back whole records with their features: the rules read both.
        options = {"keep_records": True, "dedupe_horizon_ms": int(config.dedupe_horizon_hours * 3_600_000)}
        if (snapshot / "state.npz").exists():
            self.engine = FeatureEngine.restore(snapshot, self.spec, reference, **options)
        else:
            self.engine = FeatureEngine(self.spec, reference, **options)
        self.dead_letters = DeadLetterStore(config.state_dir / "dead_letters")
        self.store = SQLiteRepository(config.state_dir / "brain.sqlite")
        policy = load_policy(config.policy_path) if config.policy_path else None
        self.orchestrator = Orchestrator(self.store, policy, _BrainClock(self.now))
        self.rules_path = config.rules_path or DEFAULT_RULES_PATH
        self._label_cursor = datetime(1970, 1, 1, tzinfo=UTC)
        # Per stream, the latest scored frames, newest last; compacted to one row per entity now
        # and then, so keeping them costs O(batch) per batch, not O(entities seen).
        self._last_scores: dict[str, list[pl.DataFrame]] = {}
        self.scorers: dict[str, Any] = {}
        self.rule_engine: Any = None
        self._schemas: dict[str, pl.Schema] = {}
        self._orders: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = {}
        self._load_models()

    @classmethod
    def open(cls, config: BrainConfig) -> Brain:
        """A brain over ``config.state_dir``, continuing from its snapshot when there is one."""
        return cls(config)

    # ------------------------------------------------------------------ parts
    def _load_models(self) -> None:
        from fraud_brain.scoring.online import DelayedLabelStore, OnlineModel
        from fraud_brain.scoring.scorer import OFFLINE_LOGIT, load_champion_scorer

        scorers = {}
        for stream, name in MODEL_FOR_STREAM.items():
            scorers[stream] = load_champion_scorer(self.config.models_dir, self.spec, name, reason_threshold=REASONS_FROM[stream])
        transfer = scorers["transfer"]
        if transfer.online is None:
            # It learns from every label; the champion's blend decides when its score counts.
            previous = self.scorers.get("transfer")
            transfer.online = previous.online if previous is not None and previous.online is not None else OnlineModel(
                [*transfer.feature_names, OFFLINE_LOGIT]
            )
        self.scorers = scorers
        # Features (plus the offline log-odds) of every scored transfer, kept until its label comes.
        self._delayed = DelayedLabelStore(len(transfer.feature_names) + 1, capacity=200_000)

    def _scored_schema(self, stream: str) -> pl.Schema:
        """The scored-frame schema of a stream, from an empty batch through the real path (once:
        the feature spec fixes it)."""
        if stream not in self._schemas:
            features = self.engine.peek(stream, schema_for(STREAM_KIND[stream]).empty())
            scores = self.scorers[stream].score_batch(features, learn_anomaly=False)
            self._schemas[stream] = assemble(stream, None, features, scores, self.profiles).schema
        return self._schemas[stream]

    def _feature_order(self, emitted: list[str], wanted: list[str]) -> np.ndarray:
        """Positions of a model's features among the engine's emitted ones (cached per pair)."""
        key = (tuple(emitted), tuple(wanted))
        order = self._orders.get(key)
        if order is None:
            index = {name: i for i, name in enumerate(emitted)}
            order = self._orders[key] = np.array([index[name] for name in wanted], np.int64)
        return order

    def _rules(self) -> Any:
        """The rule engine, created on first use (it needs the scored schemas)."""
        if self.rule_engine is None:
            from fraud_brain.rules import RuleEngine, RuleManager

            manager = RuleManager(self.rules_path, {stream: self._scored_schema(stream) for stream in MODEL_FOR_STREAM})
            self.rule_engine = RuleEngine(manager, state_path=self.config.state_dir / "cooldowns.sqlite")
        return self.rule_engine

    @property
    def versions(self) -> dict[str, str]:
        """Running model versions and the rules' version (for metrics and health)."""
        out = {f"model_{s}": str(getattr(sc.manifest, "version", None)) for s, sc in self.scorers.items()}
        if self.rule_engine is not None:
            out["rules"] = str(self.rule_engine.ruleset.version)
        return out

    # ------------------------------------------------------------------ feeds
    def _dead_letter(self, result: ValidationResult, source: str) -> list[dict[str, Any]]:
        self.dead_letters.put(result, source=source)
        return result.errors.to_dicts()

    def ingest(self, kind: str, raw: pl.DataFrame, source: str) -> IngestReport:
        """Validate, featurize, score and act on one micro-batch of ``call`` or ``transfer`` records."""
        _require_stream(kind)
        return self.ingest_validated(validate(raw, kind), source)

    def ingest_validated(self, result: ValidationResult, source: str) -> IngestReport:
        """:meth:`ingest` of a batch already validated (the API validates off the engine thread)."""
        kind = _require_stream(result.kind)
        with self._lock:
            report = IngestReport(accepted=result.valid.height, rejected=result.rejected.height)
            report.errors = self._dead_letter(result, source)
            batch = self.engine.process({kind: result.valid} if result.valid.height else {})
            self._absorb(batch, report, source)
            return report

    def flush(self) -> IngestReport:
        """Release every buffered event regardless of the allowed lateness (end of a replay, shutdown)."""
        with self._lock:
            report = IngestReport()
            self._absorb(self.engine.flush(), report, "flush")
            return report

    def _absorb(self, batch: Any, report: IngestReport, source: str) -> None:
        for stream, late in batch.late.items():
            report.late += late.height
            self._dead_letter_late(stream, late, source)
        report.duplicates += sum(batch.duplicates.values())
        scored_parts = []
        for stream in ("call", "transfer"):
            features = batch.features.get(stream)
            if features is None or features.height == 0:
                continue
            scored = self._score(stream, features)
            decisions = self._rules().decisions(scored, event=stream)
            if decisions.height:
                scored, decisions = explain_hits(stream, scored, decisions, self.scorers[stream])
                ingested = self.orchestrator.ingest(decisions, self.now())
                report.alerts += ingested.alerts
                report.refused_decisions += ingested.rejected
            self._remember_latest(stream, scored)
            scored_parts.append(scored)
        if scored_parts:
            id_of = {"transfer": "transfer_id", "call": "call_id"}
            report.scored = pl.concat(
                [p.select(pl.coalesce([c for c in id_of.values() if c in p.columns]).alias("id"),
                          "score", pl.col("reasons_en").alias("reasons")) for p in scored_parts]
            )

    def _dead_letter_late(self, stream: str, late: pl.DataFrame, source: str) -> None:
        rows = late.with_row_index("_row").select(pl.all().cast(pl.String))
        reasons = pl.DataFrame(
            {
                "row": pl.Series(range(late.height), dtype=pl.UInt32),
                "record_id": late[schema_for(stream).id_field].cast(pl.String),
                "field": [schema_for(stream).time_field] * late.height,
                "reason": ["older than the watermark (later than the allowed lateness); set aside"] * late.height,
            }
        )
        self.dead_letters.put(ValidationResult(stream, late.head(0), reasons, rows), source=f"{source} (late)")

    def _score(self, stream: str, features: pl.DataFrame) -> pl.DataFrame:
        scorer = self.scorers[stream]
        scores = scorer.score_batch(features)
        schema = schema_for(stream)
        scored = assemble(stream, None, features, scores, self.profiles)
        if stream == "transfer" and scorer.online is not None:
            from fraud_brain.scoring.offline import feature_matrix
            from fraud_brain.scoring.scorer import logit, online_inputs

            X = feature_matrix(features, scorer.feature_names)
            rows = online_inputs(X, logit(np.clip(scores["offline_score"].to_numpy(), 1e-9, 1 - 1e-9)))
            self._delayed.remember(
                features[schema.id_field].to_list(), features[schema.time_field].dt.epoch("ms").to_numpy(), rows
            )
        return scored

    def _remember_latest(self, stream: str, scored: pl.DataFrame) -> None:
        """Keep each entity's latest score and reasons for :meth:`entity_risk`."""
        key = "payer_account" if stream == "transfer" else "caller"
        latest = scored.select(pl.col(key).alias("entity_id"), schema_for(stream).time_field, "score", "reasons_en", "reasons_zh")
        frames = self._last_scores.setdefault(stream, [])
        frames.append(latest)
        if len(frames) > 64:
            compact = pl.concat(frames, how="vertical_relaxed").unique("entity_id", keep="last", maintain_order=True)
            self._last_scores[stream] = [compact]

    # ------------------------------------------------------------------ labels
    def add_labels(self, raw: pl.DataFrame, source: str) -> IngestReport:
        """Confirmed outcomes: known-label state in the engine, and online learning for transfers."""
        with self._lock:
            result = validate(raw, "label")
            report = IngestReport(accepted=result.valid.height, rejected=result.rejected.height)
            report.errors = self._dead_letter(result, source)
            labels = result.valid
            if labels.height == 0:
                return report
            # A label becomes known to the brain when it arrives: one stamped earlier than the
            # watermark (a slow back-office feed) is taken as known now, not set aside as late.
            if self.engine.max_seen != np.iinfo(np.int64).min:
                floor = self.engine.max_seen - self.spec.lateness_ms
                labels = labels.with_columns(
                    pl.max_horizontal(
                        pl.col("known_at"), pl.lit(floor).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
                    ).alias("known_at")
                )
            self._absorb(self.engine.process({"label": labels}), report, source)
            transfers = labels.filter(pl.col("entity_type") == "transfer").unique("entity_id", keep="last")
            scorer = self.scorers["transfer"]
            if transfers.height and scorer.online is not None:
                truth = dict(zip(transfers["entity_id"].to_list(), transfers["is_fraud"].to_list(), strict=True))
                keys, rows, _ = self._delayed.take(list(truth))
                if keys:
                    scorer.online.learn(rows, np.array([truth[k] for k in keys], dtype=bool))
            return report

    def learned(self) -> int:
        """Labelled transfers the online model has learned from."""
        online = self.scorers["transfer"].online
        return 0 if online is None else int(online.n_learned)

    # ------------------------------------------------------------------ synchronous checks
    def _typed_transfer(self, raw: dict[str, Any]) -> pl.DataFrame:
        """One transfer typed to the schema: a plainly valid record skips the batch validator."""
        if obviously_valid(raw, TRANSFERS):
            record = {f.name: raw.get(f.name) for f in TRANSFERS.fields}
            record["time"] = datetime.fromisoformat(record["time"]).astimezone(UTC)
            return pl.DataFrame([record], schema=TRANSFERS.polars_schema())
        result = validate(pl.DataFrame([raw]), "transfer")
        if not result.ok:
            raise InputError("; ".join(result.messages()))
        return result.valid

    def check_transfer(self, raw: dict[str, Any]) -> CheckResult:
        """Score one transfer before it is executed: allow, review or hold. Changes no state.

        The single-record path: the engine's state is read (not written), the model scores one
        row with :meth:`~fraud_brain.scoring.scorer.Scorer.score_one`, and the active transfer
        rules are evaluated on that row (a hit that asks for a stop-payment holds it).
        """
        with self._lock:
            record = self._typed_transfer(raw)
            names, values = self.engine.peek_values("transfer", record)
            features = values[0]
            scorer = self.scorers["transfer"]
            vector = features[self._feature_order(names, scorer.feature_names)]
            scored_one = scorer.score_one(vector)
            row = record.row(0, named=True)
            row["age_band"], row["district"] = self._profile_of.get(row["payer_phone"], (None, None))
            # NaN (no history) is null for the rules, as in the batch path (missing_as_null)
            row.update((name, None if value != value else value) for name, value in zip(names, features.tolist(), strict=True))
            row.update(
                score=scored_one.score, offline_score=scored_one.offline, online_score=scored_one.online,
                anomaly_score=scored_one.anomaly, reasons_en=[r.en for r in scored_one.reasons],
                reasons_zh=[r.zh for r in scored_one.reasons], reason_features=[r.feature for r in scored_one.reasons],
            )
            schema = self._scored_schema("transfer")
            scored = pl.DataFrame([{column: row.get(column) for column in schema}], schema=schema)
            hits = self._rules().ruleset.evaluate(scored, event="transfer").filter(pl.col("mode") == "active")
            if hits.height and not scored_one.reasons:
                # a rule acts on it below the reason threshold: the bank still gets the reasons
                scored_one = scorer.score_one(vector, reasons=True)
            score = float(scored_one.score)
            actions = {a for row_actions in hits["actions"].to_list() for a in row_actions}
            if score >= self.config.hold_threshold or "stop_payment" in actions:
                decision = "hold"
            elif score >= self.config.review_threshold or hits.height:
                decision = "review"
            else:
                decision = "allow"
            return CheckResult(
                decision=decision,
                score=score,
                reasons=[r.en for r in scored_one.reasons],
                reasons_zh=[r.zh for r in scored_one.reasons],
                rules=hits["rule"].to_list(),
            )

    def entity_risk(self, entity_type: str, entity_id: str) -> dict[str, Any]:
        """The latest score of a calling number (as a caller) or an account (as a payer), with reasons.

        Raises :class:`~fraud_brain.errors.MissingInputError` when the engine has never scored the entity.
        """
        stream = {"number": "call", "account": "transfer"}.get(entity_type)
        if stream is None:
            raise InputError(f"entity type {entity_type!r}: expected 'number' or 'account'")
        with self._lock:
            record = None
            for frame in reversed(self._last_scores.get(stream, [])):
                rows = frame.filter(pl.col("entity_id") == entity_id)
                if rows.height:
                    record = rows.row(rows.height - 1, named=True)
                    break
            if record is None:
                raise MissingInputError(f"{entity_type} {entity_id} is not known to the engine")
            time_field = schema_for(stream).time_field
            return {
                "entity_type": entity_type,
                "entity_id": entity_id,
                "score": record["score"],
                "scored_at": record[time_field].isoformat(),
                "reasons": record["reasons_en"],
                "reasons_zh": record["reasons_zh"],
            }

    # ------------------------------------------------------------------ operations
    def reload(self) -> dict[str, Any]:
        """Reload the champion models and the rule file; a failing reload keeps what runs now."""
        with self._lock:
            out: dict[str, Any] = {}
            previous = self.scorers
            try:
                self._load_models()
                out["models"] = {"status": "reloaded", **{k: v for k, v in self.versions.items() if k.startswith("model_")}}
            except Exception as error:  # noqa: BLE001 - any failure keeps the running models
                self.scorers = previous
                out["models"] = {"status": "kept", "error": str(error)}
            reloaded = self._rules().rules.reload()
            out["rules"] = {"status": "reloaded" if reloaded.ok else "kept", "version": self.rule_engine.ruleset.version}
            if not reloaded.ok:
                out["rules"]["error"] = str(reloaded.error)
            return out

    def pump(self, now: datetime | None = None) -> dict[str, int]:
        """Run timers and deliver due actions once (re-dials, escalations, the outbox)."""
        from fraud_brain.actions import Dispatcher, simulated_adapters

        with self._lock:
            now = now or self.now()
            if not hasattr(self, "_dispatcher"):
                self._dispatcher = Dispatcher(
                    self.store, simulated_adapters(self.config.seed), self.orchestrator.clock,
                    settings=self.orchestrator.policy.outbox,
                    seed=self.config.seed,
                )
            tick = self.orchestrator.tick(now)
            sent = self._dispatcher.run_once(now)
            learned = self._learn_from_outcomes()
            return {"outcomes": tick.outcomes, "dispatched": sent.claimed, "labels": learned}

    def _learn_from_outcomes(self) -> int:
        """Labels the workflow wrote (agent dispositions, bank freezes) flow back into the brain."""
        labels = self.store.labels_since(self._label_cursor)
        if labels.height == 0:
            return 0
        # labels_since is inclusive; repeats are harmless (label ids are deduplicated, and a
        # transfer's features are learned from once) but the cursor keeps them few.
        self._label_cursor = labels["known_at"].max()
        return self.add_labels(labels, source="outcomes").accepted

    def snapshot(self) -> None:
        """Persist the engine state and rule cooldowns so a restart continues where this left off."""
        with self._lock:
            self.engine.snapshot(self.config.state_dir / "engine")
            if self.rule_engine is not None:
                self.rule_engine.save()
