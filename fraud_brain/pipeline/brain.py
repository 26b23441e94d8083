"""The live brain: one object holding the streaming state, the models, the rules and the store.

Feeds call :meth:`Brain.ingest` with micro-batches of any stream the feature spec scores; each
batch is validated (bad records go to the dead-letter store with their reasons), processed by
the streaming feature engine in event time, scored, judged by the hot-reloaded rules with
cooldowns, and the decisions become cases and outbox actions in the store.
:meth:`Brain.check_transfer` answers a bank's synchronous pre-transfer check against the current
state without changing it. Labels (confirmed outcomes) update the engine's known-label state
and teach the online loop (:class:`~fraud_brain.scoring.online.OnlineLearner`) of each scored
stream, joined with the inputs each event had when it was scored; events still unlabelled
after the label maturity period are learned as legitimate.

The brain is built by the composition root (:class:`fraud_brain.pipeline.assembly.Assembly`),
which injects its parts (spec, models, store, orchestrator, adapters, clock) and through which
models, rules and policy are reloaded. The same record set gives the same scores whether it
arrives through :meth:`ingest` in any batch sizes or through the replay of
:mod:`fraud_brain.pipeline.batch` — one feature definition, one scoring path.

Acknowledged means durable. With a :class:`~fraud_brain.durability.DurableState` (the live
service always has one), every change of the brain's state is first appended to the
write-ahead log and only then applied, on the engine thread, in log order:

- ``ingest``: the records that passed validation (Arrow IPC), with their stream and source;
- ``labels``: confirmed outcomes, from a feed or from the workflow (``source="outcomes"``: the
  labels the pump read back from the store; their replay also moves the pump's read cursor);
- ``flush``: an admin's release of every buffered event.

The API answers 2xx only after the append returned (fsync with group commit). Every
``snapshot_records`` records or ``snapshot_seconds`` seconds (:class:`AppConfig`) the brain
checkpoints, at the seq of the last entry applied, the feature engine (keyed state, watermark,
buffer and the dedupe table), each stream's online loop, the rule cooldowns, the latest score
per entity and the pump's label cursor; the log before the oldest kept snapshot is dropped. On
start, :meth:`recover` loads the newest good snapshot and replays the entries after it through
the same code as the live path. What the replay re-does outside the brain is idempotent: the
store ignores a decision it already holds (same event id and rule), so cases and outbox rows
exist once. Re-sent batches that were in the log before a crash are duplicates (counted, never
scored twice).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import polars as pl

from fraud_brain.errors import InputError, MissingInputError
from fraud_brain.io.deadletter import DeadLetterStore
from fraud_brain.pipeline.scored import StreamFacts, assemble, explain_hits, profile_table, stream_facts
from fraud_brain.schema.quick import obviously_valid
from fraud_brain.schema.validate import ValidationResult, validate
from fraud_brain.vocabulary import CheckDecision

if TYPE_CHECKING:
    from pathlib import Path

    from fraud_brain.actions import Dispatcher, Orchestrator
    from fraud_brain.actions.cases import CaseService
    from fraud_brain.actions.clock import Clock
    from fraud_brain.durability import DurableState
    from fraud_brain.features import FeatureEngine, Spec
    from fraud_brain.features.engine import FeatureBatch
    from fraud_brain.pipeline.config import AppConfig
    from fraud_brain.rules import RuleEngine
    from fraud_brain.scoring.online import OnlineLearner
    from fraud_brain.scoring.scorer import Scorer
    from fraud_brain.store.base import Repository

log = logging.getLogger("fraud_brain.pipeline")

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

    decision: CheckDecision
    score: float
    reasons: list[str]
    reasons_zh: list[str]
    rules: list[str] = field(default_factory=list)


@dataclass
class EntityRisk:
    """The latest score of an entity (a calling number, an account) and its reasons."""

    entity_type: str
    entity_id: str
    score: float
    scored_at: str
    reasons: list[str]
    reasons_zh: list[str]

    def to_dict(self) -> dict[str, Any]:
        """As the API answers it."""
        return {"entity_type": self.entity_type, "entity_id": self.entity_id, "score": self.score,
                "scored_at": self.scored_at, "reasons": self.reasons, "reasons_zh": self.reasons_zh}


class PartsSource(Protocol):
    """Where the brain's replaceable parts come from: the composition root (reloads go through it)."""

    def load_scorers(self) -> dict[str, Scorer]:
        """The champion scorer of every scored stream (raises when one cannot be loaded)."""
        ...

    def rule_engine(self, schemas: dict[str, pl.Schema]) -> RuleEngine:
        """The hot-reloadable rule engine, validated against the scored frames' schemas."""
        ...

    def reload_policy(self, orchestrator: Orchestrator) -> Exception | None:
        """Re-read the escalation policy into ``orchestrator``; the error (old policy kept) or None."""
        ...


class Brain:
    """The streaming engine, models, rules and case store of one running service."""

    def __init__(
        self,
        config: AppConfig,
        *,
        spec: Spec,
        parts: PartsSource,
        store: Repository,
        orchestrator: Orchestrator,
        cases: CaseService,
        dispatcher: Dispatcher,
        clock: Clock,
        subscribers: pl.DataFrame | None,
        learners: dict[str, OnlineLearner],
        engine: FeatureEngine,
        dead_letters: DeadLetterStore,
        state_dir: Path,
        durable: DurableState | None = None,
        online_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.spec = spec
        self.parts = parts
        self.store = store
        self.orchestrator = orchestrator
        self.cases = cases
        self.dispatcher = dispatcher
        self.clock = clock
        self.subscribers = subscribers
        self.learners = learners
        self.engine = engine
        self.dead_letters = dead_letters
        self.state_dir = state_dir
        self.durable = durable
        """The state folder's lock, snapshots and write-ahead log (None: nothing is logged)."""
        self._online_dir = online_dir if online_dir is not None else state_dir / "online"
        self._applied_seq = durable.base_seq if durable is not None else 0
        self._checkpointed_seq = self._applied_seq if durable is not None and durable.snapshot else -1
        self._replaying = False
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
        self.streams: dict[str, StreamFacts] = stream_facts(spec)
        self.profiles = profile_table(subscribers)
        self._profile_of = {phone: (age, district) for phone, age, district in self.profiles.iter_rows()}
        self._lock = threading.RLock()
        self._label_cursor = datetime(1970, 1, 1, tzinfo=UTC)
        # Per stream, the latest scored frames, newest last; compacted to one row per entity now
        # and then, so keeping them costs O(batch) per batch, not O(entities seen).
        self._last_scores: dict[str, list[pl.DataFrame]] = {}
        self._schemas: dict[str, pl.Schema] = {}
        self._orders: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = {}
        self.rule_engine: RuleEngine | None = None
        self.scorers: dict[str, Scorer] = {}
        self._install(parts.load_scorers())

    @classmethod
    def open(cls, config: AppConfig, clock: Clock | Callable[[], datetime] | None = None) -> Brain:
        """A brain over ``config.state_dir``, continuing from its snapshot when there is one."""
        from fraud_brain.pipeline.assembly import Assembly

        return Assembly(config, clock=clock).brain()

    def now(self) -> datetime:
        """The service's clock."""
        return self.clock.now()

    # ------------------------------------------------------------------ parts
    def _install(self, scorers: dict[str, Scorer]) -> None:
        """Put scorers in service; each stream's online loop (model and pending labels) carries on."""
        from fraud_brain.scoring.online import OnlineLearner, OnlineModel
        from fraud_brain.scoring.scorer import OFFLINE_LOGIT

        for stream, scorer in scorers.items():
            inputs = [*scorer.feature_names, OFFLINE_LOGIT]
            learner = self.learners.get(stream)
            if learner is None or learner.n_features != len(inputs):
                # A model reading other features cannot learn from the rows kept for the old one.
                learner = OnlineLearner(
                    OnlineModel(inputs), len(inputs), negative_after=int(self.config.label_maturity_hours * 3_600_000),
                    capacity=self.config.online_capacity,
                )
                learner.load(self._online_dir / stream)
                self.learners[stream] = learner
            if scorer.online is None and isinstance(learner.model, OnlineModel):
                # It learns from every label; the champion's blend decides when its score counts.
                scorer.online = learner.model
        self.scorers = scorers
        self._schemas.clear()

    def _scored_schema(self, stream: str) -> pl.Schema:
        """The scored-frame schema of a stream, from an empty batch through the real path (once:
        the feature spec fixes it)."""
        if stream not in self._schemas:
            facts = self.streams[stream]
            features = self.engine.peek(stream, facts.schema.empty())
            scores = self.scorers[stream].score_batch(features, learn_anomaly=False)
            self._schemas[stream] = assemble(facts, None, features, scores, self.profiles).schema
        return self._schemas[stream]

    def _feature_order(self, emitted: list[str], wanted: list[str]) -> np.ndarray:
        """Positions of a model's features among the engine's emitted ones (cached per pair)."""
        key = (tuple(emitted), tuple(wanted))
        order = self._orders.get(key)
        if order is None:
            index = {name: i for i, name in enumerate(emitted)}
            order = self._orders[key] = np.array([index[name] for name in wanted], np.int64)
        return order

    def _rules(self) -> RuleEngine:
        """The rule engine, created on first use (it needs the scored schemas)."""
        if self.rule_engine is None:
            self.rule_engine = self.parts.rule_engine({s: self._scored_schema(s) for s in self.streams})
        return self.rule_engine

    @property
    def versions(self) -> dict[str, str]:
        """Running model versions and the rules' version (for metrics and health)."""
        out = {f"model_{s}": str(sc.manifest.version if sc.manifest else None) for s, sc in self.scorers.items()}
        if self.rule_engine is not None:
            out["rules"] = str(self.rule_engine.ruleset.version)
        return out

    # ------------------------------------------------------------------ feeds
    def _stream_of(self, kind: str) -> str:
        """The scored stream a record kind (or stream name) feeds; a readable refusal otherwise."""
        if kind in self.streams:
            return kind
        for name, facts in self.streams.items():
            if facts.schema.kind == kind:
                return name
        if kind in self.spec.streams and kind != self.spec.label_stream:
            return kind  # a state-only stream the features read (the card spec's fraud reports)
        raise InputError(f"cannot ingest {kind!r} records; expected one of {sorted(self.streams)} (labels: add_labels)")

    def _dead_letter(self, result: ValidationResult, source: str) -> list[dict[str, Any]]:
        self.dead_letters.put(result, source=source)
        return result.errors.to_dicts()

    def ingest(self, kind: str, raw: pl.DataFrame, source: str) -> IngestReport:
        """Validate, featurize, score and act on one micro-batch of records of a scored stream."""
        stream = self._stream_of(kind)
        return self.ingest_validated(validate(raw, self.spec.record_schema(self.spec.streams[stream].schema or stream)),
                                     source, stream)

    def ingest_validated(self, result: ValidationResult, source: str, stream: str | None = None) -> IngestReport:
        """:meth:`ingest` of a batch already validated (the API validates off the engine thread).

        The valid records are in the write-ahead log (on disk) before the engine takes them.
        """
        name = self._stream_of(stream or result.kind)
        with self._lock:
            report = IngestReport(accepted=result.valid.height, rejected=result.rejected.height)
            report.errors = self._dead_letter(result, source)
            if result.valid.height:
                self._rules()  # a rule file that cannot load fails here, before anything is logged or taken
                seq = self._log("ingest", result.valid, stream=name, source=source)
                self._apply_records(name, result.valid, source, report)
                self._applied(seq, result.valid.height)
            return report

    def _apply_records(self, stream: str, records: pl.DataFrame, source: str, report: IngestReport) -> None:
        """The engine takes a batch of valid records (the live path and the log's replay)."""
        self._absorb(self.engine.process({stream: records}), report, source)

    def flush(self) -> IngestReport:
        """Release every buffered event regardless of the allowed lateness (end of a replay, shutdown)."""
        with self._lock:
            report = IngestReport()
            seq = self._log("flush", None, source="flush")
            self._absorb(self.engine.flush(), report, "flush")
            self._applied(seq, 0)
            return report

    # ------------------------------------------------------------------ durability
    def _log(self, op: str, records: pl.DataFrame | None, **fields: str) -> int | None:
        """Append one state change to the write-ahead log and wait until it is on disk; its seq."""
        if self.durable is None or self._replaying:
            return None
        from fraud_brain.durability import table_to_ipc

        payload = table_to_ipc(records.to_arrow()) if records is not None else b""
        return self.durable.wal.append(payload, header=json.dumps({"op": op, **fields}, sort_keys=True))

    def _applied(self, seq: int | None, records: int) -> None:
        """Note that log entry ``seq`` is applied; checkpoint when enough records or time went by."""
        if seq is None:
            return
        self._applied_seq = seq
        self._since_snapshot += max(records, 1)
        if (self._since_snapshot >= self.config.snapshot_records
                or time.monotonic() - self._last_snapshot >= self.config.snapshot_seconds):
            self.checkpoint()

    def recover(self) -> int:
        """Replay the log entries after the recovered snapshot through the live code; how many.

        Called once by the composition root after the brain is built from that snapshot.
        """
        if self.durable is None:
            return 0
        from fraud_brain.durability import ipc_to_table

        count = 0
        with self._lock:
            self._replaying = True
            try:
                for entry in self.durable.replay():
                    header = json.loads(entry.header)
                    op, source = header["op"], header.get("source", "replay")
                    if op == "ingest":
                        records = cast(pl.DataFrame, pl.from_arrow(ipc_to_table(entry.payload)))
                        self._apply_records(header["stream"], records, source, IngestReport())
                    elif op == "labels":
                        labels = cast(pl.DataFrame, pl.from_arrow(ipc_to_table(entry.payload)))
                        self._apply_labels(labels, source, IngestReport())
                    elif op == "flush":
                        self._absorb(self.engine.flush(), IngestReport(), "flush")
                    else:
                        from fraud_brain.errors import StateError

                        raise StateError(f"WAL entry {entry.seq}: unknown operation {op!r}")
                    self._applied_seq = entry.seq
                    count += 1
            finally:
                self._replaying = False
        if count:
            log.info("replayed %d write-ahead log entries after WAL seq %d", count, self.durable.base_seq)
        return count

    @property
    def recovery(self) -> dict[str, Any]:
        """How the state was recovered: snapshot, WAL seqs and any snapshot passed over (for /health)."""
        if self.durable is None:
            return {"durable": False}
        snapshot = self.durable.snapshot
        return {"durable": True, "snapshot": snapshot.folder.name if snapshot else None,
                "snapshot_wal_seq": self.durable.base_seq, "applied_wal_seq": self._applied_seq,
                "skipped_snapshots": list(self.durable.skipped)}

    def checkpoint(self) -> None:
        """Snapshot the state after the last applied log entry (engine, online loops, cooldowns,
        latest scores, label cursor), then let the log drop what every kept snapshot covers."""
        if self.durable is None:
            return
        with self._lock:
            parts: dict[str, Any] = {"engine": self.engine.snapshot, "online": self._save_online,
                                     "cooldowns": self._save_cooldowns, "latest_scores": self._save_latest}
            meta = {"label_cursor": self._label_cursor.isoformat(), "versions": self.versions}
            self.durable.checkpoint(parts, wal_seq=self._applied_seq, meta=meta)
            self._checkpointed_seq = self._applied_seq
            self._since_snapshot = 0
            self._last_snapshot = time.monotonic()

    def _save_online(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for stream, learner in self.learners.items():
            learner.save(folder / stream)

    def _save_cooldowns(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.rule_engine is not None:
            self.rule_engine.decider.save(folder / "cooldowns.sqlite")

    def _save_latest(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for stream, frames in self._last_scores.items():
            if frames:
                latest = pl.concat(frames, how="vertical_relaxed").unique("entity_id", keep="last", maintain_order=True)
                latest.write_parquet(folder / f"{stream}.parquet")

    def restore_extras(self, folder_of: Callable[[str], Path | None], label_cursor: str | None) -> None:
        """Take the cooldowns, latest scores and label cursor of a snapshot (the composition root's
        restore; the engine and online loops are restored as they are built)."""
        from fraud_brain.rules.decider import Decider

        cooldowns = folder_of("cooldowns")
        if cooldowns is not None:
            saved = cooldowns / "cooldowns.sqlite"
            if saved.exists():
                # SQLite may touch a file it opens: read a copy, the snapshot stays as checksummed
                working = self.state_dir / "cooldowns.restored.sqlite"
                shutil.copyfile(saved, working)
                self._rules().decider = Decider.restore(working)
            else:
                self._rules().decider = Decider()
        latest = folder_of("latest_scores")
        if latest is not None:
            for file in sorted(latest.glob("*.parquet")):
                self._last_scores[file.stem] = [pl.read_parquet(file)]
        if label_cursor:
            self._label_cursor = datetime.fromisoformat(label_cursor)

    def close(self) -> None:
        """Checkpoint, close the log and release the state folder (a clean shutdown)."""
        with self._lock:
            if self.durable is None:
                return
            try:
                if self._checkpointed_seq != self._applied_seq:
                    self.checkpoint()
            finally:
                self.durable.close()
                self.durable = None

    def _absorb(self, batch: FeatureBatch, report: IngestReport, source: str) -> None:
        for stream, late in batch.late.items():
            report.late += late.height
            self._dead_letter_late(stream, late, source)
        report.duplicates += sum(batch.duplicates.values())
        scored_parts = []
        for stream, facts in self.streams.items():
            features = batch.features.get(stream)
            if features is None or features.height == 0:
                continue
            scored = self._score(stream, features)
            decisions = self._decide(scored, stream)
            if decisions.height:
                scored, decisions = explain_hits(facts, scored, decisions, self.scorers[stream])
                ingested = self.orchestrator.ingest(decisions, self.now())
                report.alerts += ingested.alerts
                report.refused_decisions += ingested.rejected
            self._remember_latest(stream, scored)
            scored_parts.append(scored.select(pl.col(facts.id).cast(pl.String).alias("id"), "score",
                                              pl.col("reasons_en").alias("reasons")))
        if scored_parts:
            report.scored = pl.concat(scored_parts)
        self._learn_matured()

    def _decide(self, scored: pl.DataFrame, stream: str) -> pl.DataFrame:
        """The rules' decisions on a scored frame. A rule file reloaded on the way that fails on
        live data is put aside and the version that ran before decides: the engine has already
        taken these records, so the batch must not fail."""
        from fraud_brain.rules import RuleManager
        from fraud_brain.rules.errors import RuleFileError, RuleProblem

        engine = self._rules()
        manager = engine.rules
        before = manager.rules if isinstance(manager, RuleManager) else None
        try:
            return engine.decisions(scored, event=stream)
        except Exception as error:
            if not isinstance(manager, RuleManager) or before is None or manager.rules is before:
                raise
            log.warning("rule file %s (version %s) fails on live data (%s); version %s keeps running",
                        manager.path, manager.rules.version, error, before.version)
            manager.last_error = RuleFileError([RuleProblem(str(manager.path), None, None,
                                                            f"fails on live {stream} records: {error}")])
            manager.rules = before
            return engine.decisions(scored, event=stream)

    def _dead_letter_late(self, stream: str, late: pl.DataFrame, source: str) -> None:
        facts = self.streams.get(stream)
        id_field = facts.id if facts else self.spec.streams[stream].id
        time_field = facts.time if facts else self.spec.streams[stream].time
        rows = late.with_row_index("_row").select(pl.all().cast(pl.String))
        reasons = pl.DataFrame(
            {
                "row": pl.Series(range(late.height), dtype=pl.UInt32),
                "record_id": late[id_field].cast(pl.String),
                "field": [time_field] * late.height,
                "reason": ["older than the watermark (later than the allowed lateness); set aside"] * late.height,
            }
        )
        self.dead_letters.put(ValidationResult(stream, late.head(0), reasons, rows), source=f"{source} (late)")

    def _score(self, stream: str, features: pl.DataFrame) -> pl.DataFrame:
        from fraud_brain.scoring.offline import feature_matrix
        from fraud_brain.scoring.scorer import logit, online_inputs

        facts = self.streams[stream]
        scorer = self.scorers[stream]
        scores = scorer.score_batch(features)
        scored = assemble(facts, None, features, scores, self.profiles)
        learner = self.learners.get(stream)
        if learner is not None:
            X = feature_matrix(features, scorer.feature_names)
            rows = online_inputs(X, logit(np.clip(scores["offline_score"].to_numpy(), 1e-9, 1 - 1e-9)))
            keys = features[facts.label_key].cast(pl.String).fill_null("").to_list()
            learner.remember(keys, features[facts.time].dt.epoch("ms").to_numpy(), rows)
        return scored

    def _learn_matured(self) -> None:
        """Events unlabelled for the maturity period, by the engine's event time, are learned as legitimate."""
        if self.engine.max_seen == np.iinfo(np.int64).min:
            return
        for learner in self.learners.values():
            learner.learn_matured(int(self.engine.max_seen))

    def _remember_latest(self, stream: str, scored: pl.DataFrame) -> None:
        """Keep each entity's latest score and reasons for :meth:`entity_risk`."""
        facts = self.streams[stream]
        if facts.risk_key is None:
            return
        latest = scored.select(pl.col(facts.risk_key).alias("entity_id"), pl.col(facts.time).alias("scored_at"),
                               "score", "reasons_en", "reasons_zh")
        frames = self._last_scores.setdefault(stream, [])
        frames.append(latest)
        if len(frames) > 64:
            compact = pl.concat(frames, how="vertical_relaxed").unique("entity_id", keep="last", maintain_order=True)
            self._last_scores[stream] = [compact]

    # ------------------------------------------------------------------ labels
    def add_labels(self, raw: pl.DataFrame, source: str) -> IngestReport:
        """Confirmed outcomes: known-label state in the engine, and the online loops of the scored streams."""
        with self._lock:
            result = validate(raw, self.spec.record_schema("label"))
            report = IngestReport(accepted=result.valid.height, rejected=result.rejected.height)
            report.errors = self._dead_letter(result, source)
            if result.valid.height == 0:
                return report
            seq = self._log("labels", result.valid, source=source)
            self._apply_labels(result.valid, source, report)
            self._applied(seq, result.valid.height)
            return report

    def _apply_labels(self, labels: pl.DataFrame, source: str, report: IngestReport) -> None:
        """Valid labels into the engine and the online loops (the live path and the log's replay)."""
        if source == "outcomes":
            # the pump read these from the store: a replay moves its read cursor as the live run did
            self._label_cursor = max(self._label_cursor, cast(datetime, labels["known_at"].max()))
        # A label becomes known to the brain when it arrives: one stamped earlier than the
        # watermark (a slow back-office feed) is taken as known now, not set aside as late.
        if self.engine.max_seen != np.iinfo(np.int64).min:
            floor = self.engine.max_seen - self.spec.lateness_ms
            labels = labels.with_columns(
                pl.max_horizontal(
                    pl.col("known_at"), pl.lit(floor).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
                ).alias("known_at")
            )
        if self.spec.label_stream is not None:
            self._absorb(self.engine.process({self.spec.label_stream: labels}), report, source)
        for stream, facts in self.streams.items():
            learner = self.learners.get(stream)
            named = labels.filter(pl.col("entity_type").cast(pl.String) == facts.label_entity)
            named = named.unique("entity_id", keep="last", maintain_order=True)
            if learner is not None and named.height:
                learner.learn_labels(named["entity_id"].to_list(), named["is_fraud"].cast(pl.Int8).to_numpy())

    def learned(self, stream: str | None = None) -> int:
        """Events the online loop of ``stream`` (default: the payment stream) has learned from:
        labelled ones and those that matured unlabelled (learned as legitimate)."""
        learner = self.learners.get(stream or self.config.payment_stream)
        return 0 if learner is None else learner.n_learned

    # ------------------------------------------------------------------ synchronous checks
    def _payment(self) -> StreamFacts:
        facts = self.streams.get(self.config.payment_stream)
        if facts is None:
            raise InputError(f"the feature spec scores no payment stream {self.config.payment_stream!r}; "
                             f"scored streams: {sorted(self.streams)}")
        return facts

    def _typed_record(self, facts: StreamFacts, raw: dict[str, Any]) -> pl.DataFrame:
        """One record typed to the schema: a plainly valid record skips the batch validator."""
        schema = facts.schema
        if obviously_valid(raw, schema):
            record = {f.name: raw.get(f.name) for f in schema.fields}
            record[facts.time] = datetime.fromisoformat(str(record[facts.time])).astimezone(UTC)
            return pl.DataFrame([record], schema=schema.polars_schema())
        result = validate(pl.DataFrame([raw]), schema)
        if not result.ok:
            raise InputError("; ".join(result.messages()))
        return result.valid

    def check_transfer(self, raw: dict[str, Any]) -> CheckResult:
        """Score one payment before it is executed: allow, review or hold. Changes no state.

        The single-record path on the payment stream: the engine's state is read (not written),
        the model scores one row with :meth:`~fraud_brain.scoring.scorer.Scorer.score_one`, and
        the active rules are evaluated on that row (a hit that asks for a stop-payment holds it).
        """
        with self._lock:
            facts = self._payment()
            stream = facts.name
            record = self._typed_record(facts, raw)
            names, values = self.engine.peek_values(stream, record)
            features = values[0]
            scorer = self.scorers[stream]
            vector = features[self._feature_order(names, scorer.feature_names)]
            scored_one = scorer.score_one(vector)
            row = record.row(0, named=True)
            profile = self._profile_of.get(row[facts.profile_key]) if facts.profile_key else None
            row["age_band"], row["district"] = profile or (None, None)
            # NaN (no history) is null for the rules, as in the batch path (missing_as_null)
            row.update((name, None if np.isnan(value) else value)
                       for name, value in zip(names, features.tolist(), strict=True))
            row.update(
                score=scored_one.score, offline_score=scored_one.offline, online_score=scored_one.online,
                anomaly_score=scored_one.anomaly, reasons_en=[r.en for r in scored_one.reasons],
                reasons_zh=[r.zh for r in scored_one.reasons], reason_features=[r.feature for r in scored_one.reasons],
            )
            schema = self._scored_schema(stream)
            scored = pl.DataFrame([{column: row.get(column) for column in schema}], schema=schema)
            hits = self._rules().ruleset.evaluate(scored, event=stream).filter(pl.col("mode") == "active")
            if hits.height and not scored_one.reasons:
                # a rule acts on it below the reason threshold: the bank still gets the reasons
                scored_one = scorer.score_one(vector, reasons=True)
            score = float(scored_one.score)
            actions = {a for row_actions in hits["actions"].to_list() for a in row_actions}
            decision: CheckDecision
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

    def risk_entities(self) -> list[str]:
        """The entity types :meth:`entity_risk` answers for (from the spec's scored streams)."""
        return [f.risk_entity for f in self.streams.values() if f.risk_entity is not None]

    def entity_risk(self, entity_type: str, entity_id: str) -> EntityRisk:
        """The latest score of an entity the spec names as a scored stream's risk entity, with reasons.

        Raises :class:`~fraud_brain.errors.MissingInputError` when the engine has never scored the entity.
        """
        stream = next((s for s, f in self.streams.items() if f.risk_entity == entity_type), None)
        if stream is None:
            raise InputError(f"entity type {entity_type!r}: expected one of {self.risk_entities()}")
        with self._lock:
            record = None
            for frame in reversed(self._last_scores.get(stream, [])):
                rows = frame.filter(pl.col("entity_id") == entity_id)
                if rows.height:
                    record = rows.row(rows.height - 1, named=True)
                    break
            if record is None:
                raise MissingInputError(f"{entity_type} {entity_id} is not known to the engine")
            return EntityRisk(entity_type, entity_id, record["score"], record["scored_at"].isoformat(),
                              list(record["reasons_en"]), list(record["reasons_zh"]))

    # ------------------------------------------------------------------ operations
    def reload(self) -> dict[str, Any]:
        """Reload the champion models, the rule file and the escalation policy through the
        composition root; a failing reload keeps what runs now and says why."""
        with self._lock:
            out: dict[str, Any] = {}
            try:
                scorers = self.parts.load_scorers()
            except Exception as error:
                out["models"] = {"status": "kept", "error": str(error)}
            else:
                self._install(scorers)
                models = {k: v for k, v in self.versions.items() if k.startswith("model_")}
                out["models"] = {"status": "reloaded", **models}
            from fraud_brain.rules import RuleManager

            engine = self._rules()
            if isinstance(engine.rules, RuleManager):
                reloaded = engine.rules.reload()
                out["rules"] = {"status": "reloaded" if reloaded.ok else "kept", "version": engine.ruleset.version}
                if not reloaded.ok:
                    out["rules"]["error"] = str(reloaded.error)
            failed = self.parts.reload_policy(self.orchestrator)
            out["policy"] = {"status": "kept", "error": str(failed)} if failed else {"status": "reloaded"}
            return out

    def pump(self, now: datetime | None = None) -> dict[str, int]:
        """Run timers and deliver due actions once (re-dials, escalations, the outbox)."""
        with self._lock:
            now = now or self.now()
            tick = self.orchestrator.tick(now)
            sent = self.dispatcher.run_once(now)
            learned = self._learn_from_outcomes()
            return {"outcomes": tick.outcomes, "dispatched": sent.claimed, "labels": learned}

    def _learn_from_outcomes(self) -> int:
        """Labels the workflow wrote (agent dispositions, bank freezes) flow back into the brain."""
        labels = self.store.labels_since(self._label_cursor)
        if labels.height == 0:
            return 0
        # labels_since is inclusive; repeats are harmless (label ids are deduplicated, and an
        # event's inputs are learned from once) but the cursor (moved by _apply_labels) keeps them few.
        report = self.add_labels(labels, source="outcomes")
        self._label_cursor = max(self._label_cursor, cast(datetime, labels["known_at"].max()))
        return report.accepted

    def snapshot(self) -> None:
        """Persist the engine state, the online loops (models and pending labels) and the rule
        cooldowns, so a restart continues where this left off (a checkpoint of the state folder;
        without one, the plain files of the state folder)."""
        with self._lock:
            if self.durable is not None:
                self.checkpoint()
                return
            self.engine.snapshot(self.state_dir / "engine")
            for stream, learner in self.learners.items():
                learner.save(self.state_dir / "online" / stream)
            if self.rule_engine is not None:
                self.rule_engine.save()
