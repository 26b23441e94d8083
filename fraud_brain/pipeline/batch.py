"""The whole brain over a data folder: features → models → rules → actions, in event time.

This is the main job (``fraud-brain run``) and the history source of ``fraud-brain backtest``:
the records of a folder are validated, replayed through the streaming feature engine (the one
definition of features), scored by the champion models of every stream the spec scores, judged
by the rules with cooldowns, and the decisions run through the action workflow on a simulated
clock with the embedded adapters (voice-bot, agent desk, bank, officer pager), writing cases and
the outbox to SQLite. The parts come from the composition root
(:class:`~fraud_brain.pipeline.assembly.Assembly`).

>>> raw_history_source(Path("/nonexistent")) is None
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fraud_brain.errors import MissingInputError
from fraud_brain.pipeline.scored import assemble, explain_hits, profile_table, stream_facts

if TYPE_CHECKING:
    from fraud_brain.features import Spec
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.rules import RuleSet


def load_spec_sources(data_dir: str | Path, spec: Spec) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """Every record kind of ``spec`` found in a data folder (validated), by kind, and its ground truth."""
    from fraud_brain.io.files import load_kind
    from fraud_brain.scoring.dataset import read_truth

    folder = Path(data_dir)
    if not folder.is_dir():
        raise MissingInputError(f"data folder {folder} does not exist")
    sources = {}
    for kind in spec.records:
        frame = load_kind(folder, spec.record_schema(kind))
        if frame is not None:
            sources[kind] = frame
    scored_kinds = {spec.streams[s].schema or s for s in spec.scored_streams()}
    if not scored_kinds & set(sources):
        kinds = ", ".join(sorted(scored_kinds))
        raise MissingInputError(f"data folder {folder}: no records of a scored stream ({kinds})")
    return sources, read_truth(folder)


@dataclass
class ScoredHistory:
    """A data folder replayed and scored: what the rules see, plus labels and any ground truth."""

    scored: dict[str, pl.DataFrame]
    labels: pl.DataFrame
    truth: dict[str, pl.DataFrame]
    records: dict[str, int]
    scorers: dict[str, Any] = field(default_factory=dict)
    """The scorer of each stream, to explain events that rules act on below the reason threshold."""
    districts: dict[str, str] = field(default_factory=dict)
    """Victim phone → district (from the subscribers), for officer alerts."""


def score_history(
    data_dir: str | Path,
    assembly: Assembly | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScoredHistory:
    """Replay and score a data folder with the champion models of every scored stream."""
    from fraud_brain.features import replay
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    assembly = assembly or Assembly(AppConfig())
    spec = assembly.spec
    sources, truth = load_spec_sources(data_dir, spec)
    subscribers = sources.get("subscriber")
    reference = {"subscribers": subscribers} if subscribers is not None else None
    kind_of = {name: stream.schema or name for name, stream in spec.streams.items()}
    streams = {name: sources[kind] for name, kind in kind_of.items() if kind in sources}
    features = replay(spec, streams, reference=reference, progress=progress)
    profiles = profile_table(subscribers)
    scored: dict[str, pl.DataFrame] = {}
    scorers: dict[str, Any] = {}
    loaded = assembly.load_scorers()
    for stream, facts in stream_facts(spec).items():
        if stream not in features or kind_of[stream] not in sources:
            continue
        scorer = loaded[stream]
        scores = scorer.score_batch(features[stream])
        scorers[stream] = scorer
        scored[stream] = assemble(facts, sources[kind_of[stream]], features[stream], scores, profiles)
    label_kind = kind_of.get(spec.label_stream or "", "label")
    return ScoredHistory(
        scored=scored,
        labels=sources.get(label_kind, spec.record_schema("label").empty()),
        truth=truth,
        records={kind: frame.height for kind, frame in sources.items()},
        scorers=scorers,
        districts=assembly.districts_of(subscribers if assembly.subscribers is None else assembly.subscribers),
    )


@dataclass
class RunResult:
    """A whole run: the scored history, every rule hit (with its cooldown status) and the workflow."""

    history: ScoredHistory
    hits: pl.DataFrame
    decisions: pl.DataFrame
    workflow: object
    """The :class:`fraud_brain.actions.ReplayResult` of the decisions (store, ingest and dispatch reports)."""


def decide(rules: RuleSet, scored: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every hit of every scored stream, through one cooldown decider in event-time order."""
    from fraud_brain.rules import Decider, empty_hits

    hits = [rules.evaluate(frame, event=stream) for stream, frame in scored.items()]
    hits = [h for h in hits if h.height]
    if not hits:
        return Decider().decide(empty_hits())
    return Decider().decide(pl.concat(hits).sort("time", maintain_order=True))


def run_folder(
    data_dir: str | Path,
    assembly: Assembly | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> RunResult:
    """Run the brain over a data folder; ``progress(stage, done, total)`` reports each stage."""
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    assembly = assembly or Assembly(AppConfig())
    history = score_history(
        data_dir, assembly, progress=None if progress is None else lambda d, t: progress("features", d, t)
    )
    rules = assembly.rule_set({stream: frame.schema for stream, frame in history.scored.items()})
    hits = decide(rules, history.scored)
    facts = stream_facts(assembly.spec)
    for stream, scorer in history.scorers.items():
        history.scored[stream], hits = explain_hits(facts[stream], history.scored[stream], hits, scorer)
    decisions = hits.filter(pl.col("active")).drop("status", "active")
    store = assembly.store(fresh=True)
    workflow = assembly.replay_decisions(
        decisions, store, districts=history.districts,
        progress=None if progress is None else lambda d, t: progress("actions", d, t),
    )
    return RunResult(history=history, hits=hits, decisions=decisions, workflow=workflow)


@functools.lru_cache(maxsize=4)
def _scored_folder(folder: str, models_dir: str | None) -> tuple[pl.DataFrame, ...]:
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    config = AppConfig(models_dir=Path(models_dir) if models_dir else None)
    return tuple(score_history(folder, Assembly(config)).scored.values())


def raw_history_source(data: Path, models_dir: Path | None = None) -> list[pl.DataFrame] | None:
    """A backtest source: a folder of raw records (not yet scored) replayed and scored; None otherwise.

    ``models_dir`` defaults to the bundled models.
    """
    from fraud_brain.io.files import find_record_file

    if not data.is_dir():
        return None
    transfers = find_record_file(data, "transfers")
    if transfers is None:
        return None
    columns = pl.read_parquet_schema(transfers) if transfers.suffix == ".parquet" else {}
    if "score" in columns:
        return None
    return list(_scored_folder(str(data.resolve()), str(models_dir.resolve()) if models_dir else None))
