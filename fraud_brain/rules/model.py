"""The validated form of a rule and of the event types rules watch.

>>> import polars as pl
>>> rule = Rule(name="r", event="call", condition="score > 0.9", expr=pl.sql_expr("score > 0.9"),
...             actions=("voice_bot",), victim="callee")
>>> rule.group, rule.cooldown_key, rule.mode
('r', 'callee', 'active')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class EventSpec:
    """Where a scored frame of one event type keeps its id and event time.

    >>> EventSpec("transfer", "transfer_id", "time").id_column
    'transfer_id'
    """

    event: str
    id_column: str
    time_column: str
    schema: pl.Schema = field(default_factory=pl.Schema, compare=False)


@dataclass(frozen=True)
class Rule:
    """One validated rule: when ``expr`` holds for an event, ask for ``actions``.

    ``victim`` is the column holding the likely victim's key (whose episode this is);
    ``cooldown_key`` the column whose value a cooldown is kept per (default: the victim);
    rules sharing a ``group`` share their cooldowns, so related rules do not each fire.
    """

    name: str
    event: str
    condition: str
    expr: pl.Expr = field(compare=False, repr=False)
    actions: tuple[str, ...]
    victim: str
    priority: int = 0
    tier: str = "hour"
    cooldown_ms: int = 0
    cooldown_key: str = ""
    group: str = ""
    typology: str | None = None
    typology_column: str | None = None
    mode: str = "active"
    description: str = ""
    line: int | None = None

    def __post_init__(self) -> None:
        if not self.cooldown_key:
            object.__setattr__(self, "cooldown_key", self.victim)
        if not self.group:
            object.__setattr__(self, "group", self.name)

    @property
    def is_shadow(self) -> bool:
        """Whether the rule only reports (shadow mode)."""
        return self.mode == "shadow"
