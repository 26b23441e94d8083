"""The validated form of a rule and of the event types rules watch.

>>> import polars as pl
>>> rule = Rule(name="r", event="call", condition="score > 0.9", expr=pl.sql_expr("score > 0.9"),
...             actions=("voice_bot",), victim="callee")
>>> rule.group, rule.cooldown_key, rule.mode, rule.victims, rule.victim_kinds
('r', 'callee', 'active', ('callee',), ('phone',))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
from polars.datatypes import DataTypeClass

from fraud_brain.rules.vocabulary import victim_kind

DType = pl.DataType | DataTypeClass
"""A column type as polars takes it: an instance (``pl.Datetime("ms")``) or a class (``pl.String``)."""


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
    amount: str | None = None
    """The column holding money at risk; an event type with one is a payment (stop-payments allowed)."""
    payee: str | None = None
    """The column naming where a payment goes (a stop-payment's subject); a transfer's ``payee_account``."""

    @property
    def payment(self) -> bool:
        """Whether these events move money, so a stop-payment has something to stop."""
        return self.amount is not None


@dataclass(frozen=True)
class Rule:
    """One validated rule: when ``expr`` holds for an event, ask for ``actions``.

    ``victim`` is the column holding the likely victim's key (whose episode this is) and
    ``victim_fallbacks`` the columns tried in order when it is null (``victim = ["payer_phone",
    "payer_account"]`` in a rule file): the first non-null one is the hit's ``victim_key`` and
    its kind the hit's ``victim_kind``: ``kinds`` as the loader read them from the feature spec,
    else told by the column names (:func:`~fraud_brain.rules.vocabulary.victim_kind`).
    ``cooldown_key`` is the column whose value a cooldown is kept per; by default the victim
    column, or, for a rule with fallbacks, whichever victim key was chosen (``""`` here).
    Rules sharing a ``group`` share their cooldowns, so related rules do not each fire.

    >>> rule = Rule(name="stop", event="transfer", condition="score > 0.9", expr=pl.sql_expr("score > 0.9"),
    ...             actions=("stop_payment",), victim="payer_phone", victim_fallbacks=("payer_account",))
    >>> rule.victims, rule.victim_kinds, rule.cooldown_key
    (('payer_phone', 'payer_account'), ('phone', 'account'), '')
    """

    name: str
    event: str
    condition: str
    expr: pl.Expr = field(compare=False, repr=False)
    actions: tuple[str, ...]
    victim: str
    victim_fallbacks: tuple[str, ...] = ()
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
    kinds: tuple[str, ...] = ()
    """The victim kind of each of :attr:`victims` (empty: told by the column names)."""

    def __post_init__(self) -> None:
        if self.kinds and len(self.kinds) != len(self.victims):
            raise ValueError(f"rule {self.name!r}: {len(self.kinds)} victim kind(s) for {len(self.victims)} column(s)")
        unknown = [] if self.kinds else [c for c in self.victims if victim_kind(c) is None]
        if unknown:
            raise ValueError(
                f"rule {self.name!r}: victim column(s) {unknown} hold neither a phone number nor an account"
            )
        if not self.cooldown_key and not self.victim_fallbacks:
            object.__setattr__(self, "cooldown_key", self.victim)
        if not self.group:
            object.__setattr__(self, "group", self.name)

    @property
    def victims(self) -> tuple[str, ...]:
        """The victim columns in the order they are tried."""
        return (self.victim, *self.victim_fallbacks)

    @property
    def victim_kinds(self) -> tuple[str, ...]:
        """The kind of key (``"phone"``/``"account"``) each of :attr:`victims` holds."""
        return self.kinds or tuple(victim_kind(c) or "" for c in self.victims)

    @property
    def is_shadow(self) -> bool:
        """Whether the rule only reports (shadow mode)."""
        return self.mode == "shadow"
