"""The whole brain over a data folder: features → models → rules → actions, in event time.

This is the main job (``fraud-brain run``) and the history source of ``fraud-brain backtest``:
the records of a folder are validated, replayed through the streaming feature engine (the one
definition of features), scored by the champion models, judged by the rules with cooldowns,
and the decisions run through the action workflow on a simulated clock with the embedded
adapters (voice-bot, agent desk, bank, officer pager), writing cases and the outbox to SQLite.

>>> from fraud_brain.pipeline.batch import RunSettings
>>> RunSettings().models_dir.name
'models'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fraud_brain.pipeline.scored import REASONS_FROM, STREAM_KIND, assemble, explain_hits, profile_table

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunSettings:
    """Where the pieces of a run come from and where its state goes."""

    spec: str | Path = "telecom"
    models_dir: Path = field(default_factory=lambda: Path("models"))
    rules_path: Path | None = None
    """Rule file (default: the bundled rules)."""
    policy_path: Path | None = None
    """Escalation policy (default: the bundled policy)."""
    state_dir: Path | None = None
    """Folder for the SQLite store; None keeps it in memory."""
    seed: int = 0
    """Seed of the embedded adapters' simulated outcomes."""


@dataclass
class ScoredHistory:
    """A data folder replayed and scored: what the rules see, plus labels and any ground truth."""

    scored: dict[str, pl.DataFrame]
    labels: pl.DataFrame
    truth: dict[str, pl.DataFrame]
    records: dict[str, int]
    scorers: dict[str, Any] = field(default_factory=dict)
    """The scorer of each stream, to explain events that rules act on below the reason threshold."""


def score_history(
    data_dir: str | Path,
    settings: RunSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScoredHistory:
    """Replay and score a data folder with the champion models of ``settings.models_dir``."""
    from fraud_brain.features import replay, resolve_spec
    from fraud_brain.scoring.dataset import load_sources
    from fraud_brain.scoring.scorer import load_champion_scorer

    settings = settings or RunSettings()
    spec = resolve_spec(settings.spec)
    sources, truth = load_sources(data_dir)
    subscribers = sources.get("subscriber")
    reference = {"subscribers": subscribers} if subscribers is not None else None
    streams = {name: sources[name] for name in ("label", "call", "transfer") if name in sources}
    features = replay(spec, streams, reference=reference, progress=progress)
    profiles = profile_table(subscribers)
    scored: dict[str, pl.DataFrame] = {}
    scorers: dict[str, Any] = {}
    for stream, model_name in (("transfer", "transfer"), ("call", "number")):
        if stream not in features or STREAM_KIND[stream] not in sources:
            continue
        scorer = load_champion_scorer(settings.models_dir, spec, model_name, reason_threshold=REASONS_FROM[stream])
        scores = scorer.score_batch(features[stream])
        scorers[stream] = scorer
        scored[stream] = assemble(stream, sources[stream], features[stream], scores, profiles)
    return ScoredHistory(
        scored=scored,
        labels=sources["label"],
        truth=truth,
        records={kind: frame.height for kind, frame in sources.items()},
        scorers=scorers,
    )


@dataclass
class RunResult:
    """A whole run: the scored history, every rule hit (with its cooldown status) and the workflow."""

    history: ScoredHistory
    hits: pl.DataFrame
    decisions: pl.DataFrame
    workflow: object
    """The :class:`fraud_brain.actions.ReplayResult` of the decisions (store, ingest and dispatch reports)."""


def load_rules(rules_path: Path | None, scored: dict[str, pl.DataFrame]):  # noqa: ANN201 - RuleSet
    """The rule file, validated against the scored frames' real schemas."""
    from fraud_brain.rules import DEFAULT_RULES_PATH, RuleSet

    return RuleSet.load(rules_path or DEFAULT_RULES_PATH, {stream: frame.schema for stream, frame in scored.items()})


def decide(rules, scored: dict[str, pl.DataFrame]) -> pl.DataFrame:  # noqa: ANN001 - RuleSet
    """Every hit of every scored stream, through one cooldown decider in event-time order."""
    from fraud_brain.rules import Decider, empty_hits

    hits = [rules.evaluate(frame, event=stream) for stream, frame in scored.items()]
    hits = [h for h in hits if h.height]
    if not hits:
        return Decider().decide(empty_hits())
    return Decider().decide(pl.concat(hits).sort("time", maintain_order=True))


def run_folder(
    data_dir: str | Path,
    settings: RunSettings | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> RunResult:
    """Run the brain over a data folder; ``progress(stage, done, total)`` reports each stage."""
    from fraud_brain.actions import load_policy, replay
    from fraud_brain.store import SQLiteRepository

    settings = settings or RunSettings()
    history = score_history(
        data_dir, settings, progress=None if progress is None else lambda d, t: progress("features", d, t)
    )
    rules = load_rules(settings.rules_path, history.scored)
    hits = decide(rules, history.scored)
    for stream, scorer in history.scorers.items():
        history.scored[stream], hits = explain_hits(stream, history.scored[stream], hits, scorer)
    decisions = hits.filter(pl.col("active")).drop("status", "active")
    if settings.state_dir is not None:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        store_path = settings.state_dir / "brain.sqlite"
        store_path.unlink(missing_ok=True)
        store = SQLiteRepository(store_path)
    else:
        store = SQLiteRepository(":memory:")
    policy = load_policy(settings.policy_path) if settings.policy_path else None
    workflow = replay(
        decisions,
        store,
        policy=policy,
        seed=settings.seed,
        progress=None if progress is None else lambda d, t: progress("actions", d, t),
    )
    return RunResult(history=history, hits=hits, decisions=decisions, workflow=workflow)


@functools.lru_cache(maxsize=4)
def _scored_folder(folder: str, models_dir: str) -> tuple[pl.DataFrame, ...]:
    history = score_history(folder, RunSettings(models_dir=Path(models_dir)))
    return tuple(history.scored.values())


def raw_history_source(data: Path, models_dir: Path = Path("models")) -> list[pl.DataFrame] | None:
    """A backtest source: a folder of raw records (not yet scored) replayed and scored; None otherwise.

    >>> raw_history_source(Path("/nonexistent")) is None
    True
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
    return list(_scored_folder(str(data.resolve()), str(models_dir.resolve())))
