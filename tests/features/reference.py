"""A slow, obviously-correct reference for the feature engine: plain Python over full history.

It re-implements the documented semantics (watermark, lateness, duplicates, tie-break order,
windows, expressions) without state arrays: every feature is recomputed from the complete
list of earlier updates of its key.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

from fraud_brain.features.spec import Aggregate, Spec, Window

NAN = float("nan")


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def value_hash(value: object) -> int:
    """The 64-bit hash the engine uses for a single key value (same polars hash, one value at a time)."""
    h = int(pl.Series([None if value is None else str(value)], dtype=pl.String).hash(seed=7)[0])
    return 1 if h == 0 else h


def _truthy(x: float) -> bool:
    return not math.isnan(x) and x != 0.0


def _num(value: object) -> float:
    if value is None:
        return NAN
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return float(value)  # type: ignore[arg-type]


class Reference:
    """Feed batches with :meth:`process`, end with :meth:`flush`; read :attr:`out`."""

    def __init__(self, spec: Spec, reference: dict[str, pl.DataFrame] | None = None) -> None:
        self.spec = spec
        self.tz = ZoneInfo(spec.timezone)
        self.seen: dict[tuple[str, str], int] = {}  # every accepted id -> its event time, forever
        self.max_seen: int | None = None
        self.floor: int | None = None
        self.pending: list[tuple[int, int, int, str, dict]] = []
        self.seq = 0
        self.history: dict[tuple[int, tuple], list[tuple[int, float, int]]] = {}
        self.out: dict[str, dict[str, dict[str, float]]] = {s: {} for s in spec.streams}
        self.order: dict[str, list[str]] = {s: [] for s in spec.streams}
        self.late: dict[str, list[str]] = {s: [] for s in spec.streams}
        self.duplicates = 0
        self.lookups: list[tuple[str, str, dict[object, dict]]] = []
        for join in spec.joins:
            table = (reference or {})[join.table]
            rows = {}
            for row in table.to_dicts():
                rows[None if row[join.key] is None else str(row[join.key])] = row
            self.lookups.append((join.stream, join.on, {k: v for k, v in rows.items()}))

    # ---------------------------------------------------------------- arrival
    def process(self, batch: dict[str, list[dict]]) -> None:
        lateness = self.spec.lateness_ms
        threshold = self.floor
        if self.max_seen is not None:
            wm = self.max_seen - lateness
            threshold = wm if threshold is None else max(threshold, wm)
        newest = self.max_seen
        for stream in self.spec.stream_names():
            meta = self.spec.streams[stream]
            for row in batch.get(stream, []):
                seq = self.seq
                self.seq += 1
                ident = (stream, str(row[meta.id]))
                t = _ms(row[meta.time])
                first = self.seen.get(ident)
                # a duplicate while its first accepted copy is within the horizon; late otherwise
                if first is not None and (threshold is None or first >= threshold):
                    self.duplicates += 1
                    continue
                if threshold is not None and t < threshold:
                    self.late[stream].append(str(row[meta.id]))
                    continue
                self.seen[ident] = t
                newest = t if newest is None else max(newest, t)
                self.pending.append((t, meta.order, seq, stream, row))
        self.max_seen = newest
        if self.max_seen is not None:
            self._release(self.max_seen - lateness)

    def flush(self) -> None:
        if self.pending:
            top = max(p[0] for p in self.pending) + 1
            self.floor = top if self.floor is None else max(self.floor, top)
        self._release(None)

    def _release(self, watermark: int | None) -> None:
        ready = [p for p in self.pending if watermark is None or p[0] < watermark]
        self.pending = [p for p in self.pending if not (watermark is None or p[0] < watermark)]
        for t, _, _, stream, row in sorted(ready, key=lambda p: p[:3]):
            self._event(stream, t, dict(row))

    # ---------------------------------------------------------------- one event
    def _event(self, stream: str, t: int, row: dict) -> None:
        for jstream, on, table in self.lookups:
            if jstream != stream:
                continue
            join = next(j for j in self.spec.joins if j.stream == stream and j.on == on)
            match = table.get(None if row.get(on) is None else str(row[on]))
            for dst, src in join.columns:
                row[dst] = None if match is None else match[src]
        local = datetime.fromtimestamp(t / 1000, tz=self.tz)
        builtins = {"hour": float(local.hour), "weekday": float(local.isoweekday())}
        feats: dict[str, float] = {}
        for ai, agg in enumerate(self.spec.aggregates):
            for read in agg.reads:
                if read.stream != stream:
                    continue
                key = self._key(row, read.key)
                for window in agg.windows:
                    name = read.prefix + window.suffix()
                    if key is None:
                        feats[name] = NAN
                    else:
                        feats[name] = self._aggregate(agg, window, self.history.get((ai, key), []), t)
        for d in self.spec.derived:
            if d.stream == stream:
                feats[d.name] = self._eval(d.expr, row, feats, builtins)
        for ai, agg in enumerate(self.spec.aggregates):
            if agg.stream != stream:
                continue
            key = self._key(row, agg.key)
            if key is None:
                continue
            if agg.where is not None and not _truthy(self._eval(agg.where, row, feats, builtins)):
                continue
            v, h = 1.0, 0
            if agg.op == "distinct":
                assert agg.value is not None
                raw = row.get(agg.value[1])
                if raw is None:
                    continue
                h = value_hash(raw)
            elif agg.value is not None:
                v = self._eval(agg.value, row, feats, builtins)
                if math.isnan(v):
                    continue
            self.history.setdefault((ai, key), []).append((t, v, h))
        meta = self.spec.streams[stream]
        emitted = {o.name for o in self.spec.outputs(stream) if o.emit}
        ident = str(row[meta.id])
        self.out[stream][ident] = {k: v for k, v in feats.items() if k in emitted}
        self.order[stream].append(ident)

    @staticmethod
    def _key(row: dict, cols: tuple[str, ...]) -> tuple | None:
        values = tuple(row.get(c) for c in cols)
        if any(v is None for v in values):
            return None
        return tuple(str(v) for v in values)

    # ---------------------------------------------------------------- aggregates from history
    @staticmethod
    def _aggregate(agg: Aggregate, window: Window, hist: list[tuple[int, float, int]], t: int) -> float:
        op = agg.op
        m = t - agg.delay_ms  # a delayed window ends this long before the reading event
        if window.kind == "slide":
            # whole buckets after bucket m // width - B; with a delay only buckets ending at or before m
            width = window.ms // agg.buckets
            hi = (m + 1) // width - 1 if agg.delay_ms else math.inf
            hist = [h for h in hist if m // width - agg.buckets < h[0] // width <= hi]
        elif window.kind == "exact":
            hist = [h for h in hist if m - window.ms < h[0] <= m]
        elif agg.delay_ms:
            hist = [h for h in hist if h[0] <= m]
        decayed = window.kind == "decay"
        weights = [2.0 ** (-(t - ti) / window.ms) if decayed else 1.0 for ti, _, _ in hist]
        values = [v for _, v, _ in hist]
        if op == "count":
            return float(sum(weights))
        if op == "sum":
            return float(sum(w * v for w, v in zip(weights, values, strict=True)))
        if op == "mean":
            return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights) if hist else NAN
        if op in ("max", "min"):
            scaled = [w * v for w, v in zip(weights, values, strict=True)]
            if not scaled:
                return NAN
            return max(scaled) if op == "max" else min(scaled)
        if op == "prev":
            return values[-1] if hist else NAN
        if op == "last":
            return (t - hist[-1][0]) / agg.unit_ms if hist else NAN
        if op == "first":
            return (t - hist[0][0]) / agg.unit_ms if hist else NAN
        bits = {(h >> 11) % agg.bits for _, _, h in hist}
        zeros = agg.bits - len(bits)
        if zeros == 0:
            return agg.bits * math.log(agg.bits)
        return agg.bits * math.log(agg.bits / zeros)

    # ---------------------------------------------------------------- expressions
    def _eval(self, node: tuple, row: dict, feats: dict[str, float], builtins: dict[str, float]) -> float:
        kind = node[0]
        def ev(n: tuple) -> float:
            return self._eval(n, row, feats, builtins)

        if kind == "num":
            return node[1]
        if kind == "name":
            name = node[1]
            if name in feats:
                return feats[name]
            if name in builtins:
                return builtins[name]
            return _num(row.get(name))
        if kind == "cmp":
            _, op, left, right = node
            if right[0] == "str" or left[0] == "str":
                col, lit = (left, right[1]) if right[0] == "str" else (right, left[1])
                value = row.get(col[1])
                if value is None:
                    return NAN
                same = str(value) == lit
                return 1.0 if (same if op == "==" else not same) else 0.0
            a, b = ev(left), ev(right)
            if math.isnan(a) or math.isnan(b):
                return 0.0
            return 1.0 if {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op] else 0.0
        if kind == "in":
            _, left, items = node
            if all(isinstance(i, str) for i in items):
                value = row.get(left[1])
                return NAN if value is None else (1.0 if str(value) in items else 0.0)
            a = ev(left)
            return 1.0 if any(a == i for i in items) else 0.0
        if kind == "and":
            return 1.0 if _truthy(ev(node[1])) and _truthy(ev(node[2])) else 0.0
        if kind == "or":
            return 1.0 if _truthy(ev(node[1])) or _truthy(ev(node[2])) else 0.0
        if kind == "not":
            return 0.0 if _truthy(ev(node[1])) else 1.0
        if kind == "neg":
            return -ev(node[1])
        if kind == "bin":
            a, b = ev(node[2]), ev(node[3])
            if node[1] == "/":
                return NAN if b == 0 else a / b
            return {"+": a + b, "-": a - b, "*": a * b}[node[1]]
        if kind == "call":
            name, args = node[1], node[2]
            if name == "is_null":
                arg = args[0]
                if arg[0] == "name" and arg[1] not in feats and arg[1] not in builtins:
                    return 1.0 if row.get(arg[1]) is None else 0.0
                return 1.0 if math.isnan(ev(arg)) else 0.0
            vals = [ev(a) for a in args]
            if name in ("min", "max"):
                a, b = vals
                if math.isnan(a):
                    return b
                if math.isnan(b):
                    return a
                return min(a, b) if name == "min" else max(a, b)
            if name == "abs":
                return abs(vals[0])
            if name == "log1p":
                return math.log1p(vals[0]) if vals[0] > -1 else NAN
            if name == "coalesce":
                return vals[1] if math.isnan(vals[0]) else vals[0]
            if name == "if":
                return vals[1] if _truthy(vals[0]) else vals[2]
        raise AssertionError(f"unhandled node {node!r}")


def assert_same_features(engine_out: dict[str, pl.DataFrame], ref: Reference, spec: Spec) -> int:
    """Assert the engine's frames hold exactly the reference's events and features; returns rows compared."""
    compared = 0
    for stream, meta in spec.streams.items():
        frame = engine_out.get(stream)
        ids = [] if frame is None or frame.height == 0 else [str(i) for i in frame[meta.id].to_list()]
        assert ids == ref.order[stream], f"{stream}: processed events differ:\n{ids}\n{ref.order[stream]}"
        if not ids:
            continue
        assert frame is not None
        for i, row in enumerate(frame.drop(meta.id, meta.time).to_dicts()):
            expected = ref.out[stream][ids[i]]
            for name, want in expected.items():
                got = row[name]
                same = (math.isnan(want) and math.isnan(got)) or math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
                assert same, f"{stream} event {ids[i]}: {name} = {got}, reference {want}"
            compared += 1
    return compared
