"""Feature specs: a declarative TOML file of streams, entities, aggregates and derived features.

A spec is validated when it is loaded; every error names the file, the line and the key.
The format (every table and key, window kinds and their cost, delays, expressions, record
kinds, labels and scoring tables) is documented in ``docs/spec-reference.md``.

>>> spec = load_spec_text('''
... [streams.tx]
... id = "tx_id"
... time = "time"
... [entities]
... customer = {}
... [[aggregate]]
... name = "spend"
... entity = "customer"
... stream = "tx"
... key = "customer_id"
... op = "sum"
... value = "amount"
... sliding = ["1d"]
... exact = ["7d"]
... delay = "1d"
... ''')
>>> [f.name for f in spec.outputs("tx")], spec.aggregates[0].delay_ms
(['spend_1d', 'spend_7d'], 86400000)
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from fraud_brain.errors import ConfigError
from fraud_brain.features.expr import ExprError, Node, names, parse
from fraud_brain.schema.records import ID_PATTERN, LABEL_ENTITIES, PHONE_PATTERN, SCHEMAS, TIME, Field, RecordSchema

OPS = ("count", "sum", "mean", "max", "min", "distinct", "last", "first", "prev")
"""Aggregate operations."""
_NEEDS_VALUE = {"sum", "mean", "max", "min", "prev", "distinct"}
_DECAY_OK = {"count", "sum", "mean", "max", "min"}
_SLIDE_OK = {"count", "sum", "mean", "max", "min", "distinct"}
_EXACT_OK = {"count", "sum", "mean", "max", "min"}
_DELAY_OK = {"count", "sum", "mean", "max", "min"}
"""Ops a delay may shift on any window kind but decay (distinct too, on bucketed sliding windows)."""
_WINDOW_KEYS = ("sliding", "exact", "decay", "lifetime", "buckets", "delay")
MAX_RING = 512
"""Most buckets a delayed bucketed window may keep (its buckets plus those the delay spans)."""
_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
BUILTINS = ("hour", "weekday")
"""Built-in names available in every expression: local hour (0-23) and weekday (1=Monday)."""


class SpecError(ConfigError):
    """A problem in a feature spec, naming the file, line and key (a ConfigError, so also a ValueError)."""


def parse_duration(text: str) -> int:
    """A duration such as ``"90s"``, ``"5m"``, ``"1h"`` or ``"7d"`` in milliseconds.

    >>> parse_duration("1h"), parse_duration("500ms"), parse_duration("7d")
    (3600000, 500, 604800000)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*", str(text))
    if match is None:
        raise ValueError(f"bad duration {text!r}: use a number and one of ms, s, m, h, d, w (e.g. '15m')")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2)])


@dataclass(frozen=True)
class Scoring:
    """How a scored stream is scored and acted on: its model, training target, victim and money.

    Declared by a ``[streams.NAME.scoring]`` table; a stream without one is only state
    (labels, reports) for the others.
    """

    model: str
    """Model registry name of the stream's model."""
    label_entity: str
    """Labels of this entity type are the training target ..."""
    label_key: str
    """... matched on this column of the stream (their ``entity_id`` equals it)."""
    victim: tuple[str, ...]
    """Columns naming whom to warn or protect, in fallback order (the first non-null wins)."""
    victim_kinds: tuple[str, ...]
    """The kind of each victim column: ``phone`` (can be called) or ``account``."""
    risk_entity: str | None = None
    """``entity_risk`` reports the latest score of this entity type ..."""
    risk_key: str | None = None
    """... keyed by this column."""
    amount: str | None = None
    """Money at risk, when the stream moves money."""
    reason_threshold: float = 0.5
    """Scores at or above this carry reason codes."""


@dataclass(frozen=True)
class Stream:
    """An event stream: its id and time columns, and its rank for breaking time ties."""

    name: str
    id: str
    time: str
    order: int
    schema: str | None = None
    passthrough: tuple[str, ...] = ()
    scoring: Scoring | None = None


@dataclass(frozen=True)
class Read:
    """One stream reading an aggregate's state, keyed by its own column(s)."""

    stream: str
    key: tuple[str, ...]
    prefix: str
    group: str
    emit: bool
    at: str = ""
    """Where an ``[[aggregate.read]]`` table names its key (empty for the updating stream's own read)."""


@dataclass(frozen=True)
class Window:
    """``kind``: ``life``, ``decay`` (``ms``: half-life), ``slide`` (bucketed), ``exact`` (``ms``: width)."""

    kind: str
    ms: int
    label: str

    def suffix(self) -> str:
        """The feature-name suffix of this window (sliding and exact windows are named alike).

        >>> Window("exact", 86_400_000, "1d").suffix(), Window("decay", 3_600_000, "1h").suffix()
        ('_1d', '_hl1h')
        """
        if self.kind == "life":
            return ""
        return f"_hl{self.label}" if self.kind == "decay" else f"_{self.label}"


@dataclass(frozen=True)
class Aggregate:
    """Keyed state of one entity, updated by one stream and read by one or more."""

    name: str
    entity: str
    stream: str
    key: tuple[str, ...]
    op: str
    windows: tuple[Window, ...]
    value: Node | None
    value_text: str | None
    where: Node | None
    buckets: int
    bits: int
    unit_ms: int
    reads: tuple[Read, ...]
    where_line: str
    delay_ms: int = 0
    value_at: str = ""
    filter_at: str = ""
    key_at: str = ""

    @property
    def value_where(self) -> str:
        """Where the value expression is written (file, line and key), for error messages."""
        return self.value_at or self.where_line

    @property
    def filter_where(self) -> str:
        """Where the ``where`` filter is written (file, line and key), for error messages."""
        return self.filter_at or self.where_line


@dataclass(frozen=True)
class Derived:
    """A derived feature: an expression over the event's columns and earlier features."""

    stream: str
    name: str
    expr: Node
    group: str
    emit: bool
    where_line: str


@dataclass(frozen=True)
class Join:
    """Reference data joined into a stream by key."""

    stream: str
    table: str
    on: str
    key: str
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Output:
    """One feature a stream produces."""

    name: str
    group: str
    emit: bool


@dataclass
class Spec:
    """A validated feature spec (the file format: docs/spec-reference.md)."""

    name: str
    source: str
    timezone: str
    lateness_ms: int
    streams: dict[str, Stream]
    entities: dict[str, int]
    joins: tuple[Join, ...]
    aggregates: tuple[Aggregate, ...]
    derived: tuple[Derived, ...]
    text: str = field(repr=False, default="")
    records: dict[str, RecordSchema] = field(default_factory=lambda: dict(SCHEMAS))
    """Every record kind this spec can use: the built-ins and those declared under ``[records]``
    (the ``label`` schema's entity types are the spec's)."""
    label_stream: str | None = None
    """The stream carrying confirmed outcomes (labels), if any."""
    label_entities: tuple[str, ...] = LABEL_ENTITIES
    """What a label may name (its ``entity_type``)."""

    def stream_names(self) -> list[str]:
        """Stream names in tie-break order."""
        return sorted(self.streams, key=lambda s: self.streams[s].order)

    def scored_streams(self) -> list[str]:
        """Streams with a ``scoring`` table (scored live, with rules and cases), in tie-break order.

        >>> bundled_spec("telecom").scored_streams()
        ['call', 'transfer']
        """
        return [name for name in self.stream_names() if self.streams[name].scoring is not None]

    def scoring(self, stream: str) -> Scoring:
        """The scoring descriptor of a scored stream (a readable error for any other).

        >>> bundled_spec("telecom").scoring("transfer").victim
        ('payer_phone', 'payer_account')
        """
        found = self.streams.get(stream)
        if found is None or found.scoring is None:
            raise SpecError(f"{self.source}: stream {stream!r} is not scored; scored streams: "
                            f"{', '.join(self.scored_streams()) or 'none'}")
        return found.scoring

    def record_schema(self, kind: str) -> RecordSchema:
        """A record kind's schema: built-in or declared by this spec.

        >>> bundled_spec("card").record_schema("card_tx").id_field
        'tx_id'
        """
        try:
            return self.records[kind]
        except KeyError:
            raise SpecError(f"{self.source}: unknown record kind {kind!r}; this spec knows "
                            f"{', '.join(sorted(self.records))}") from None

    def stream_schema(self, stream: str) -> RecordSchema | None:
        """The record schema of a stream's records, when the stream names one."""
        kind = self.streams[stream].schema
        return None if kind is None else self.record_schema(kind)

    def outputs(self, stream: str) -> list[Output]:
        """Every feature of a stream in computation order: aggregate reads, then derived features.

        >>> [o.name for o in bundled_spec("card").outputs("tx")][:3]
        ['customer_tx_1d', 'customer_tx_7d', 'customer_tx_30d']
        """
        out: list[Output] = []
        for agg in self.aggregates:
            for read in agg.reads:
                if read.stream == stream:
                    out.extend(Output(read.prefix + w.suffix(), read.group, read.emit) for w in agg.windows)
        out.extend(Output(d.name, d.group, d.emit) for d in self.derived if d.stream == stream)
        return out

    def feature_groups(self, stream: str) -> dict[str, str]:
        """Emitted feature name → group tag, e.g. to pick the ``transfer``-only features.

        >>> sorted(set(bundled_spec("telecom").feature_groups("transfer").values()))
        ['cross_channel', 'profile', 'transfer']
        """
        return {o.name: o.group for o in self.outputs(stream) if o.emit}


class _Locator:
    """Finds the line of a table entry or key in the TOML text, for error messages."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()
        self.headers: dict[str, list[int]] = {}
        for i, line in enumerate(self.lines):
            match = re.match(r"^\s*(\[\[?[^\]]+\]\]?)\s*(#.*)?$", line)
            if match:
                self.headers.setdefault(match.group(1).replace(" ", ""), []).append(i)

    def _header_lines(self, header: str) -> list[int]:
        return self.headers.get(header, [])

    def where(self, header: str, index: int = 0, key: str | None = None) -> str:
        starts = self._header_lines(header)
        if index >= len(starts):
            return f"{self.source}: {header}" + (f" key {key!r}" if key else "")
        start = starts[index]
        line = start
        if key is not None:
            for j in range(start + 1, len(self.lines)):
                text = self.lines[j].strip()
                if text.startswith("["):
                    break
                if re.match(re.escape(key) + r"\s*=", text):
                    line = j
                    break
        where = f"{self.source}:{line + 1}: {header}"
        if header.startswith("[["):
            where += f" #{index + 1}"
        return where + (f" key {key!r}" if key else "")


def _as_key(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SpecError(f"{where}: must be a column name or a list of column names, got {value!r}")


def _expr(text: Any, where: str) -> tuple[Node, str]:
    if not isinstance(text, str):
        raise SpecError(f"{where}: must be an expression string, got {text!r}")
    try:
        return parse(text), text
    except ExprError as err:
        raise SpecError(f"{where}: {err}") from None


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise SpecError(f"{where}: missing required key {key!r}")
    return table[key]


def _windows(
    table: dict[str, Any], op: str, at: Callable[[str], str], where: str
) -> tuple[list[Window], int, int]:
    """The windows, buckets per sliding window and delay (ms) of one ``[[aggregate]]`` table."""
    windows: list[Window] = []
    for kind, key_name, ok in (("slide", "sliding", _SLIDE_OK), ("exact", "exact", _EXACT_OK),
                               ("decay", "decay", _DECAY_OK)):
        spans = table.get(key_name, [])
        if not isinstance(spans, list):
            raise SpecError(f"{at(key_name)}: must be a list such as [\"1h\", \"24h\"]")
        if spans and op not in ok:
            raise SpecError(f"{at(key_name)}: op {op!r} has no {key_name} windows "
                            f"(allowed for {', '.join(sorted(ok))})")
        for span in spans:
            try:
                ms = parse_duration(span)
            except ValueError as err:
                raise SpecError(f"{at(key_name)}: {err}") from None
            if ms <= 0:
                raise SpecError(f"{at(key_name)}: window {span!r} must be longer than 0")
            window = Window(kind, ms, str(span).strip())
            twin = next((w for w in windows if w.suffix() == window.suffix()), None)
            if twin is not None:
                raise SpecError(f"{at(key_name)}: window {span!r} is also a {twin.kind} window of this "
                                f"aggregate; sliding and exact windows are named alike, so give one of them "
                                f"its own aggregate")
            windows.append(window)
    lifetime = table.get("lifetime", not windows)
    if not isinstance(lifetime, bool):
        raise SpecError(f"{at('lifetime')}: must be true or false")
    if lifetime:
        windows.insert(0, Window("life", 0, ""))
    if not windows:
        raise SpecError(f"{where}: no window: give sliding, exact, decay or lifetime = true")
    buckets = table.get("buckets", 6)
    if not isinstance(buckets, int) or isinstance(buckets, bool) or not 1 <= buckets <= 64:
        raise SpecError(f"{at('buckets')}: must be an integer 1..64")
    for w in windows:
        if w.kind == "slide" and w.ms % buckets:
            raise SpecError(f"{at('sliding')}: window {w.label} is not a whole number of milliseconds split "
                            f"into {buckets} buckets")
    delay_ms = 0
    if "delay" in table:
        try:
            delay_ms = parse_duration(table["delay"])
        except ValueError as err:
            raise SpecError(f"{at('delay')}: {err}") from None
    if delay_ms:
        kinds = {w.kind for w in windows}
        if "decay" in kinds:
            raise SpecError(f"{at('delay')}: a delay cannot shift decayed windows; "
                            f"give them their own aggregate")
        if op not in _DELAY_OK and not (op == "distinct" and kinds == {"slide"}):
            raise SpecError(f"{at('delay')}: op {op!r} takes no delay (allowed for "
                            f"{', '.join(sorted(_DELAY_OK))}, and distinct over sliding windows)")
        for w in windows:
            if w.kind == "slide" and delay_ring(w.ms, buckets, delay_ms) > MAX_RING:
                raise SpecError(f"{at('delay')}: a delay of {table['delay']} needs "
                                f"{delay_ring(w.ms, buckets, delay_ms)} buckets of the sliding window "
                                f"{w.label} (at most {MAX_RING}); use fewer buckets or an exact window")
    return windows, buckets, delay_ms


def delay_ring(width_ms: int, buckets: int, delay_ms: int) -> int:
    """Buckets a sliding window keeps: its own plus those a delay spans (a read needs all of them).

    >>> delay_ring(86_400_000, 6, 0), delay_ring(30 * 86_400_000, 6, 7 * 86_400_000)
    (6, 8)
    """
    span = width_ms // buckets
    return buckets + -(-delay_ms // span)


def load_spec_text(text: str, source: str = "<spec>") -> Spec:
    """Parse and validate a spec from TOML text (``source`` names it in errors)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{source}: not valid TOML: {err}") from None
    loc = _Locator(source, text)
    _check_keys(doc, {"spec", "records", "labels", "streams", "entities", "join", "aggregate", "feature"},
                f"{source}: top level")

    head = doc.get("spec", {})
    _check_keys(head, {"name", "timezone", "allowed_lateness", "description"}, loc.where("[spec]"))
    try:
        lateness = parse_duration(head.get("allowed_lateness", "0s"))
    except ValueError as err:
        raise SpecError(f"{loc.where('[spec]', key='allowed_lateness')}: {err}") from None
    timezone = head.get("timezone", "UTC")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except Exception:
        raise SpecError(f"{loc.where('[spec]', key='timezone')}: unknown time zone {timezone!r}") from None

    raw_streams = doc.get("streams")
    if not isinstance(raw_streams, dict) or not raw_streams:
        raise SpecError(f"{source}: at least one [streams.NAME] table is required")
    label_entities, label_stream_name = _labels_table(doc.get("labels", {}), loc)
    records = _records(doc.get("records", {}), loc, label_entities)
    streams: dict[str, Stream] = {}
    for order, (sname, table) in enumerate(raw_streams.items()):
        where = loc.where(f"[streams.{sname}]")
        _check_keys(table, {"id", "time", "schema", "passthrough", "scoring"}, where)
        schema = table.get("schema")
        if schema is not None and schema not in records:
            raise SpecError(f"{loc.where(f'[streams.{sname}]', key='schema')}: unknown record kind {schema!r}; "
                            f"expected one of {sorted(records)} (or declare it under [records.{schema}])")
        scoring = None
        if "scoring" in table:
            scoring = _scoring(table["scoring"], sname, loc, label_entities)
        streams[sname] = Stream(
            sname, str(_require(table, "id", where)), str(_require(table, "time", where)), order, schema,
            tuple(table.get("passthrough", ())), scoring,
        )
    label_stream = _label_stream(label_stream_name, streams, loc)

    entities: dict[str, int] = {}
    for ename, table in doc.get("entities", {}).items():
        where = loc.where("[entities]", key=ename)
        if not isinstance(table, dict):
            raise SpecError(f"{where}: must be a table such as {{}} or {{ arity = 2 }}")
        _check_keys(table, {"arity", "description"}, where)
        arity = table.get("arity", 1)
        if arity not in (1, 2, 3):
            raise SpecError(f"{where}: arity must be 1, 2 or 3, got {arity!r}")
        entities[ename] = arity

    def check_stream(name: Any, where: str) -> str:
        if name not in streams:
            raise SpecError(f"{where}: unknown stream {name!r}; streams: {', '.join(streams)}")
        return str(name)

    joins: list[Join] = []
    joined_cols: dict[str, set[str]] = {s: set() for s in streams}
    for i, table in enumerate(doc.get("join", [])):
        where = loc.where("[[join]]", i)
        _check_keys(table, {"stream", "table", "on", "key", "columns"}, where)
        stream = check_stream(_require(table, "stream", where), loc.where("[[join]]", i, "stream"))
        columns = _require(table, "columns", where)
        if not isinstance(columns, dict) or not columns:
            raise SpecError(f"{loc.where('[[join]]', i, 'columns')}: must be a table new_name = \"table_column\"")
        joins.append(Join(stream, str(_require(table, "table", where)), str(_require(table, "on", where)),
                          str(_require(table, "key", where)), tuple((str(k), str(v)) for k, v in columns.items())))
        joined_cols[stream] |= set(columns)

    seen_names: dict[str, dict[str, str]] = {s: {} for s in streams}

    def claim(stream: str, name: str, where: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", name):
            raise SpecError(f"{where}: feature name {name!r} must be letters, digits and _")
        if name in seen_names[stream]:
            raise SpecError(f"{where}: feature {name!r} of stream {stream!r} is already defined at "
                            f"{seen_names[stream][name]}")
        if name in BUILTINS:
            raise SpecError(f"{where}: {name!r} is a built-in name")
        seen_names[stream][name] = where

    aggregates: list[Aggregate] = []
    raw_aggs = doc.get("aggregate", [])
    for i, table in enumerate(raw_aggs):
        where = loc.where("[[aggregate]]", i)
        allowed = {"name", "entity", "stream", "key", "op", "value", "where", "sliding", "decay", "lifetime",
                   "buckets", "bits", "unit", "group", "emit", "self_read", "read", "description",
                   *_WINDOW_KEYS}
        _check_keys(table, allowed, where)
        name = str(_require(table, "name", where))
        entity = _require(table, "entity", where)
        if entity not in entities:
            raise SpecError(f"{loc.where('[[aggregate]]', i, 'entity')}: unknown entity {entity!r}; "
                            f"declare it under [entities]")
        stream = check_stream(_require(table, "stream", where), loc.where("[[aggregate]]", i, "stream"))
        key = _as_key(_require(table, "key", where), loc.where("[[aggregate]]", i, "key"))
        if len(key) != entities[entity]:
            raise SpecError(f"{loc.where('[[aggregate]]', i, 'key')}: entity {entity!r} has arity "
                            f"{entities[entity]} but the key has {len(key)} column(s)")
        op = _require(table, "op", where)
        if op not in OPS:
            raise SpecError(
                f"{loc.where('[[aggregate]]', i, 'op')}: unknown op {op!r}; expected one of {', '.join(OPS)}")
        value = value_text = None
        if op in _NEEDS_VALUE:
            value_text = _require(table, "value", where)
            value, value_text = _expr(value_text, loc.where("[[aggregate]]", i, "value"))
            if op == "distinct" and value[0] != "name":
                raise SpecError(f"{loc.where('[[aggregate]]', i, 'value')}: distinct counts a column; "
                                f"give a column name, got {value_text!r}")
        elif "value" in table:
            raise SpecError(f"{loc.where('[[aggregate]]', i, 'value')}: op {op!r} takes no value")
        cond = None
        if "where" in table:
            cond, _ = _expr(table["where"], loc.where("[[aggregate]]", i, "where"))
        windows, buckets, delay_ms = _windows(table, str(op), partial(loc.where, "[[aggregate]]", i), where)
        bits = table.get("bits", 128)
        if not isinstance(bits, int) or bits <= 0 or bits % 64 or bits > 4096:
            raise SpecError(f"{loc.where('[[aggregate]]', i, 'bits')}: must be a multiple of 64 up to 4096")
        unit = table.get("unit", "s")
        if unit not in _UNITS_MS:
            raise SpecError(f"{loc.where('[[aggregate]]', i, 'unit')}: unit must be one of {', '.join(_UNITS_MS)}")
        group = str(table.get("group", stream))
        reads: list[Read] = []
        if table.get("self_read", True):
            reads.append(Read(stream, key, name, group, bool(table.get("emit", True))))
        raw_reads = table.get("read", [])
        for j, rt in enumerate(raw_reads):
            read_index = sum(len(t.get("read", [])) for t in raw_aggs[:i]) + j
            rwhere = _read_where(loc, read_index, where, j)
            _check_keys(rt, {"stream", "key", "as", "group", "emit"}, rwhere)
            rstream = check_stream(_require(rt, "stream", rwhere), rwhere)
            rkey = _as_key(_require(rt, "key", rwhere), rwhere + " key")
            if len(rkey) != entities[entity]:
                raise SpecError(f"{rwhere}: entity {entity!r} has arity {entities[entity]} but the key has {len(rkey)}")
            reads.append(Read(rstream, rkey, str(_require(rt, "as", rwhere)), str(rt.get("group", group)),
                              bool(rt.get("emit", True)), _read_where(loc, read_index, where, j, "key")))
        for read in reads:
            for w in windows:
                claim(read.stream, read.prefix + w.suffix(), where)
        aggregates.append(Aggregate(name, entity, stream, key, op, tuple(windows), value, value_text, cond,
                                    buckets, bits, _UNITS_MS[unit], tuple(reads), where, delay_ms,
                                    loc.where("[[aggregate]]", i, "value"),
                                    loc.where("[[aggregate]]", i, "where"),
                                    loc.where("[[aggregate]]", i, "key")))

    derived: list[Derived] = []
    for i, table in enumerate(doc.get("feature", [])):
        where = loc.where("[[feature]]", i)
        _check_keys(table, {"stream", "name", "expr", "group", "emit", "description"}, where)
        stream = check_stream(_require(table, "stream", where), loc.where("[[feature]]", i, "stream"))
        name = str(_require(table, "name", where))
        node, _ = _expr(_require(table, "expr", where), loc.where("[[feature]]", i, "expr"))
        claim(stream, name, where)
        derived.append(Derived(stream, name, node, str(table.get("group", stream)), bool(table.get("emit", True)),
                               loc.where("[[feature]]", i, "expr")))

    spec = Spec(str(head.get("name", Path(source).stem)), source, timezone, lateness, streams, entities,
                tuple(joins), tuple(aggregates), tuple(derived), text, records, label_stream, label_entities)
    _check_scoring(spec, loc)
    _check_names(spec, joined_cols, seen_names)
    return spec


def _check_names(spec: Spec, joined: dict[str, set[str]], features: dict[str, dict[str, str]]) -> None:
    """Reject forward references and, where the stream's record schema is known, unknown columns."""
    for stream in spec.streams.values():
        reads = [o.name for o in spec.outputs(stream.name)]
        available = set(reads[: len(reads) - sum(1 for d in spec.derived if d.stream == stream.name)])

        def check(node: Node, where: str, avail: set[str], stream: Stream = stream) -> None:
            for name in names(node):
                if name not in avail and name not in BUILTINS and name in features[stream.name]:
                    raise SpecError(f"{where}: {name!r} is defined later than it is used in stream {stream.name!r}")

        for d in spec.derived:
            if d.stream == stream.name:
                check(d.expr, d.where_line, available)
                available.add(d.name)
        if stream.schema is not None:
            problems = check_columns(spec, stream.name, spec.records[stream.schema].column_names(),
                                     f"{stream.schema} records")
            if problems:
                raise SpecError("\n".join(problems))


@dataclass(frozen=True)
class ColumnUse:
    """A record column a spec reads: its stream, the column, where the spec names it, and as what."""

    stream: str
    column: str
    at: str
    role: str


_IN_EXPRESSIONS = ("value", "where", "expr")


def column_uses(spec: Spec, stream: str) -> list[ColumnUse]:
    """Every record column of ``stream`` the spec reads, in spec order, with the file, line and key naming it.

    Joined columns (they come from reference tables), features and built-ins are not record columns.

    >>> [(u.column, u.role) for u in column_uses(bundled_spec("card"), "fraud_report")]
    [('report_id', 'id'), ('known_at', 'time'), ('terminal_id', 'key')]
    """
    loc = _Locator(spec.source, spec.text)
    meta = spec.streams[stream]
    header = f"[streams.{stream}]"
    joined = {dst for join in spec.joins if join.stream == stream for dst, _ in join.columns}
    features = {o.name for o in spec.outputs(stream)}
    uses = [ColumnUse(stream, meta.id, loc.where(header, key="id"), "id"),
            ColumnUse(stream, meta.time, loc.where(header, key="time"), "time")]

    def add(columns: Any, at: str, role: str) -> None:
        for column in columns:
            if column not in joined and column not in features and column not in BUILTINS:
                uses.append(ColumnUse(stream, column, at, role))

    add(meta.passthrough, loc.where(header, key="passthrough"), "passthrough")
    for i, join in enumerate(spec.joins):
        if join.stream == stream:
            uses.append(ColumnUse(stream, join.on, loc.where("[[join]]", i, "on"), "join on"))
    for agg in spec.aggregates:
        if agg.stream == stream:
            add(agg.key, agg.key_at or agg.where_line, "key")
            if agg.value is not None:
                add(sorted(names(agg.value)), agg.value_where, "value")
            if agg.where is not None:
                add(sorted(names(agg.where)), agg.filter_where, "where")
        for read in agg.reads:
            if read.stream == stream and read.at:
                add(read.key, read.at, "read key")
    for d in spec.derived:
        if d.stream == stream:
            add(sorted(names(d.expr)), d.where_line, "expr")
    return uses


def check_columns(spec: Spec, stream: str, columns: Any, of: str) -> list[str]:
    """One message per place the spec names a column of ``stream`` that ``columns`` lacks (``of`` names them).

    >>> columns = ["report_id", "known_at", "terminal"]
    >>> problem = check_columns(bundled_spec("card"), "fraud_report", columns, "r.csv")[0]
    >>> print(problem.split(": ", 1)[1])   # after the file and line
    [[aggregate]] #9 key 'key': unknown column 'terminal_id' of stream 'fraud_report': not a column of r.csv;
    did you mean 'terminal'?
    """
    known = [str(c) for c in columns]
    known_set = set(known)
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for use in column_uses(spec, stream):
        if use.column in known_set or (use.column, use.at) in seen:
            continue
        seen.add((use.column, use.at))
        if use.role in _IN_EXPRESSIONS:
            message = (f"{use.at}: unknown name {use.column!r}: not a column of {of}, a joined column, "
                       f"a built-in or a feature of stream {stream!r}")
        else:
            message = f"{use.at}: unknown column {use.column!r} of stream {stream!r}: not a column of {of}"
        close = difflib.get_close_matches(use.column, known, n=1)
        problems.append(message + (f"; did you mean {close[0]!r}?" if close else ""))
    return problems


def _read_where(loc: _Locator, index: int, aggregate_where: str, j: int, key: str | None = None) -> str:
    """Where the ``index``-th ``[[aggregate.read]]`` table of the file is (its aggregate's ``j``-th)."""
    if index < len(loc.headers.get("[[aggregate.read]]", [])):
        return loc.where("[[aggregate.read]]", index, key)
    return f"{aggregate_where} read #{j + 1}" + (f" key {key!r}" if key else "")


_FIELD_TYPES: dict[str, str | None] = {
    "id": ID_PATTERN, "phone": PHONE_PATTERN, "string": None, "int": None, "float": None, "bool": None,
    "time": None, "date": None, "enum": None,
}
"""Field types of a declared record kind, with the pattern each implies."""
_VICTIM_KINDS = ("phone", "account")


def _field_dtype(kind: str, values: Any, where: str) -> Any:
    import polars as pl

    if kind == "enum":
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise SpecError(f"{where}: an enum field needs values = [\"a\", \"b\", ...]")
        return pl.Enum(values)
    if values is not None:
        raise SpecError(f"{where}: only enum fields take values")
    return {"id": pl.String, "phone": pl.String, "string": pl.String, "int": pl.Int64, "float": pl.Float64,
            "bool": pl.Boolean, "time": TIME, "date": pl.Date}[kind]


def _record_fields(name: str, fields: Any, header: str, loc: _Locator) -> tuple[Field, ...]:
    if not isinstance(fields, dict) or not fields:
        raise SpecError(f"{loc.where(header)}: [records.{name}.fields] must list the record's fields")
    out: list[Field] = []
    for fname, decl in fields.items():
        where = loc.where(f"[records.{name}.fields]", key=fname)
        if not isinstance(decl, dict):
            raise SpecError(f"{where}: must be a table such as {{ type = \"float\", gt = 0 }}")
        _check_keys(decl, {"type", "required", "gt", "ge", "le", "pattern", "values", "description"}, where)
        kind = decl.get("type")
        if kind not in _FIELD_TYPES:
            raise SpecError(f"{where}: type must be one of {', '.join(_FIELD_TYPES)}, got {kind!r}")
        bounds: dict[str, float | None] = {}
        for bound in ("gt", "ge", "le"):
            value = decl.get(bound)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise SpecError(f"{where}: {bound} must be a number, got {value!r}")
            bounds[bound] = None if value is None else float(value)
        pattern = decl.get("pattern", _FIELD_TYPES[kind])
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as err:
                raise SpecError(f"{where}: pattern is not a regular expression: {err}") from None
        out.append(Field(str(fname), _field_dtype(kind, decl.get("values"), where), bool(decl.get("required", True)),
                         bounds["gt"], bounds["ge"], bounds["le"], None if pattern is None else str(pattern),
                         str(decl.get("description", ""))))
    return tuple(out)


def _records(tables: Any, loc: _Locator, label_entities: tuple[str, ...]) -> dict[str, RecordSchema]:
    """The built-in record kinds plus the ones declared under ``[records.NAME]``."""
    import polars as pl

    records = dict(SCHEMAS)
    if label_entities != LABEL_ENTITIES:
        label = SCHEMAS["label"]
        fields = tuple(
            Field(f.name, pl.Enum(list(label_entities)), f.required, description=f.description)
            if f.name == "entity_type" else f
            for f in label.fields
        )
        records["label"] = RecordSchema("label", fields, label.id_field, label.time_field, label.description)
    if not isinstance(tables, dict):
        raise SpecError(f"{loc.source}: [records] must hold [records.NAME] tables")
    for name, table in tables.items():
        header = f"[records.{name}]"
        where = loc.where(header)
        if name in SCHEMAS:
            raise SpecError(f"{where}: {name!r} is a built-in record kind; give the new kind another name")
        if not isinstance(table, dict):
            raise SpecError(f"{where}: must be a table with id, time and fields")
        _check_keys(table, {"id", "time", "fields", "description"}, where)
        fields = _record_fields(str(name), _require(table, "fields", where), header, loc)
        columns = {f.name for f in fields}
        id_field = str(_require(table, "id", where))
        time_field = table.get("time")
        for key, column in (("id", id_field), ("time", time_field)):
            if column is not None and column not in columns:
                raise SpecError(f"{loc.where(header, key=key)}: {column!r} is not one of the record's fields")
        records[str(name)] = RecordSchema(str(name), fields, id_field, None if time_field is None else str(time_field),
                                          str(table.get("description", "")))
    return records


def _labels_table(table: Any, loc: _Locator) -> tuple[tuple[str, ...], str | None]:
    """The ``[labels]`` table: what labels may name, and the stream carrying them."""
    where = loc.where("[labels]")
    if not isinstance(table, dict):
        raise SpecError(f"{where}: must be a table with stream and entity_types")
    _check_keys(table, {"stream", "entity_types"}, where)
    entities = table.get("entity_types", list(LABEL_ENTITIES))
    if not isinstance(entities, list) or not entities or not all(
        isinstance(e, str) and re.fullmatch(r"[a-z][a-z0-9_]*", e) for e in entities
    ):
        raise SpecError(f"{loc.where('[labels]', key='entity_types')}: must be a list of lower-case names "
                        f"such as [\"transfer\", \"account\"]")
    stream = table.get("stream")
    return tuple(entities), None if stream is None else str(stream)


def _label_stream(name: str | None, streams: dict[str, Stream], loc: _Locator) -> str | None:
    if name is None:
        return "label" if "label" in streams and streams["label"].schema == "label" else None
    where = loc.where("[labels]", key="stream")
    if name not in streams:
        raise SpecError(f"{where}: unknown stream {name!r}; streams: {', '.join(streams)}")
    if streams[name].schema != "label":
        raise SpecError(f"{where}: stream {name!r} must have schema = \"label\" to carry labels")
    return name


def _entity_key(value: Any, where: str) -> tuple[str, str]:
    if not isinstance(value, dict) or set(value) != {"entity", "key"}:
        raise SpecError(f"{where}: must be a table {{ entity = \"...\", key = \"column\" }}")
    return str(value["entity"]), str(value["key"])


def _scoring(table: Any, stream: str, loc: _Locator, label_entities: tuple[str, ...]) -> Scoring:
    """A ``[streams.NAME.scoring]`` table."""
    header = f"[streams.{stream}.scoring]"
    where = loc.where(header)
    if not isinstance(table, dict):
        raise SpecError(f"{where}: must be a table")
    _check_keys(table, {"model", "label", "risk", "victim", "victim_kinds", "amount", "reason_threshold"}, where)
    label_entity, label_key = _entity_key(_require(table, "label", where), loc.where(header, key="label"))
    if label_entity not in label_entities:
        raise SpecError(f"{loc.where(header, key='label')}: entity {label_entity!r} is not a label entity type "
                        f"({', '.join(label_entities)}; see [labels] entity_types)")
    risk_entity = risk_key = None
    if "risk" in table:
        risk_entity, risk_key = _entity_key(table["risk"], loc.where(header, key="risk"))
    victim = _as_key(_require(table, "victim", where), loc.where(header, key="victim"))
    kinds = table.get("victim_kinds")
    if kinds is None:
        kinds = ["phone" if "phone" in column or column in ("caller", "callee") else "account" for column in victim]
    if not isinstance(kinds, list) or len(kinds) != len(victim) or any(k not in _VICTIM_KINDS for k in kinds):
        raise SpecError(f"{loc.where(header, key='victim_kinds')}: one of {', '.join(_VICTIM_KINDS)} per victim column")
    threshold = table.get("reason_threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise SpecError(f"{loc.where(header, key='reason_threshold')}: must be a number between 0 and 1")
    amount = table.get("amount")
    return Scoring(str(table.get("model", stream)), label_entity, label_key, victim, tuple(kinds), risk_entity,
                   risk_key, None if amount is None else str(amount), float(threshold))


def _check_scoring(spec: Spec, loc: _Locator) -> None:
    """The columns a scoring table names exist in the stream's records (when its schema is known)."""
    for name, stream in spec.streams.items():
        if stream.scoring is None or stream.schema is None:
            continue
        columns = set(spec.records[stream.schema].column_names())
        sc = stream.scoring
        named: dict[str, list[str | None]] = {"label": [sc.label_key], "risk": [sc.risk_key],
                                              "victim": list(sc.victim), "amount": [sc.amount]}
        for key, cols in named.items():
            for column in cols:
                if column is not None and column not in columns:
                    raise SpecError(f"{loc.where(f'[streams.{name}.scoring]', key=key)}: {column!r} is not a "
                                    f"column of {stream.schema} records")


def load_spec(path: str | Path) -> Spec:
    """Load and validate a spec file.

    >>> load_spec(bundled_spec_path("card")).name
    'card'
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError(f"{path}: cannot read feature spec: {err.strerror}") from None
    return load_spec_text(text, str(path))


def bundled_spec_path(name: str) -> Path:
    """The path of a spec shipped with fraud_brain (``telecom`` or ``card``).

    >>> bundled_spec_path("telecom").name
    'telecom.toml'
    """
    path = Path(str(resources.files("fraud_brain.features") / "specs" / f"{name}.toml"))
    if not path.exists():
        raise SpecError(f"no bundled feature spec {name!r}; bundled: telecom, card")
    return path


def bundled_spec(name: str) -> Spec:
    """Load a bundled spec by name."""
    return load_spec(bundled_spec_path(name))


def resolve_spec(spec: str | Path | Spec) -> Spec:
    """A spec from what a user names: a loaded spec, a spec file, or a bundled spec's name.

    >>> resolve_spec("card").name, resolve_spec(bundled_spec_path("card")).name
    ('card', 'card')
    """
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Path) or str(spec).endswith(".toml") or Path(spec).is_file():
        return load_spec(spec)
    return bundled_spec(str(spec))
