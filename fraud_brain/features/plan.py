"""Compile a :class:`~fraud_brain.features.spec.Spec` into the kernel's int tables.

The plan says, per stream, which input columns to build (polars expressions → a float matrix),
which key columns to hash, which features to output, and the instruction rows the kernel runs
for each event; per entity, the layout and default values of its state row.

>>> from fraud_brain.features.spec import bundled_spec
>>> plan = build_plan(bundled_spec("card"))
>>> plan.streams["tx"].feature_names[:2]
['customer_tx_1d', 'customer_tx_7d']
>>> plan.entity_layouts["customer"].float_cols > 0
True
"""

# The helpers defined inside the per-stream loop of build_plan are called only within their own
# iteration, so the loop variables they read are the current ones.
# ruff: noqa: B023

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from fraud_brain.features import kernel as K
from fraud_brain.features.expr import Node
from fraud_brain.features.spec import OPS, Aggregate, Spec, SpecError, Window, delay_ring


@dataclass
class EntityLayout:
    """Columns of one entity's float and int state rows, with their default values."""

    name: str
    float_defaults: list[float] = field(default_factory=list)
    int_defaults: list[int] = field(default_factory=list)

    @property
    def float_cols(self) -> int:
        """Float64 columns per key."""
        return len(self.float_defaults)

    @property
    def int_cols(self) -> int:
        """Int64 columns per key."""
        return len(self.int_defaults)

    def add(self, floats: list[float], ints: list[int]) -> tuple[int, int]:
        """Reserve columns; returns the first float and int column."""
        start = (self.float_cols, self.int_cols)
        self.float_defaults.extend(floats)
        self.int_defaults.extend(ints)
        return start


@dataclass
class InputColumn:
    """One column of a stream's input matrix: a polars expression and where the spec uses it."""

    label: tuple[Any, ...]
    expr: pl.Expr
    used_at: str


@dataclass
class StreamPlan:
    """Everything the engine needs to run one stream's events through the kernel."""

    name: str
    order: int
    inputs: list[InputColumn] = field(default_factory=list)
    keys: list[tuple[str, ...]] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    feature_emit: list[bool] = field(default_factory=list)
    instructions: list[list[int]] = field(default_factory=list)
    inserts_per_entity: dict[str, int] = field(default_factory=dict)
    list_updates: int = 0
    """Updates per event that may append to an event list (exact and delayed lifetime windows)."""

    def key_index(self, cols: tuple[str, ...]) -> int:
        """The column of the key-hash matrix holding the hash of these columns."""
        if cols not in self.keys:
            self.keys.append(cols)
        return self.keys.index(cols)

    def input_index(self, label: tuple[Any, ...], expr: pl.Expr, used_at: str) -> int:
        """The column of the input matrix computing ``expr``."""
        for i, col in enumerate(self.inputs):
            if col.label == label:
                return i
        self.inputs.append(InputColumn(label, expr, used_at))
        return len(self.inputs) - 1


@dataclass
class Plan:
    """The compiled spec: entity layouts, stream plans, expression bytecode and constants."""

    spec: Spec
    entities: list[str]
    entity_layouts: dict[str, EntityLayout]
    streams: dict[str, StreamPlan]
    code: np.ndarray
    consts: np.ndarray
    instructions: np.ndarray
    prog_lo: np.ndarray
    prog_hi: np.ndarray
    list_windows: bool = False
    """Whether any window is exact or delayed (the kernel then runs with its event-list pool)."""


_CMP = {"<": K.C_LT, "<=": K.C_LE, ">": K.C_GT, ">=": K.C_GE, "==": K.C_EQ, "!=": K.C_NE}
_BIN = {"+": K.C_ADD, "-": K.C_SUB, "*": K.C_MUL, "/": K.C_DIV}
_FUN = {"min": K.C_MIN, "max": K.C_MAX, "abs": K.C_ABS, "log1p": K.C_LOG1P, "coalesce": K.C_COALESCE,
        "if": K.C_IF}


class _Compiler:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.code: list[tuple[int, int]] = []
        self.consts: list[float] = []

    def const(self, value: float) -> int:
        self.consts.append(value)
        return len(self.consts) - 1

    def column(self, sp: StreamPlan, name: str, where: str) -> int:
        if name in ("hour", "weekday"):
            time_col = self.spec.streams[sp.name].time
            local = pl.col(time_col).dt.convert_time_zone(self.spec.timezone)
            expr = local.dt.hour() if name == "hour" else local.dt.weekday()
            return sp.input_index(("builtin", name), expr.cast(pl.Float64), where)
        return sp.input_index(("num", name), pl.col(name).cast(pl.Float64).fill_null(float("nan")), where)

    def compile(self, node: Node, sp: StreamPlan, feats: dict[str, int], where: str) -> tuple[int, int]:
        start = len(self.code)
        self._emit(node, sp, feats, where)
        return start, len(self.code) - start

    def _is_column(self, node: Node, feats: dict[str, int]) -> bool:
        return node[0] == "name" and node[1] not in feats and node[1] not in ("hour", "weekday")

    def _emit(self, node: Node, sp: StreamPlan, feats: dict[str, int], where: str) -> None:
        kind = node[0]
        out = self.code
        if kind == "num":
            out.append((K.C_CONST, self.const(node[1])))
        elif kind == "str":
            raise SpecError(f"{where}: the string {node[1]!r} can only be compared with a column (==, !=, in)")
        elif kind == "name":
            if node[1] in feats:
                out.append((K.C_FEAT, feats[node[1]]))
            else:
                out.append((K.C_COL, self.column(sp, node[1], where)))
        elif kind == "cmp":
            _, op, left, right = node
            if right[0] == "str" and left[0] != "str":
                left, right = right, left
            if left[0] == "str":
                if op not in ("==", "!=") or not self._is_column(right, feats):
                    raise SpecError(f"{where}: the string {left[1]!r} can only be compared with a column "
                                    f"using == or !=")
                col = pl.col(right[1]).cast(pl.String)
                expr = (col == left[1]) if op == "==" else (col != left[1])
                label = ("eq" if op == "==" else "ne", right[1], left[1])
                out.append((K.C_COL, sp.input_index(label, expr.cast(pl.Float64).fill_null(float("nan")), where)))
                return
            self._emit(left, sp, feats, where)
            self._emit(right, sp, feats, where)
            out.append((_CMP[op], 0))
        elif kind == "in":
            _, left, items = node
            if all(isinstance(i, str) for i in items):
                if not self._is_column(left, feats):
                    raise SpecError(f"{where}: 'in' with strings needs a column on the left")
                expr = pl.col(left[1]).cast(pl.String).is_in(list(items))
                label = ("in", left[1], tuple(items))
                out.append((K.C_COL, sp.input_index(label, expr.cast(pl.Float64).fill_null(float("nan")), where)))
                return
            if any(isinstance(i, str) for i in items):
                raise SpecError(f"{where}: 'in' mixes strings and numbers")
            for j, item in enumerate(items):
                self._emit(left, sp, feats, where)
                out.append((K.C_CONST, self.const(float(item))))
                out.append((K.C_EQ, 0))
                if j:
                    out.append((K.C_OR, 0))
        elif kind in ("and", "or"):
            self._emit(node[1], sp, feats, where)
            self._emit(node[2], sp, feats, where)
            out.append((K.C_AND if kind == "and" else K.C_OR, 0))
        elif kind == "not":
            self._emit(node[1], sp, feats, where)
            out.append((K.C_NOT, 0))
        elif kind == "neg":
            self._emit(node[1], sp, feats, where)
            out.append((K.C_NEG, 0))
        elif kind == "bin":
            self._emit(node[2], sp, feats, where)
            self._emit(node[3], sp, feats, where)
            out.append((_BIN[node[1]], 0))
        elif kind == "call":
            name, args = node[1], node[2]
            if name == "is_null":
                arg = args[0]
                if self._is_column(arg, feats):
                    expr = pl.col(arg[1]).is_null().cast(pl.Float64)
                    out.append((K.C_COL, sp.input_index(("isnull", arg[1]), expr, where)))
                else:
                    self._emit(arg, sp, feats, where)
                    out.append((K.C_ISNAN, 0))
                return
            for arg in args:
                self._emit(arg, sp, feats, where)
            out.append((_FUN[name], 0))
        else:  # pragma: no cover - the parser makes no other nodes
            raise SpecError(f"{where}: unsupported expression node {kind!r}")


def _state_columns(agg: Aggregate, window: Window) -> tuple[list[float], list[int]]:
    """Default float and int state columns of one aggregate window (see kernel.run)."""
    nan, none = float("nan"), int(K.NONE_TIME)
    words = agg.bits // 64
    empty_f = nan if agg.op in ("max", "min", "prev") else 0.0
    per = 2 if agg.op == "mean" else 1
    if window.kind == "exact":
        # (count, sum, max or min) of the window; (head, first young, tail) nodes and "max/min known"
        return [0.0, 0.0, nan], [K.NO_NODE] * 3 + [1]
    if window.kind == "life" and agg.delay_ms:
        return [0.0, 0.0, nan], [K.NO_NODE] * 2  # (count, sum, max or min) of old events; young (head, tail)
    if window.kind == "life":
        if agg.op == "distinct":
            return [], [0] * words
        if agg.op in ("last", "first"):
            return [], [none]
        return [empty_f] * per, []
    if window.kind == "decay":
        return [empty_f] * per, [none]
    b = delay_ring(window.ms, agg.buckets, agg.delay_ms)
    if agg.op == "distinct":
        return [], [none] * b + [0] * (b * words)
    return [empty_f] * (b * per), [none] * b


def window_kind(agg: Aggregate, window: Window) -> int:
    """The kernel's window kind of one aggregate window (a delayed lifetime is ``PEND``)."""
    if window.kind == "life":
        return K.PEND if agg.delay_ms else K.LIFE
    if window.kind == "slide":
        return K.SLIDE_LATE if agg.delay_ms else K.SLIDE
    return {"decay": K.DECAY, "exact": K.EXACT}[window.kind]


def build_plan(spec: Spec) -> Plan:
    """Compile a spec (pure Python, fast; the kernel itself is compiled once per machine)."""
    comp = _Compiler(spec)
    layouts = {name: EntityLayout(name) for name in spec.entities}
    entity_ids = {name: i for i, name in enumerate(spec.entities)}
    streams = {name: StreamPlan(name, s.order) for name, s in spec.streams.items()}
    # (agg index, window index) -> (fcol, icol)
    cols: dict[tuple[int, int], tuple[int, int]] = {}
    for ai, agg in enumerate(spec.aggregates):
        for wi, window in enumerate(agg.windows):
            floats, ints = _state_columns(agg, window)
            cols[(ai, wi)] = layouts[agg.entity].add(floats, ints)

    all_instr: list[list[int]] = []
    prog_lo: list[int] = []
    prog_hi: list[int] = []
    for sname in spec.stream_names():
        sp = streams[sname]
        regs: dict[tuple[str, tuple[str, ...]], int] = {}
        resolves: list[list[int]] = []
        reads: list[list[int]] = []
        exprs: list[list[int]] = []
        inserts: list[list[int]] = []
        updates: list[list[int]] = []
        feats: dict[str, int] = {}

        def reg_for(entity: str, key: tuple[str, ...]) -> int:
            if (entity, key) not in regs:
                if len(regs) >= K.MAX_REGS:
                    raise SpecError(f"{spec.source}: stream {sname!r} uses more than {K.MAX_REGS} entity keys")
                regs[(entity, key)] = len(regs)
                row = _row(K.RESOLVE)
                row[K.I_REG], row[K.I_ENT], row[K.I_KEY] = regs[(entity, key)], entity_ids[entity], sp.key_index(key)
                resolves.append(row)
            return regs[(entity, key)]

        def base_row(opcode: int, ai: int, wi: int, agg: Aggregate, reg: int) -> list[int]:
            row = _row(opcode)
            window = agg.windows[wi]
            row[K.I_REG], row[K.I_ENT] = reg, entity_ids[agg.entity]
            row[K.I_AGG], row[K.I_WIN] = OPS.index(agg.op), window_kind(agg, window)
            row[K.I_FCOL], row[K.I_ICOL] = cols[(ai, wi)]
            row[K.I_B], row[K.I_WORDS], row[K.I_BITS] = agg.buckets, agg.bits // 64, agg.bits
            row[K.I_NB], row[K.I_DELAY] = agg.buckets, agg.delay_ms
            if window.kind == "slide":
                row[K.I_B] = delay_ring(window.ms, agg.buckets, agg.delay_ms)
            row[K.I_SPAN] = window.ms // agg.buckets if window.kind == "slide" else max(window.ms, 1)
            row[K.I_UNIT] = agg.unit_ms
            return row

        for ai, agg in enumerate(spec.aggregates):
            for read in agg.reads:
                if read.stream != sname:
                    continue
                reg = reg_for(agg.entity, read.key)
                for wi, window in enumerate(agg.windows):
                    row = base_row(K.READ, ai, wi, agg, reg)
                    name = read.prefix + window.suffix()
                    row[K.I_OUT] = len(sp.feature_names)
                    feats[name] = row[K.I_OUT]
                    sp.feature_names.append(name)
                    sp.feature_emit.append(read.emit)
                    reads.append(row)
        for d in spec.derived:
            if d.stream != sname:
                continue
            row = _row(K.EXPR)
            row[K.I_VSTART], row[K.I_VLEN] = comp.compile(d.expr, sp, feats, d.where_line)
            row[K.I_AGG], row[K.I_OUT] = K.DEST_OUT, len(sp.feature_names)
            feats[d.name] = row[K.I_OUT]
            sp.feature_names.append(d.name)
            sp.feature_emit.append(d.emit)
            exprs.append(row)
        inserted: set[int] = set()
        n_tmp = [0]

        def tmp_slot(node: Node, where: str) -> int:
            """Evaluate an update's filter or value once per event into a scratch slot."""
            if n_tmp[0] >= K.MAX_TMP:
                raise SpecError(f"{where}: stream {sname!r} has more than {K.MAX_TMP} filters and values")
            row = _row(K.EXPR)
            row[K.I_VSTART], row[K.I_VLEN] = comp.compile(node, sp, feats, where)
            row[K.I_AGG], row[K.I_OUT] = K.DEST_TMP, n_tmp[0]
            n_tmp[0] += 1
            updates.append(row)
            return row[K.I_OUT]
        for ai, agg in enumerate(spec.aggregates):
            if agg.stream != sname:
                continue
            reg = reg_for(agg.entity, agg.key)
            if reg not in inserted:
                inserted.add(reg)
                row = _row(K.INSERT)
                row[K.I_REG], row[K.I_ENT], row[K.I_KEY] = reg, entity_ids[agg.entity], sp.key_index(agg.key)
                inserts.append(row)
                sp.inserts_per_entity[agg.entity] = sp.inserts_per_entity.get(agg.entity, 0) + 1
            where_slot = value_slot = -1
            if agg.where is not None:
                where_slot = tmp_slot(agg.where, agg.filter_where)
            distinct_key = 0
            if agg.op == "distinct":
                assert agg.value is not None
                distinct_key = sp.key_index((agg.value[1],))
            elif agg.value is not None:
                value_slot = tmp_slot(agg.value, agg.value_where)
            for wi in range(len(agg.windows)):
                row = base_row(K.UPDATE, ai, wi, agg, reg)
                row[K.I_WSTART], row[K.I_VSTART] = where_slot, value_slot
                if row[K.I_WIN] in (K.EXACT, K.PEND):
                    sp.list_updates += 1
                if agg.op == "distinct":
                    row[K.I_KEY] = distinct_key
                updates.append(row)
        prog_lo.append(len(all_instr))
        all_instr.extend(resolves + reads + exprs + inserts + updates)
        prog_hi.append(len(all_instr))
        sp.instructions = resolves + reads + exprs + inserts + updates

    code = np.array(comp.code, dtype=np.int64).reshape(-1, 2) if comp.code else np.zeros((1, 2), np.int64)
    consts = np.array(comp.consts or [0.0], dtype=np.float64)
    if all_instr:
        instr = np.array(all_instr, dtype=np.int64).reshape(-1, K.INSTR_WIDTH)
    else:
        instr = np.zeros((1, K.INSTR_WIDTH), np.int64)
    return Plan(spec, list(spec.entities), layouts, streams, code, consts, instr,
                np.array(prog_lo, np.int64), np.array(prog_hi, np.int64),
                any(row[K.I_WIN] >= K.EXACT for row in all_instr if row[K.I_OP] in (K.READ, K.UPDATE)))


def _row(opcode: int) -> list[int]:
    row = [0] * K.INSTR_WIDTH
    row[K.I_OP] = opcode
    return row
