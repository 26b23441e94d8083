"""Hot reload: keep a rule file's latest *valid* version running.

:class:`RuleManager` checks the file's modification time and size on each batch (cheap) and
its content hash when they change (or on demand). A changed file is validated in full; if it
fails, the old rules keep running and the error is kept in ``last_error`` for the operator.

>>> import tempfile, os, polars as pl
>>> from datetime import datetime, timezone
>>> path = os.path.join(tempfile.mkdtemp(), "rules.toml")
>>> rule = ('[[rule]]\\nname = "hot"\\nevent = "call"\\nwhen = "score >= {}"\\n'
...         'actions = ["voice_bot"]\\nvictim = "callee"\\n')
>>> _ = open(path, "w").write(rule.format(0.9))
>>> schema = pl.Schema({"call_id": pl.String, "start_time": pl.Datetime("ms", "UTC"),
...                     "callee": pl.String, "score": pl.Float64})
>>> manager = RuleManager(path, schema)
>>> _ = open(path, "w").write(rule.format("'high'"))
>>> manager.reload().ok, manager.rules.rule("hot").condition
(False, 'score >= 0.9')
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fraud_brain.rules.errors import RuleFileError, RuleProblem
from fraud_brain.rules.loader import SchemaArg
from fraud_brain.rules.ruleset import RuleSet
from fraud_brain.rules.streams import EventFacts


@dataclass(frozen=True)
class ReloadResult:
    """What a reload check did: ``changed`` file, ``ok`` (new rules running) and any ``error``."""

    changed: bool
    ok: bool
    version: str
    error: RuleFileError | None = None


class RuleManager:
    """The running rule set of a file, reloaded when the file changes; a bad file is refused.

    The first load must succeed (there is nothing older to keep running).
    """

    def __init__(self, path: str | Path, schema: SchemaArg, events: Mapping[str, EventFacts] | None = None):
        self.path = Path(path)
        self.schema = schema
        self.events = events
        self.rules = RuleSet.load(self.path, schema, events)
        self.last_error: RuleFileError | None = None
        self.reloads = 0
        self._stat = self._stat_now()
        self._refused_version: str | None = None

    @property
    def version(self) -> str:
        """Content hash of the running rules."""
        return self.rules.version

    def _stat_now(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def check(self) -> ReloadResult | None:
        """Reload if the file's mtime or size changed since the last look; ``None`` if it did not.

        >>> import tempfile, os, polars as pl
        >>> path = os.path.join(tempfile.mkdtemp(), "rules.toml")
        >>> _ = open(path, "w").write('[[rule]]\\nname = "hot"\\nevent = "call"\\nwhen = "score > 0.9"\\n'
        ...                           'actions = ["voice_bot"]\\nvictim = "callee"\\n')
        >>> schema = pl.Schema({"call_id": pl.String, "start_time": pl.Datetime("ms", "UTC"),
        ...                     "callee": pl.String, "score": pl.Float64})
        >>> manager = RuleManager(path, schema)
        >>> manager.check() is None
        True
        """
        stat = self._stat_now()
        if stat == self._stat:
            return None
        return self.reload()

    def reload(self) -> ReloadResult:
        """Re-read the file now; install it if its content changed and it validates."""
        self._stat = self._stat_now()
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as error:
            problem = RuleProblem(str(self.path), None, None, f"cannot read: {error}")
            return self._refuse(RuleFileError([problem]), "")
        version = hashlib.sha256(text.encode()).hexdigest()[:12]
        if version == self.rules.version:
            return ReloadResult(changed=False, ok=True, version=version)
        if version == self._refused_version and self.last_error is not None:
            return ReloadResult(changed=False, ok=False, version=self.version, error=self.last_error)
        try:
            rules = RuleSet.from_text(text, self.schema, path=str(self.path), events=self.events)
        except RuleFileError as error:
            return self._refuse(error, version)
        self.rules = rules
        self.last_error = None
        self._refused_version = None
        self.reloads += 1
        return ReloadResult(changed=True, ok=True, version=version)

    def _refuse(self, error: RuleFileError, version: str) -> ReloadResult:
        self.last_error = error
        self._refused_version = version
        return ReloadResult(changed=True, ok=False, version=self.version, error=error)

    def evaluate(self, batch: pl.DataFrame, event: str | None = None) -> pl.DataFrame:
        """Check the file for changes, then evaluate the running rules over ``batch``."""
        self.check()
        return self.rules.evaluate(batch, event=event)
