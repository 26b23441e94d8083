"""The product's one configuration: a dataclass read from a TOML file and overridden by CLI flags.

Every entry point (``fraud-brain run``, ``serve``, ``actions``, the tests) describes what it
wants with an :class:`AppConfig` and hands it to :class:`~fraud_brain.pipeline.assembly.Assembly`,
the composition root that builds the parts from it.

A configuration file holds the same keys, at the top level or under ``[fraud_brain]``; relative
paths are relative to the file::

    spec = "telecom"
    models_dir = "models"
    rules_path = "rules.toml"
    subscribers = "data/subscribers.parquet"
    state_dir = "state"
    hold_threshold = 0.92

>>> AppConfig().hold_threshold, AppConfig().with_overrides(seed=3, rules_path=None).seed
(0.9, 3)
>>> AppConfig.parse('seed = 2\\nhold_threshold = 0.8', Path("/etc/fb.toml")).seed
2
>>> AppConfig.parse('sead = 2', Path("/etc/fb.toml"))
Traceback (most recent call last):
...
fraud_brain.errors.ConfigError: /etc/fb.toml:1: unknown key 'sead'; expected one of [...]
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraud_brain.errors import ConfigError, MissingInputError

_PATHS = ("models_dir", "rules_path", "policy_path", "subscribers", "state_dir")


@dataclass(frozen=True)
class AppConfig:
    """Where the product's parts come from and how it behaves (one place for run, serve and actions)."""

    spec: str = "telecom"
    """Feature spec: a bundled name or a .toml file; its scored streams are what the brain scores."""
    models_dir: Path | None = None
    """Model registry; None uses the models bundled with the package."""
    rules_path: Path | None = None
    """Rule file; None uses the bundled rules."""
    policy_path: Path | None = None
    """Escalation policy; None uses the bundled policy."""
    subscribers: Path | None = None
    """Subscriber profiles: reference data for features, victims' profiles and officers' districts."""
    state_dir: Path | None = None
    """Store, dead letters, engine snapshot and cooldowns; None keeps a batch run's store in memory."""
    seed: int = 0
    """Seed of the embedded adapters' simulated outcomes."""
    hold_threshold: float = 0.9
    """Pre-transfer check: a score at or above this holds the transfer."""
    review_threshold: float = 0.5
    """Pre-transfer check: a score at or above this asks for review."""
    dedupe_horizon_hours: float = 24.0
    """A record re-sent within this long (beyond the allowed lateness) is a duplicate, counted and
    dropped; an older copy is judged late (dead-lettered). Never processed twice either way."""
    label_maturity_hours: float = 168.0
    """An event with no fraud label this long after its time is learned as legitimate."""
    online_capacity: int = 200_000
    """Scored events kept per stream for their delayed labels (the oldest go first)."""
    payment_stream: str = "transfer"
    """The scored stream a bank's synchronous pre-transfer check scores."""
    snapshot_seconds: float = 60.0
    """The live brain checkpoints its state (and trims its write-ahead log) at least this often..."""
    snapshot_records: int = 100_000
    """...and after this many logged records (replay after a crash redoes at most about this many)."""

    def with_overrides(self, **flags: Any) -> AppConfig:
        """This configuration with every flag that is not None put in (CLI flags over a file)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(flags) - names)
        if unknown:
            raise TypeError(f"unknown configuration field(s) {unknown}")
        return dataclasses.replace(self, **{k: v for k, v in flags.items() if v is not None})

    @classmethod
    def load(cls, path: Path) -> AppConfig:
        """Read a configuration file; :class:`~fraud_brain.errors.ConfigError` names file, line and key."""
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise MissingInputError(f"configuration file {path} does not exist") from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: Path) -> AppConfig:
        """A configuration from TOML text read from ``path`` (for messages and relative paths)."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: {error}") from None
        table = doc.get("fraud_brain", doc)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            where = f"{path}:{_line_of(text, key)}"
            if key not in fields:
                raise ConfigError(f"{where}: unknown key {key!r}; expected one of {sorted(fields)}")
            default = fields[key].default
            if key in _PATHS:
                if not isinstance(value, str):
                    raise ConfigError(f"{where}: key {key!r} must be a path (a string), not {value!r}")
                values[key] = (path.parent / value) if not Path(value).is_absolute() else Path(value)
            else:
                accepted: tuple[type, ...] = (int, float) if isinstance(default, float) else (type(default),)
                if isinstance(value, bool) or not isinstance(value, accepted):
                    raise ConfigError(f"{where}: key {key!r} must be a {type(default).__name__}, not {value!r}")
                values[key] = float(value) if isinstance(default, float) and isinstance(value, int | float) else value
        config = cls(**values)
        config.check(str(path))
        return config

    def check(self, where: str = "configuration") -> None:
        """Refuse settings that cannot work together (thresholds out of order, sizes below one)."""
        if not 0.0 <= self.review_threshold <= self.hold_threshold <= 1.0:
            raise ConfigError(f"{where}: review_threshold {self.review_threshold} and hold_threshold "
                              f"{self.hold_threshold} must satisfy 0 <= review <= hold <= 1")
        if self.online_capacity < 1 or self.label_maturity_hours <= 0 or self.dedupe_horizon_hours < 0:
            raise ConfigError(f"{where}: online_capacity must be >= 1, label_maturity_hours > 0 and "
                              "dedupe_horizon_hours >= 0")
        if self.snapshot_seconds <= 0 or self.snapshot_records < 1:
            raise ConfigError(f"{where}: snapshot_seconds must be > 0 and snapshot_records >= 1")


def _line_of(text: str, key: str) -> int:
    """The line of the first assignment to ``key`` (1 when it cannot be told)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1
