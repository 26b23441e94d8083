"""Read a TOML rule file and validate every rule against the scored frames' schemas.

The file holds optional ``[events.<type>]`` tables (which columns hold the event id and
time) and one ``[[rule]]`` table per rule::

    [[rule]]
    name = "elderly_big_transfer_new_payee"
    event = "transfer"
    when = "age_band IN ('65-74', '75+') AND is_new_payee AND amount >= 5000"
    actions = ["voice_bot", "agent_followup"]
    priority = 80
    tier = "minute"
    victim = ["payer_phone", "payer_account"]   # or one column: victim = "payer_phone"
    cooldown = "30m"
    typology = "fake_customer_service"
    description = "Older payer sends a large sum to a payee never paid before."

``event`` is one of the scored streams the rules are checked against (a feature spec's
``[streams.NAME.scoring]`` tables; without a spec, ``call`` and ``transfer``). ``victim`` names
the column holding the likely victim's key, or a list of columns tried in order (the first
non-null one wins): one of the stream's ``scoring.victim`` columns, whose ``victim_kinds`` say
whether it is a phone (called) or an account (never called), or a column whose name says so
(``caller``, ``callee``, ``*_phone``; ``payer_account``, ``*_account``). A stop-payment may be
asked only on a stream that moves money (``scoring.amount``); ``[events.NAME]`` may name its
``payee`` column (where the money goes; a transfer's ``payee_account`` by default).

All problems are collected and raised together as one :class:`RuleFileError`.

>>> import polars as pl
>>> text = '''
... [[rule]]
... name = "hot_caller"
... event = "call"
... when = "score >= 0.9"
... actions = ["voice_bot"]
... victim = "callee"
... '''
>>> schema = pl.Schema({"call_id": pl.String, "start_time": pl.Datetime("ms", "UTC"),
...                     "callee": pl.String, "score": pl.Float64})
>>> specs, rules = parse_rules(text, schema, path="inline.toml")
>>> rules[0].name, specs["call"].id_column, rules[0].tier
('hot_caller', 'call_id', 'hour')
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any, cast

import polars as pl

from fraud_brain.rules.condition import ConditionError, compile_condition
from fraud_brain.rules.errors import RuleFileError, RuleProblem
from fraud_brain.rules.model import EventSpec, Rule
from fraud_brain.rules.streams import TELECOM_EVENTS, EventFacts
from fraud_brain.rules.vocabulary import (
    ACTIONS,
    EVENTS,
    MODES,
    TIERS,
    TRANSFER_ONLY_ACTIONS,
    parse_duration,
)
from fraud_brain.schema import schema_for
from fraud_brain.schema.records import TYPOLOGIES

RULE_KEYS = (
    "name", "event", "when", "actions", "priority", "tier", "victim", "cooldown", "cooldown_key",
    "group", "typology", "typology_column", "mode", "description",
)
"""Every key a ``[[rule]]`` table may have."""
REQUIRED_KEYS = ("name", "event", "when", "actions", "victim")
TOP_LEVEL_KEYS = ("version", "events", "rule")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,79}$")
_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_TOML_LINE = re.compile(r"at line (\d+)")

SchemaArg = pl.Schema | Mapping[str, pl.Schema]


def _event_of_schema(schema: pl.Schema) -> str | None:
    """The event type a scored frame's schema is for, told by its record id column."""
    found = [event for event in EVENTS if schema_for(event).id_field in schema]
    return found[0] if len(found) == 1 else None


def _schemas_by_event(schema: SchemaArg, events: set[str]) -> dict[str, pl.Schema]:
    if isinstance(schema, Mapping) and not isinstance(schema, pl.Schema):
        return {event: pl.Schema(s) for event, s in schema.items()}
    single = pl.Schema(schema)
    detected = _event_of_schema(single)
    if detected is not None:
        return {detected: single}
    return {event: single for event in events}


def _known_events(schema: SchemaArg, facts: Mapping[str, EventFacts] | None) -> dict[str, EventFacts]:
    """The event types a rule may watch: the scored streams given (their schemas), with their facts."""
    given = facts if facts is not None else TELECOM_EVENTS
    if isinstance(schema, Mapping) and not isinstance(schema, pl.Schema):
        # A stream given only by its schema has the generic id/time columns (or [events.NAME]).
        return {**given, **{event: given.get(event, EventFacts("event_id", "time")) for event in schema}}
    return dict(given)


class _Lines:
    """Line numbers of rule headers and their keys, for error messages (tomllib gives none)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers = [i for i, line in enumerate(self.lines) if _HEADER.match(line)]

    def rule(self, index: int) -> int | None:
        return self.headers[index] + 1 if index < len(self.headers) else None

    def key(self, index: int, key: str) -> int | None:
        if index >= len(self.headers):
            return None
        start = self.headers[index]
        end = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.lines)
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1


_EVENT_KEYS = ("id", "time", "payee")


def _event_specs(
    doc: dict[str, Any], schemas: dict[str, pl.Schema], events: set[str], path: str,
    problems: list[RuleProblem], known: Mapping[str, EventFacts],
) -> dict[str, EventSpec]:
    tables = doc.get("events", {})
    if not isinstance(tables, dict):
        problems.append(RuleProblem(path, None, "events", "must be a table of [events.<type>] tables"))
        tables = {}
    for event, table in tables.items():
        if event not in known:
            problems.append(RuleProblem(path, None, f"events.{event}",
                                        f"unknown event type; expected one of {list(known)}"))
        elif isinstance(table, dict):
            for key in table:
                if key not in _EVENT_KEYS:
                    problems.append(RuleProblem(path, None, f"events.{event}.{key}",
                                                f"unknown key; expected some of {list(_EVENT_KEYS)}"))
    specs: dict[str, EventSpec] = {}
    for event in sorted(events):
        if event not in schemas:
            problems.append(RuleProblem(
                path, None, f"events.{event}",
                f"no scored-frame schema was given for {event} events (given: {sorted(schemas)})",
            ))
            continue
        schema = schemas[event]
        table = tables.get(event, {}) if isinstance(tables.get(event, {}), dict) else {}
        facts = known[event]
        columns: dict[str, str] = {}
        for key, defaults in (("id", ("event_id", facts.id)), ("time", ("time", facts.time))):
            given = table.get(key)
            candidates = (given,) if given is not None else defaults
            found = next((c for c in candidates if isinstance(c, str) and c in schema), None)
            if found is None:
                problems.append(RuleProblem(
                    path, None, f"events.{event}.{key}",
                    f"none of the columns {[c for c in candidates if c]} is in the {event} schema",
                ))
            else:
                columns[key] = found
        if len(columns) == 2:
            time_dtype = schema[columns["time"]]
            if not isinstance(time_dtype, pl.Datetime):
                problems.append(RuleProblem(
                    path, None, f"events.{event}.time",
                    f"column {columns['time']!r} is {time_dtype}, not a Datetime",
                ))
                continue
            payee = table.get("payee", "payee_account" if facts.payment and "payee_account" in schema else None)
            if payee is not None and not (isinstance(payee, str) and payee in schema):
                problems.append(RuleProblem(path, None, f"events.{event}.payee",
                                            f"{payee!r} is not a column of the {event} schema"))
                continue
            if payee is not None and not facts.payment:
                problems.append(RuleProblem(path, None, f"events.{event}.payee",
                                            f"{event} events move no money (the spec names no amount column)"))
                continue
            specs[event] = EventSpec(event, columns["id"], columns["time"], schema, amount=facts.amount, payee=payee)
    return specs


def _key_column(
    raw: dict[str, Any], key: str, schema: pl.Schema, problem: Any, default: str | None = None
) -> str | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str):
        problem(key, f"must be a column name, not {value!r}")
        return None
    if value not in schema:
        problem(key, f"unknown column {value!r}")
        return None
    if schema[value] not in (pl.String, pl.Categorical) and not isinstance(schema[value], pl.Enum):
        problem(key, f"column {value!r} is {schema[value]}; a key must be a String column")
        return None
    return value


def _victim_columns(
    raw: dict[str, Any], schema: pl.Schema, facts: EventFacts, problem: Any
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The victim columns in fallback order and their kinds; ``((), ())`` after reporting a problem."""
    value = raw.get("victim")
    listed: list[Any] = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        problem("victim", "must be a column name or a non-empty list of column names")
        return (), ()
    if not all(isinstance(c, str) for c in listed):
        problem("victim", f"must be a column name or a list of column names, not {value!r}")
        return (), ()
    if len(set(listed)) != len(listed):
        problem("victim", f"lists a column twice: {value!r}")
        return (), ()
    columns: list[str] = []
    kinds: list[str] = []
    for column in listed:
        if _key_column({"victim": column}, "victim", schema, problem) is None:
            continue
        kind = facts.kind_of(column)
        if kind is None:
            problem("victim", f"column {column!r} holds neither a phone number (caller, callee, payer_phone, "
                              f"*_phone) nor an account (payer_account, *_account), and is not one of the "
                              f"stream's victim columns {list(facts.victims)}")
            continue
        columns.append(column)
        kinds.append(kind)
    return (tuple(columns), tuple(kinds)) if len(columns) == len(listed) else ((), ())


def _parse_rule(
    index: int, raw: Any, specs: dict[str, EventSpec], path: str, lines: _Lines, problems: list[RuleProblem],
    known: Mapping[str, EventFacts],
) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(
            RuleProblem(path, f"#{index + 1}", None, "a [[rule]] must be a table", lines.rule(index)))
        return None
    name = raw.get("name")
    label = name if isinstance(name, str) else f"#{index + 1}"
    before = len(problems)

    def problem(key: str | None, message: str) -> None:
        line = lines.key(index, key) if key else lines.rule(index)
        problems.append(RuleProblem(path, label, key, message, line))

    for key in raw:
        if key not in RULE_KEYS:
            problem(key, f"unknown key; expected some of {list(RULE_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in raw:
            problem(None, f"missing required key {key!r}")
    if len(problems) > before:
        return None
    if not isinstance(name, str) or not _NAME.match(name):
        problem("name", f"{name!r} must be a letter then letters, digits, '_' or '-' (at most 80)")
    event = raw["event"]
    if not isinstance(event, str) or event not in known:
        problem("event", f"{event!r} unknown; expected one of {list(known)}")
        return None
    spec = specs.get(event)
    if spec is None:
        return None  # the missing schema is already reported once for the file
    schema = spec.schema
    actions = raw["actions"]
    if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
        problem("actions", "must be a non-empty list of action names")
        actions = []
    for action in actions:
        if action not in ACTIONS:
            problem("actions", f"unknown action {action!r}; expected some of {list(ACTIONS)}")
        elif action in TRANSFER_ONLY_ACTIONS and not spec.payment:
            problem("actions", f"{action!r} needs a transfer (a payment) to stop; {event} events move no money "
                               "(the spec's scoring table names no amount)")
    if len(set(actions)) != len(actions):
        problem("actions", "lists an action twice")
    priority = raw.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
        problem("priority", f"{priority!r} must be a whole number 0..1000")
    tier = raw.get("tier", "hour")
    tier = tier.replace("-", "_") if isinstance(tier, str) else tier
    if tier not in TIERS:
        problem("tier", f"{raw.get('tier')!r} unknown; expected one of {list(TIERS)}")
    mode = raw.get("mode", "active")
    if mode not in MODES:
        problem("mode", f"{mode!r} unknown; expected one of {list(MODES)}")
    cooldown_ms = 0
    try:
        cooldown_ms = parse_duration(raw.get("cooldown", 0))
    except ValueError as error:
        problem("cooldown", str(error))
    if cooldown_ms > 30 * 86_400_000:
        problem("cooldown", f"{raw['cooldown']!r} is longer than 30 days; an episode does not last that long")
    victims, kinds = _victim_columns(raw, schema, known[event], problem)
    # With fallbacks and no cooldown_key, the cooldown follows whichever victim key was chosen.
    cooldown_key = _key_column(raw, "cooldown_key", schema, problem,
                               default=victims[0] if len(victims) == 1 else None)
    group = raw.get("group", name)
    if not isinstance(group, str) or not group:
        problem("group", f"{group!r} must be a non-empty string")
    typology = raw.get("typology")
    if typology is not None and typology not in TYPOLOGIES:
        problem("typology", f"{typology!r} unknown; expected one of {list(TYPOLOGIES)}")
    typology_column = raw.get("typology_column")
    if typology is not None and typology_column is not None:
        problem("typology_column", "give either typology or typology_column, not both")
    if typology_column is not None:
        typology_column = _key_column(raw, "typology_column", schema, problem)
    description = raw.get("description", "")
    if not isinstance(description, str):
        problem("description", "must be a string")
    condition = raw["when"]
    expr = None
    if not isinstance(condition, str):
        problem("when", "must be a string holding the condition")
    else:
        try:
            expr = compile_condition(condition, schema)
        except ConditionError as error:
            problem("when", str(error))
    if len(problems) > before or expr is None:
        return None
    # Both were checked to be strings above (a problem was reported and we returned otherwise).
    name, group = cast(str, name), cast(str, group)
    return Rule(
        name=name, event=event, condition=condition, expr=expr, actions=tuple(actions), victim=victims[0],
        victim_fallbacks=victims[1:],
        priority=priority, tier=tier, cooldown_ms=cooldown_ms, cooldown_key=cooldown_key or "", group=group,
        typology=typology, typology_column=typology_column, mode=mode, description=description,
        line=lines.rule(index), kinds=kinds,
    )


def parse_rules(
    text: str, schema: SchemaArg, path: str = "<rules>", events: Mapping[str, EventFacts] | None = None
) -> tuple[dict[str, EventSpec], list[Rule]]:
    """Validate a rule file's text; return the event specs and rules, or raise :class:`RuleFileError`.

    ``schema`` is the scored frame's, or one per scored stream (the streams rules may watch);
    ``events`` their facts from the feature spec (:func:`~fraud_brain.rules.streams.event_facts`;
    default: the telecom calls and transfers).
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = _TOML_LINE.search(str(error))
        raise RuleFileError([RuleProblem(path, None, None, f"not valid TOML: {error}",
                                         int(match.group(1)) if match else None)]) from None
    problems: list[RuleProblem] = []
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            problems.append(RuleProblem(path, None, key,
                                        f"unknown top-level key; expected some of {list(TOP_LEVEL_KEYS)}"))
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RuleFileError([RuleProblem(path, None, "rule", "rules must be [[rule]] tables")])
    if not raw_rules:
        problems.append(RuleProblem(path, None, None, "the file holds no [[rule]] tables"))
    known = _known_events(schema, events)
    watched = {r["event"] for r in raw_rules if isinstance(r, dict) and isinstance(r.get("event"), str)
               and r["event"] in known}
    schemas = _schemas_by_event(schema, watched)
    specs = _event_specs(doc, schemas, watched, path, problems, known)
    lines = _Lines(text)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str):
            if name in seen:
                problems.append(RuleProblem(path, name, "name",
                                            f"duplicate rule name (first at line {seen[name]})",
                                            lines.key(index, "name")))
                continue
            seen[name] = lines.key(index, "name") or 0
        rule = _parse_rule(index, raw, specs, path, lines, problems, known)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise RuleFileError(problems)
    return specs, rules
