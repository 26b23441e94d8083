"""A validated set of rules and its vectorized evaluation over a scored batch.

:meth:`RuleSet.evaluate` runs every condition of the batch's event type in one polars
``select`` and turns the true cells into a frame of hits (one row per event and matching
rule, most urgent rule first), in the column layout the actions layer consumes.

>>> import polars as pl
>>> from datetime import datetime, timezone
>>> text = '''
... [[rule]]
... name = "hot_caller"
... event = "call"
... when = "score >= 0.9"
... actions = ["voice_bot"]
... victim = "callee"
... cooldown = "30m"
... '''
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> batch = pl.DataFrame({"call_id": ["c1", "c2"], "start_time": [t, t], "caller": ["170", "171"],
...                       "callee": ["138", "139"], "score": [0.95, 0.2]})
>>> rules = RuleSet.from_text(text, batch.schema)
>>> rules.evaluate(batch).select("event_id", "rule", "victim_key", "entity_key").rows()
[('c1', 'hot_caller', '138', '138')]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from fraud_brain.errors import MissingInputError, StateError
from fraud_brain.rules.errors import RuleFileError, RuleProblem
from fraud_brain.rules.loader import SchemaArg, parse_rules
from fraud_brain.rules.model import DType, EventSpec, Rule
from fraud_brain.rules.streams import EventFacts
from fraud_brain.rules.vocabulary import EVENTS
from fraud_brain.schema import TIME, schema_for

_HIT_COLUMNS: dict[str, DType] = {
    "event_id": pl.String,
    "time": TIME,
    "event": pl.String,
    "rule": pl.String,
    "priority": pl.Int32,
    "tier": pl.String,
    "actions": pl.List(pl.String),
    "victim_key": pl.String,
    "victim_kind": pl.String,
    "entity_key": pl.String,
    "cooldown_group": pl.String,
    "cooldown_ms": pl.Int64,
    "typology": pl.String,
    "mode": pl.String,
    "score": pl.Float64,
    "reasons": pl.List(pl.String),
    "transfer_id": pl.String,
    "payee_account": pl.String,
    "payee_bank": pl.String,
    "amount": pl.Float64,
}
HIT_SCHEMA = pl.Schema(_HIT_COLUMNS)
"""Columns of a hits frame: who, when, which rule, what to do, and the transfer to stop.

``victim_key`` is the first non-null of the rule's victim columns and ``victim_kind`` says
what it is: ``"phone"`` (the victim can be called) or ``"account"`` (a transfer whose bank sent
no payer phone); both are null when every victim column is null."""
SMALL_BATCH = 64
"""Up to this many rows, conditions are evaluated eagerly (a one-row check is latency-bound)."""
_PASSTHROUGH = ("score", "reasons", "transfer_id", "payee_account", "payee_bank", "amount")
_REASON_COLUMNS = ("reasons", "reasons_en")


class RuleEvaluationError(StateError):
    """A batch that a rule set cannot evaluate (wrong event type, missing columns).

    Rules are checked against the scored schema when they load, so inside the engine this means
    our own scored frames drifted from the rules: a fault of ours, not of the record's sender.
    Callers that evaluate frames a user handed in (a backtest) report it as that input's fault.
    """


def empty_hits() -> pl.DataFrame:
    """An empty, correctly typed hits frame.

    >>> empty_hits().columns[:4]
    ['event_id', 'time', 'event', 'rule']
    """
    return _EMPTY_HITS.clone()


_EMPTY_HITS = pl.DataFrame(schema=HIT_SCHEMA)


def _reasons_expr(dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.List(pl.String):
        return pl.col("reasons")
    if dtype == pl.String:
        return pl.concat_list(pl.col("reasons"))
    if isinstance(dtype, pl.List):
        return pl.col("reasons").list.eval(pl.element().cast(pl.String))
    return pl.concat_list(pl.col("reasons").cast(pl.String))


def _victim_spec(rule: Rule) -> str:
    """One string per distinct victim column list, so hits of rules sharing it share one expression."""
    return "|".join(rule.victims)


def _present(column: str) -> pl.Expr:
    """Whether a key column holds a usable key (an empty string is as good as null)."""
    return pl.col(column).is_not_null() & (pl.col(column).cast(pl.String) != "")


def _victim_exprs(rules: list[Rule]) -> tuple[pl.Expr, pl.Expr]:
    """The hit's victim key and kind: per rule, its first victim column holding a key."""
    key: Then | ChainedThen | None = None
    kind: Then | ChainedThen | None = None
    for spec, victims, kinds in sorted({(_victim_spec(r), r.victims, r.victim_kinds) for r in rules}):
        rule_key: Then | ChainedThen | None = None
        rule_kind: Then | ChainedThen | None = None
        for column, column_kind in zip(victims, kinds, strict=True):
            value = pl.col(column).cast(pl.String)
            rule_key = pl.when(_present(column)).then(value) if rule_key is None else (
                rule_key.when(_present(column)).then(value))
            rule_kind = pl.when(_present(column)).then(pl.lit(column_kind)) if rule_kind is None else (
                rule_kind.when(_present(column)).then(pl.lit(column_kind)))
        assert rule_key is not None and rule_kind is not None
        rule_key_value = rule_key.otherwise(None)
        rule_kind_value = rule_kind.otherwise(None)
        chosen = pl.col("_victim_col") == spec
        key = pl.when(chosen).then(rule_key_value) if key is None else key.when(chosen).then(rule_key_value)
        kind = (pl.when(chosen).then(rule_kind_value) if kind is None
                else kind.when(chosen).then(rule_kind_value))
    if key is None or kind is None:
        return pl.lit(None, dtype=pl.String), pl.lit(None, dtype=pl.String)
    return key.otherwise(None), kind.otherwise(None)


def _payment_columns(batch: pl.DataFrame, spec: EventSpec) -> pl.DataFrame:
    """A payment event's id, payee and amount under the names a stop-payment reads (``transfer_id``,
    ``payee_account``, ``amount``), for payment streams that call them otherwise (a card payment's
    ``tx_id`` and ``terminal_id``).

    >>> spec = EventSpec("tx", "tx_id", "time", amount="value", payee="terminal_id")
    >>> frame = pl.DataFrame({"tx_id": ["x1"], "terminal_id": ["T9"], "value": [12.5]})
    >>> _payment_columns(frame, spec).select("transfer_id", "payee_account", "amount").row(0)
    ('x1', 'T9', 12.5)
    """
    if not spec.payment:
        return batch
    named = {"transfer_id": spec.id_column, "payee_account": spec.payee, "amount": spec.amount}
    extra = [pl.col(source).alias(target) for target, source in named.items()
             if source is not None and target not in batch.columns and source in batch.columns]
    return batch.with_columns(extra) if extra else batch


def _rule_table(rules: list[Rule]) -> pl.DataFrame:
    """One row per rule with what every hit of it carries; gathered by rule index per batch."""
    return pl.DataFrame({
        "rule": [r.name for r in rules],
        "priority": pl.Series([r.priority for r in rules], dtype=pl.Int32),
        "tier": [r.tier for r in rules],
        "actions": pl.Series([list(r.actions) for r in rules], dtype=pl.List(pl.String)),
        "_victim_col": [_victim_spec(r) for r in rules],
        "_entity_col": [r.cooldown_key for r in rules],
        "_typology_col": pl.Series([r.typology_column for r in rules], dtype=pl.String),
        "_typology": pl.Series([r.typology for r in rules], dtype=pl.String),
        "cooldown_group": [r.group for r in rules],
        "cooldown_ms": pl.Series([r.cooldown_ms for r in rules], dtype=pl.Int64),
        "mode": [r.mode for r in rules],
    })


@dataclass
class RuleSet:
    """Validated rules by event type, with the columns that hold each event's id and time."""

    rules: list[Rule]
    specs: dict[str, EventSpec]
    path: str = "<rules>"
    version: str = ""
    _by_event: dict[str, list[Rule]] = field(default_factory=dict, init=False, repr=False)
    _conditions: dict[str, list[pl.Expr]] = field(default_factory=dict, init=False, repr=False)
    _meta: dict[str, pl.DataFrame] = field(default_factory=dict, init=False, repr=False)
    _outputs: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False)
    _needed: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Most urgent first, so an event's hits come out in priority order.
        ordered = sorted(self.rules, key=lambda r: -r.priority)
        self._by_event = {event: [r for r in ordered if r.event == event] for event in self.specs}
        self._conditions = {
            event: [r.expr.fill_null(False).alias(f"r{i}") for i, r in enumerate(rules)]
            for event, rules in self._by_event.items()
        }
        self._meta = {event: _rule_table(rules) for event, rules in self._by_event.items()}
        self._outputs = {
            event: [c.meta.output_name() for c in conds] for event, conds in self._conditions.items()
        }
        self._needed = {
            event: {spec.id_column, spec.time_column}
            | {c for r in self._by_event[event]
               for c in (*r.expr.meta.root_names(), *r.victims, r.cooldown_key, r.typology_column) if c}
            for event, spec in self.specs.items()
        }

    @classmethod
    def from_text(
        cls, text: str, schema: SchemaArg, path: str = "<rules>", events: Mapping[str, EventFacts] | None = None
    ) -> RuleSet:
        """Validate rule-file text against the scored frame schema(s); see :func:`parse_rules`."""
        specs, rules = parse_rules(text, schema, path=path, events=events)
        return cls(rules, specs, path=path, version=hashlib.sha256(text.encode()).hexdigest()[:12])

    @classmethod
    def load(cls, path: str | Path, schema: SchemaArg, events: Mapping[str, EventFacts] | None = None) -> RuleSet:
        """Read and validate a rule file; ``schema`` is the scored frame's (or one per event type),
        ``events`` the scored streams' facts from the feature spec (default: telecom calls and transfers).

        Raises :class:`~fraud_brain.rules.errors.RuleFileError` naming the file, rule and line, and
        :class:`~fraud_brain.errors.MissingInputError` when there is no such file.

        >>> from fraud_brain.rules.defaults import DEFAULT_RULES_PATH, expected_scored_schemas
        >>> len(RuleSet.load(DEFAULT_RULES_PATH, expected_scored_schemas()).rules) >= 10
        True
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MissingInputError(f"rule file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise RuleFileError([RuleProblem(str(path), None, None, f"cannot read: {reason}")]) from None
        return cls.from_text(text, schema, path=str(path), events=events)

    def __len__(self) -> int:
        return len(self.rules)

    def rule(self, name: str) -> Rule:
        """The rule called ``name``.

        >>> from fraud_brain.rules.defaults import DEFAULT_RULES_PATH, expected_scored_schemas
        >>> RuleSet.load(DEFAULT_RULES_PATH, expected_scored_schemas()).rule("simbox_burst").typology
        'simbox'
        """
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(f"{self.path}: no rule named {name!r}")

    def rules_for(self, event: str) -> list[Rule]:
        """The rules watching ``event`` events, most urgent first.

        >>> from fraud_brain.rules.defaults import DEFAULT_RULES_PATH, expected_scored_schemas
        >>> RuleSet.load(DEFAULT_RULES_PATH, expected_scored_schemas()).rules_for("transfer")[0].name
        'mule_transfer_stop_payment'
        """
        return list(self._by_event.get(event, []))

    def detect_event(self, batch: pl.DataFrame | pl.Schema) -> str:
        """The event type of a scored batch, told by its record id column (``call_id``/``transfer_id``).

        >>> from fraud_brain.rules.defaults import DEFAULT_RULES_PATH, expected_scored_schemas
        >>> schemas = expected_scored_schemas()
        >>> RuleSet.load(DEFAULT_RULES_PATH, schemas).detect_event(schemas["call"])
        'call'
        """
        columns = batch.columns if isinstance(batch, pl.DataFrame) else batch.names()
        found = [event for event in EVENTS if schema_for(event).id_field in columns]
        if not found and len(self.specs) == 1:
            found = list(self.specs)  # a generic event_id column: the one event type these rules watch
        if len(found) != 1:
            raise RuleEvaluationError(
                f"{self.path}: cannot tell whether the batch holds "
                f"{' or '.join(sorted(self.specs)) or 'no'} events "
                f"(columns {columns[:8]}...); pass event="
            )
        return found[0]

    def evaluate(self, batch: pl.DataFrame, event: str | None = None) -> pl.DataFrame:
        """Evaluate every rule of the batch's event type in one ``select``; return the hits.

        Shadow rules produce hits too (``mode`` says so); :class:`Decider` keeps them inactive.
        """
        event = event or self.detect_event(batch)
        if event not in self.specs:
            return empty_hits()
        rules = self._by_event[event]
        if not rules or batch.height == 0:
            return empty_hits()
        spec = self.specs[event]
        self._check_columns(batch, rules, spec)
        conditions = self._conditions[event]
        try:
            if batch.height <= SMALL_BATCH:
                # A bank's single check: an eager select costs half the lazy plan below.
                hit_rows, which = np.nonzero(batch.select(conditions).to_numpy())
                rows = hit_rows
            else:
                # Hits are rare: keep only rows that hit any rule before leaving polars.
                mask = (
                    batch.lazy().select(conditions).with_row_index("_row")
                    .filter(pl.any_horizontal(self._outputs[event]))
                    .collect()
                )
                # Row-major, so nonzero yields hits row by row with rules in priority order.
                hit_rows, which = np.nonzero(np.ascontiguousarray(mask.drop("_row").to_numpy()))
                rows = mask["_row"].to_numpy()[hit_rows]
        except pl.exceptions.PolarsError as error:
            raise self._explain(batch, rules, spec, error) from error
        if rows.size == 0:
            return empty_hits()
        return self._hits(batch, spec, rules, rows, which)

    def _check_columns(self, batch: pl.DataFrame, rules: list[Rule], spec: EventSpec) -> None:
        present = set(batch.columns)
        if self._needed[spec.event] <= present:
            return
        for rule in rules:
            needed = {*rule.expr.meta.root_names(), *rule.victims, spec.id_column, spec.time_column}
            if rule.cooldown_key:
                needed.add(rule.cooldown_key)
            if rule.typology_column:
                needed.add(rule.typology_column)
            missing = sorted(needed - present)
            if missing:
                raise RuleEvaluationError(
                    f"{self.path}: rule {rule.name!r} needs column(s) {missing} "
                    f"missing from the {spec.event} batch"
                )

    def _explain(
        self, batch: pl.DataFrame, rules: list[Rule], spec: EventSpec, error: Exception
    ) -> RuleEvaluationError:
        """Find which rule broke the batch (schema drift, a value the condition cannot handle)."""
        for rule in rules:
            try:
                batch.select(rule.expr)
            except pl.exceptions.PolarsError as rule_error:
                where = f"{self.path}:{rule.line}" if rule.line else self.path
                first = str(rule_error).strip().splitlines()[0]
                return RuleEvaluationError(
                    f"{where}: rule {rule.name!r} failed on a {spec.event} batch: {first}")
        first = str(error).strip().splitlines()[0]
        return RuleEvaluationError(f"{self.path}: evaluating the {spec.event} rules failed: {first}")

    def _hits(
        self, batch: pl.DataFrame, spec: EventSpec, rules: list[Rule], rows: np.ndarray, which: np.ndarray
    ) -> pl.DataFrame:
        keys = sorted({c for r in rules for c in (*r.victims, r.cooldown_key, r.typology_column) if c})
        # The scorer names its explanation ``reasons_en``; either name is passed through as ``reasons``.
        reasons = next((c for c in _REASON_COLUMNS if c in batch.columns), None)
        if reasons is not None and reasons != "reasons":
            batch = batch.with_columns(pl.col(reasons).alias("reasons"))
        batch = _payment_columns(batch, spec)
        passthrough = [c for c in _PASSTHROUGH if c in batch.columns and c not in keys]
        base = batch.select(
            pl.col(spec.id_column).cast(pl.String).alias("_id"),
            pl.col(spec.time_column).cast(TIME).alias("_time"),
            *[pl.col(c) for c in keys],
            *[pl.col(c) for c in passthrough],
        )[rows]
        meta = self._meta[spec.event][which]
        frame = pl.concat([base, meta], how="horizontal")

        def pick(selector: str, columns: Iterable[str]) -> pl.Expr:
            expr: Then | ChainedThen | None = None
            for column in columns:
                value = pl.col(column).cast(pl.String)
                expr = pl.when(pl.col(selector) == column).then(value) if expr is None else (
                    expr.when(pl.col(selector) == column).then(value))
            return pl.lit(None, dtype=pl.String) if expr is None else expr.otherwise(None)

        typology_columns = sorted({r.typology_column for r in rules if r.typology_column})
        victim_key, victim_kind = _victim_exprs(rules)
        entity_columns = sorted({r.cooldown_key for r in rules if r.cooldown_key})
        # A rule with victim fallbacks and no cooldown_key keeps its cooldown per chosen victim.
        entity_key = pl.when(pl.col("_entity_col") == "").then(victim_key).otherwise(
            pick("_entity_col", entity_columns))
        out = [
            pl.col("_id").alias("event_id"),
            pl.col("_time").alias("time"),
            pl.lit(spec.event).alias("event"),
            pl.col("rule"), pl.col("priority"), pl.col("tier"), pl.col("actions"),
            victim_key.alias("victim_key"),
            victim_kind.alias("victim_kind"),
            entity_key.alias("entity_key"),
            pl.col("cooldown_group"), pl.col("cooldown_ms"),
            pl.coalesce(pl.col("_typology"), pick("_typology_col", typology_columns)).alias("typology"),
            pl.col("mode"),
        ]
        for column in _PASSTHROUGH:
            dtype = HIT_SCHEMA[column]
            if column not in batch.columns:
                out.append(pl.lit(None, dtype=dtype).alias(column))
            elif column == "reasons":
                out.append(_reasons_expr(batch.schema[column]).alias(column))
            else:
                out.append(pl.col(column).cast(dtype).alias(column))
        return frame.select(out)
