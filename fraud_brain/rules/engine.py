"""The rules stage of the pipeline: scored batches in, decisions out.

:class:`RuleEngine` joins the pieces: the running rules (a :class:`RuleManager` that hot-reloads
its file, or a fixed :class:`RuleSet`), then the :class:`Decider` (cooldowns, shadow mode), whose
state is restored from and saved to a SQLite file so a restart does not re-alert.

>>> import polars as pl
>>> from datetime import datetime, timezone
>>> from fraud_brain.rules.ruleset import RuleSet
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> batch = pl.DataFrame({"call_id": ["c1", "c2"], "start_time": [t, t], "callee": ["138", "138"],
...                       "score": [0.95, 0.97]})
>>> text = ('[[rule]]\\nname = "hot"\\nevent = "call"\\nwhen = "score >= 0.9"\\n'
...         'actions = ["voice_bot"]\\nvictim = "callee"\\ncooldown = "30m"\\n')
>>> rules = RuleSet.from_text(text, batch.schema)
>>> RuleEngine(rules).decisions(batch)["event_id"].to_list()
['c1']
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fraud_brain.rules.decider import Decider
from fraud_brain.rules.errors import RuleFileError
from fraud_brain.rules.manager import RuleManager
from fraud_brain.rules.ruleset import RuleSet, empty_hits


class RuleStats:
    """Live per-rule counts (hits, decisions, suppressed by cooldown), shadow rules alike.

    >>> stats = RuleStats()
    >>> stats.add(pl.DataFrame({"rule": ["r", "r", "s"], "mode": ["active", "active", "shadow"],
    ...                         "status": ["fired", "cooldown", "shadow"]}))
    >>> stats.table().rows()
    [('r', 'active', 2, 1, 1), ('s', 'shadow', 1, 1, 0)]
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = {}

    def add(self, decided: pl.DataFrame) -> None:
        """Count a batch of decided hits (the output of :meth:`Decider.decide`)."""
        if decided.height == 0:
            return
        grouped = decided.group_by("rule", "mode").agg(
            pl.len().alias("hits"),
            pl.col("status").cast(pl.String).is_in(["fired", "shadow"]).sum().alias("decisions"),
        )
        for rule, mode, hits, decisions in grouped.iter_rows():
            entry = self.counts.setdefault((rule, mode), [0, 0])
            entry[0] += hits
            entry[1] += decisions

    def table(self) -> pl.DataFrame:
        """rule, mode, hits, decisions (would-be decisions for shadow rules), suppressed; by rule name."""
        rows = [(rule, mode, h, d, h - d) for (rule, mode), (h, d) in sorted(self.counts.items())]
        return pl.DataFrame(rows, schema={"rule": pl.String, "mode": pl.String, "hits": pl.Int64,
                                          "decisions": pl.Int64, "suppressed": pl.Int64}, orient="row")


class RuleEngine:
    """Hot-reloaded rules then per-entity cooldowns; ``state_path`` keeps cooldowns across restarts.

    ``stats`` counts every rule's hits and decisions live, shadow rules included.
    """

    def __init__(self, rules: RuleManager | RuleSet, state_path: str | Path | None = None):
        self.rules = rules
        self.state_path = Path(state_path) if state_path is not None else None
        self.decider = Decider.restore(self.state_path) if self.state_path is not None else Decider()
        self.stats = RuleStats()

    @property
    def ruleset(self) -> RuleSet:
        """The rules running now."""
        return self.rules.rules if isinstance(self.rules, RuleManager) else self.rules

    @property
    def reload_error(self) -> RuleFileError | None:
        """Why the last changed rule file was refused (the older rules are still running), if it was."""
        return self.rules.last_error if isinstance(self.rules, RuleManager) else None

    def process(self, batch: pl.DataFrame, event: str | None = None) -> pl.DataFrame:
        """Every hit of the batch, with its ``status`` (fired, cooldown, shadow...) and ``active``."""
        decided = self.decider.decide(self.rules.evaluate(batch, event=event))
        self.stats.add(decided)
        return decided

    def decisions(self, batch: pl.DataFrame, event: str | None = None) -> pl.DataFrame:
        """Only the active decisions of the batch, in the hits layout the actions layer consumes."""
        decided = self.process(batch, event=event)
        if decided.height == 0:  # most batches: no rule hit
            return empty_hits()
        return decided.filter(pl.col("active")).drop("status", "active")

    def save(self) -> None:
        """Snapshot the cooldown state to ``state_path`` (a no-op without one)."""
        if self.state_path is not None:
            self.decider.save(self.state_path)
