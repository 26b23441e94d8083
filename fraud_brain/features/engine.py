"""The streaming feature engine: micro-batches in, point-in-time correct features out.

Events of all streams are processed in event-time order, ties broken by the stream's rank in
the spec and then by arrival order. Each event sees exactly the state as of just before it.
The *watermark* is the newest event time of all earlier micro-batches minus the spec's
``allowed_lateness``. Each micro-batch (one :meth:`process` call) arrives at once: its events
older than the watermark are *late*, set aside and returned (for a dead-letter store); the
others wait in a buffer until the watermark passes them and are then processed in order.

Duplicates are bounded by the watermark horizon. A record id is a *duplicate* (counted and
dropped) while the first accepted copy of it in the same stream has an event time at or above
the lateness threshold (``max(watermark, floor)``; the floor is set by :meth:`FeatureEngine.flush`)
minus the engine's ``dedupe_horizon_ms`` (0 by default; the live brain keeps a day, so a file
re-sent the same day is counted as duplicates rather than dead-lettered as late);
within a batch the first row (streams in spec order, then rows) wins. A copy that comes back
after its first copy fell below the threshold is judged *late* (returned for the dead letters),
never processed twice: a copy of a record carries its event time, which is then below the
threshold too. Late events are not remembered, so each copy of a late event is late again.
Only ids within the horizon are kept (id hash and event time, 16 B per table slot), so memory
is proportional to the events of one lateness span (plus the horizon), not to all events ever
seen: the table is purged of ids below the horizon when it would grow, and grows only if the
live ids still need the room (amortized O(1) per event). The one gap: a record re-sent with a *different*,
newer event time after its first copy fell below the horizon is treated as a new event.

>>> import polars as pl
>>> from datetime import datetime, timezone
>>> from fraud_brain.features.spec import bundled_spec
>>> engine = FeatureEngine(bundled_spec("card"))
>>> t = lambda m: datetime(2026, 11, 1, 8, m, tzinfo=timezone.utc)
>>> tx = pl.DataFrame({"tx_id": ["a", "b", "c"], "time": [t(0), t(1), t(2)],
...     "customer_id": ["C1", "C1", "C1"], "terminal_id": ["T1", "T2", "T1"], "amount": [10.0, 30.0, 20.0]})
>>> batch = engine.process({"tx": tx})
>>> out = engine.flush().features["tx"]
>>> batch.features["tx"]["customer_tx_1d"].to_list() + out["customer_tx_1d"].to_list()
[0.0, 1.0, 2.0]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fraud_brain.features import kernel as K
from fraud_brain.features.localtime import local_hour_weekday
from fraud_brain.features.plan import Plan, StreamPlan, build_plan
from fraud_brain.features.spec import Spec, column_uses
from fraud_brain.features.state import StateStore

_SEQ = "__fb_seq"
_TIME = "__fb_t"
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
SNAPSHOT_FORMAT = 2
"""Snapshot layout version: 2 stores each seen id's event time; 1 (no number) stored none."""


@dataclass
class FeatureBatch:
    """What one call of :meth:`FeatureEngine.process` produced.

    ``features[stream]``: id, time, passthrough columns and features of the events released
    by this call, in processing order; ``late[stream]``: the late rows as they arrived (for a
    dead-letter store); ``duplicates[stream]``: how many rows were ignored as repeated ids.

    >>> FeatureBatch().late_count, FeatureBatch().released
    (0, 0)
    """

    features: dict[str, pl.DataFrame] = field(default_factory=dict)
    late: dict[str, pl.DataFrame] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)

    @property
    def late_count(self) -> int:
        """Late events across streams."""
        return sum(f.height for f in self.late.values())

    @property
    def released(self) -> int:
        """Events processed across streams."""
        return sum(f.height for f in self.features.values())


HashCache = dict[str, tuple[np.ndarray, np.ndarray | None]]
"""Per column name of one frame: its raw string hashes and its null mask (None without nulls)."""


def _column_hash(frame: pl.DataFrame, col: str, cache: HashCache | None) -> tuple[np.ndarray, np.ndarray | None]:
    if cache is not None and col in cache:
        return cache[col]
    series = frame.get_column(col)
    if series.dtype != pl.String:
        series = series.cast(pl.String)
    null = series.is_null().to_numpy() if series.null_count() else None
    got = (series.hash(seed=7).to_numpy().astype(np.uint64, copy=False), null)
    if cache is not None:
        cache[col] = got
    return got


def hash_columns(frame: pl.DataFrame, cols: tuple[str, ...], cache: HashCache | None = None) -> np.ndarray:
    """64-bit hashes of key columns (0 where any is null), equal for equal values in any stream.

    ``cache`` (one dict per frame) lets several keys sharing a column hash it once.

    >>> f = pl.DataFrame({"a": ["x", None, "x"], "b": [1, 2, 1]})
    >>> h = hash_columns(f, ("a",))
    >>> bool(h[0] == h[2]), int(h[1])
    (True, 0)
    >>> cache: HashCache = {}
    >>> bool((hash_columns(f, ("a", "b"), cache) == hash_columns(f, ("a", "b"))).all()), sorted(cache)
    (True, ['a', 'b'])
    """
    out: np.ndarray | None = None
    null: np.ndarray | None = None
    for col in cols:
        h, col_null = _column_hash(frame, col, cache)
        if col_null is not None:
            null = col_null if null is None else null | col_null
        if out is None:
            out = h
        else:
            with np.errstate(over="ignore"):
                out = (out * _GOLDEN) ^ h
    assert out is not None
    out = np.where(out == 0, np.uint64(1), out)
    if null is not None:
        out[null] = 0
    return out


def _stream_salt(order: int) -> np.uint64:
    """A per-stream constant mixed into record-id hashes so ids of different streams never clash."""
    return np.uint64(((order + 1) * 0x9E3779B97F4A7C15) % (1 << 64))


class FeatureEngine:
    """Keyed streaming state and features for one spec.

    ``reference`` holds the tables named by the spec's ``[[join]]`` entries (e.g. subscriber
    profiles); ``initial_keys`` pre-sizes each entity's state (it grows by doubling anyway).
    With ``keep_records`` the feature frames carry every column of the records, not only the
    id, time and the spec's passthrough columns (a live service acting on whole records).
    ``dedupe_horizon_ms`` keeps seen ids that much beyond the lateness threshold, so a file
    re-sent within it counts as duplicates rather than late events (memory: ~64 B per id held).
    See the module docstring for ordering, lateness and duplicates.

    >>> import tempfile
    >>> from fraud_brain.features.spec import bundled_spec
    >>> from fraud_brain.features.synthetic import synthetic_card
    >>> frames = synthetic_card(n=50)
    >>> engine = FeatureEngine(bundled_spec("card"))
    >>> _ = engine.process(frames)
    >>> probe = frames["tx"].tail(1).with_columns(pl.lit("new").alias("tx_id"))
    >>> before = engine.peek("tx", probe)                      # state is not changed
    >>> copy = FeatureEngine.restore(engine.snapshot(tempfile.mkdtemp()), bundled_spec("card"))
    >>> copy.peek("tx", probe).equals(before), copy.pending == engine.pending
    (True, True)
    """

    SEEN_MIN_SLOTS: int = 2048
    """Slots the seen-id table starts with and never shrinks below (a power of two)."""

    def __init__(self, spec: Spec, reference: Mapping[str, pl.DataFrame] | None = None,
                 initial_keys: int = 1024, keep_records: bool = False, dedupe_horizon_ms: int = 0) -> None:
        self.spec = spec
        self.keep_records = keep_records
        if dedupe_horizon_ms < 0:
            raise ValueError(f"dedupe_horizon_ms must be >= 0, got {dedupe_horizon_ms}")
        self.dedupe_horizon_ms = int(dedupe_horizon_ms)
        self.plan: Plan = build_plan(spec)
        self.reference = dict(reference or {})
        for join in spec.joins:
            if join.table not in self.reference:
                raise ValueError(f"{spec.source}: join into stream {join.stream!r} needs reference table "
                                 f"{join.table!r}; pass FeatureEngine(spec, reference={{{join.table!r}: frame}})")
            table = self.reference[join.table]
            missing = [c for c in (join.key, *(src for _, src in join.columns)) if c not in table.columns]
            if missing:
                raise ValueError(f"{spec.source}: reference table {join.table!r} has no column(s) {missing}")
        self._joined = {
            j_i: self.reference[j.table].select(
                pl.col(j.key).cast(pl.String).alias("__fb_key"), *(pl.col(src).alias(dst) for dst, src in j.columns)
            ).unique("__fb_key", keep="last")
            for j_i, j in enumerate(spec.joins)
        }
        # A pre-built key-hash index per join: a lookup and a gather per batch instead of a join.
        # The extra all-null last row is what rows without a match take.
        self._join_index: dict[int, tuple[np.ndarray, int, pl.DataFrame, HashCache]] = {}
        for j_i, joined in self._joined.items():
            table, mask = K.build_index(hash_columns(joined, ("__fb_key",)))
            values = joined.drop("__fb_key")
            values = pl.concat([values, values.clear(1)])
            # the joined columns' key hashes, gathered with their rows (hashes are per value)
            hashes: HashCache = {}
            for col in values.columns:
                _column_hash(values, col, hashes)
            self._join_index[j_i] = (table, mask, values, hashes)
        # Sizing for the expected keys per entity avoids regrowing (copying) state while warming up.
        initial = 1 << max(int(initial_keys) - 1, 1).bit_length()
        self.store = StateStore([self.plan.entity_layouts[e] for e in self.plan.entities], initial)
        # (stream, id) hash and event time pairs of the ids within the horizon (kernel.judge_arrivals)
        self._seen = np.zeros(2 * self.SEEN_MIN_SLOTS, np.uint64)
        self._seen_count = np.zeros(1, np.int64)
        self.max_seen = int(K.NONE_TIME)
        self.floor = int(K.NONE_TIME)
        self.seq = 0
        self.late_total = 0
        self.duplicate_total = 0
        self.processed_total = 0
        self._pending: dict[str, pl.DataFrame] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self._category_values: dict[tuple[str, int], tuple[pl.DataType, np.ndarray]] = {}

    # ----------------------------------------------------------------- intake
    def _prepare(self, stream: str, frame: pl.DataFrame) -> pl.DataFrame:
        meta = self.spec.streams.get(stream)
        if meta is None:
            raise ValueError(f"unknown stream {stream!r}; the spec {self.spec.source} has {self.spec.stream_names()}")
        for col in (meta.id, meta.time):
            if col not in frame.columns:
                raise ValueError(f"stream {stream!r}: records have no column {col!r} (spec {self.spec.source})")
        dtype = frame.schema[meta.time]
        if not isinstance(dtype, pl.Datetime):
            raise ValueError(f"stream {stream!r}: time column {meta.time!r} must be Datetime, got {dtype}")
        if dtype.time_zone is None:
            frame = frame.with_columns(pl.col(meta.time).dt.replace_time_zone("UTC"))
        if frame.get_column(meta.id).null_count():
            row = frame.get_column(meta.id).is_null().arg_max() or 0
            raise ValueError(f"stream {stream!r} row {row}: record id {meta.id!r} is missing")
        if frame.get_column(meta.time).null_count():
            row = frame.get_column(meta.time).is_null().arg_max() or 0
            raise ValueError(f"stream {stream!r} record {frame[meta.id][row]!r}: time {meta.time!r} is missing")
        return frame.with_columns(pl.col(meta.time).dt.epoch("ms").alias(_TIME))

    def _threshold(self) -> int:
        """The lateness threshold the next micro-batch is judged against: older events are late."""
        if self.max_seen == int(K.NONE_TIME):
            return self.floor
        return max(self.floor, self.max_seen - self.spec.lateness_ms)

    def _keep(self) -> int:
        """The oldest event time whose id still counts as seen (the threshold minus the dedupe horizon)."""
        threshold = self._threshold()
        if threshold == int(K.NONE_TIME) or not self.dedupe_horizon_ms:
            return threshold
        return threshold - self.dedupe_horizon_ms

    def _grow_seen(self, extra: int) -> None:
        """Make room for ``extra`` more ids: purge the ids below the threshold, grow only if still needed.

        The rebuilt table is at most a quarter full (and never smaller than ``SEEN_MIN_SLOTS``),
        so the next rebuild comes after at least a quarter of its slots were filled or with a
        batch at least that big: each rebuild's O(slots) cost is paid by as many events.
        """
        count = int(self._seen_count[0])
        cap = self._seen.shape[0] // 2
        if 2 * (count + extra) <= cap:
            return
        threshold = np.int64(self._keep())
        live = int(K.seen_live(self._seen, threshold))
        cap = self.SEEN_MIN_SLOTS
        while cap < 4 * (live + extra):
            cap *= 2
        table = np.zeros(2 * cap, np.uint64)
        self._seen_count[0] = K.seen_rebuild(self._seen, table, cap - 1, threshold)
        self._seen = table

    def process(self, frames: Mapping[str, pl.DataFrame]) -> FeatureBatch:
        """Take a micro-batch per stream; return features of the events the watermark released."""
        batch = FeatureBatch()
        prepared: list[tuple[str, pl.DataFrame]] = []
        for stream in self.spec.stream_names():
            if stream in frames and frames[stream].height:
                prepared.append((stream, self._prepare(stream, frames[stream])))
        for stream in frames:
            if stream not in self.spec.streams:
                raise ValueError(
                    f"unknown stream {stream!r}; the spec {self.spec.source} has {self.spec.stream_names()}")
        if prepared:
            times = np.concatenate([f.get_column(_TIME).to_numpy() for _, f in prepared]).astype(np.int64)
            ids = np.concatenate([
                hash_columns(f, (self.spec.streams[s].id,)) ^ _stream_salt(self.spec.streams[s].order)
                for s, f in prepared
            ])
            ids = np.where(ids == 0, np.uint64(1), ids)
            self._grow_seen(ids.shape[0])
            status, self.max_seen = K.judge_arrivals(
                times, ids, self._seen, self._seen.shape[0] // 2 - 1, self._seen_count,
                np.int64(self.max_seen), np.int64(self._threshold()), np.int64(self._keep()))
            self.max_seen = int(self.max_seen)
            start = 0
            for stream, frame in prepared:
                st = status[start: start + frame.height]
                start += frame.height
                seq = np.arange(self.seq, self.seq + frame.height, dtype=np.int64)
                frame = frame.with_columns(pl.Series(_SEQ, seq))
                self.seq += frame.height
                dups = int((st == 1).sum())
                batch.duplicates[stream] = dups
                self.duplicate_total += dups
                accepted = not st.any()
                late = frame.clear() if accepted else frame.filter(pl.Series(st == 2))
                if late.height:
                    batch.late[stream] = late.drop(_SEQ, _TIME)
                    self.late_total += late.height
                ok = frame if accepted else frame.filter(pl.Series(st == 0))
                if ok.height:
                    old = self._pending.get(stream)
                    self._pending[stream] = ok if old is None else pl.concat([old, ok], how="diagonal_relaxed")
        watermark = self.max_seen - self.spec.lateness_ms if self.max_seen != int(K.NONE_TIME) else int(K.NONE_TIME)
        self._release(batch, watermark)
        return batch

    def flush(self) -> FeatureBatch:
        """Process every buffered event (end of input); later events older than them count as late."""
        batch = FeatureBatch()
        self._release(batch, None)
        return batch

    def _release(self, batch: FeatureBatch, watermark: int | None) -> None:
        ready: dict[str, pl.DataFrame] = {}
        for stream, pending in list(self._pending.items()):
            times = pending.get_column(_TIME).to_numpy()
            if watermark is None or (times.shape[0] and int(times.max()) < watermark):
                ready[stream], rest = pending, pending.clear()
            elif not times.shape[0] or int(times.min()) >= watermark:
                ready[stream], rest = pending.clear(), pending
            else:
                mask = pl.Series(times < watermark)
                ready[stream], rest = pending.filter(mask), pending.filter(~mask)
            self._pending[stream] = rest
        ready = {s: f for s, f in ready.items() if f.height}
        if watermark is None and ready:
            newest = max(int(f.get_column(_TIME).to_numpy().max()) for f in ready.values())
            self.floor = max(self.floor, newest + 1)
        if ready:
            batch.features.update(self._run(ready, mutate=True))

    # ----------------------------------------------------------------- compute
    def _inputs(self, sp: StreamPlan, frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        cache: HashCache = {}
        for j_i, join in enumerate(self.spec.joins):
            if join.stream == sp.name:
                if join.on not in frame.columns:
                    raise ValueError(f"stream {sp.name!r}: records have no column {join.on!r} to join "
                                     f"reference table {join.table!r} (spec {self.spec.source})")
                table, mask, values, hashes = self._join_index[j_i]
                if any(c in frame.columns for c in values.columns):
                    # name clashes get polars' join suffixes; keep the join's exact output for them
                    frame = frame.with_columns(pl.col(join.on).cast(pl.String).alias("__fb_key")).join(
                        self._joined[j_i], on="__fb_key", how="left", maintain_order="left").drop("__fb_key")
                    continue
                rows = K.lookup_rows(table, mask, hash_columns(frame, (join.on,), cache))
                rows[rows < 0] = values.height - 1
                # only columns read as inputs or passed through are gathered; key columns
                # (e.g. a distinct count of a joined column) need only their hashes
                used = {c.label[1] for c in sp.inputs} | set(self.spec.streams[sp.name].passthrough)
                wanted = [c for c in values.columns if c in used]
                if wanted:
                    frame = frame.hstack(values.select(wanted)[pl.Series(rows)])
                for col, (h, null) in hashes.items():
                    gathered = None if null is None else null[rows]
                    cache[col] = (h[rows], gathered if gathered is not None and gathered.any() else None)
        if sp.inputs:
            times = frame.get_column(_TIME).to_numpy()
            builtin = [i for i, c in enumerate(sp.inputs) if c.label[0] == "builtin"]
            # the local hour/weekday from the epoch array (see localtime); polars for the rest
            fast = builtin if times.shape[0] and int(times.min()) >= 0 else []
            schema = frame.schema
            # string tests of an Enum column: the expression's value per category, looked up by code
            coded = [i for i, c in enumerate(sp.inputs) if c.label[0] in ("eq", "ne", "in")
                     and isinstance(schema.get(c.label[1]), pl.Enum)]
            # a plain numeric column is its own input (nulls become NaN): no expression to plan
            plain = [i for i, c in enumerate(sp.inputs) if c.label[0] == "num"
                     and (dtype := schema.get(c.label[1])) is not None and dtype.is_numeric()]
            rest = [i for i in range(len(sp.inputs)) if i not in fast and i not in coded and i not in plain]
            try:
                X = np.empty((frame.height, len(sp.inputs)), np.float64)
                if fast:
                    hour, weekday = local_hour_weekday(times, self.spec.timezone)
                    for i in fast:
                        X[:, i] = hour if sp.inputs[i].label[1] == "hour" else weekday
                for i in coded:
                    X[:, i] = self._by_category(sp, i, frame.get_column(sp.inputs[i].label[1]))
                for i in plain:
                    X[:, i] = frame.get_column(sp.inputs[i].label[1]).cast(pl.Float64).to_numpy()
                if rest:
                    X[:, rest] = frame.select([sp.inputs[i].expr.alias(f"x{i}") for i in rest]).to_numpy()
            except pl.exceptions.ColumnNotFoundError:
                # built-ins (hour, weekday) are read from the time column, never from a column of their name
                missing = next(c for c in sp.inputs
                               if c.label[0] != "builtin" and c.label[1] not in frame.columns)
                raise ValueError(f"stream {sp.name!r}: records have no column {missing.label[1]!r} used at "
                                 f"{missing.used_at}") from None
            except pl.exceptions.PolarsError as err:
                bad = next((c for c in sp.inputs if c.label[0] == "num" and (
                    frame.schema.get(c.label[1]) in (pl.String, pl.Categorical)
                    or isinstance(frame.schema.get(c.label[1]), pl.Enum))), None)
                where = f" used as a number at {bad.used_at}; compare it with strings instead" if bad else ""
                name = bad.label[1] if bad else "?"
                raise ValueError(f"stream {sp.name!r}: column {name!r} cannot be read{where}: {err}") from None
        else:
            X = np.zeros((frame.height, 0), np.float64)
        for cols in sp.keys:
            for col in cols:
                if col not in frame.columns and col not in cache:
                    raise ValueError(f"stream {sp.name!r}: records have no column {col!r} used at "
                                     f"{self._used_at(sp.name, col)}")
        KH = np.stack([hash_columns(frame, cols, cache) for cols in sp.keys], axis=1) if sp.keys else \
            np.zeros((frame.height, 0), np.uint64)
        return frame, X, KH

    def _used_at(self, stream: str, column: str) -> str:
        """Where the spec first names a record column of a stream (file, line and key), for errors."""
        use = next((u for u in column_uses(self.spec, stream) if u.column == column), None)
        return f"spec {self.spec.source}" if use is None else use.at

    def _by_category(self, sp: StreamPlan, i: int, column: pl.Series) -> np.ndarray:
        """Input column ``i`` of an Enum column: polars evaluates it once per category (and null)."""
        dtype = column.dtype
        assert isinstance(dtype, pl.Enum)
        cached = self._category_values.get((sp.name, i))
        if cached is None or cached[0] != dtype:
            values = pl.Series(column.name, [*dtype.categories.to_list(), None], dtype=dtype)
            table = pl.DataFrame([values]).select(sp.inputs[i].expr).to_series().to_numpy().astype(np.float64)
            cached = self._category_values[(sp.name, i)] = (dtype, table)
        codes = column.to_physical()
        if codes.null_count():
            codes = codes.fill_null(len(dtype.categories))
        looked_up: np.ndarray = cached[1][codes.to_numpy()]
        return looked_up

    def _run(self, ready: Mapping[str, pl.DataFrame], mutate: bool, ordered: bool = True) -> dict[str, pl.DataFrame]:
        names, parts, where, OUT = self._compute(ready, mutate, ordered)
        return self._frames(names, parts, where, OUT, ordered, ready)

    def _compute(
        self, ready: Mapping[str, pl.DataFrame], mutate: bool, ordered: bool
    ) -> tuple[list[str], dict[str, tuple[pl.DataFrame, np.ndarray, np.ndarray]], dict[str, np.ndarray], np.ndarray]:
        """Run the kernel over ``ready``: streams, their inputs, each row's output row, the outputs."""
        plan = self.plan
        names = [s for s in self.spec.stream_names() if s in ready]
        parts = {s: self._inputs(plan.streams[s], ready[s]) for s in names}
        n = sum(ready[s].height for s in names)
        cx = max([parts[s][1].shape[1] for s in names] + [1])
        ck = max([parts[s][2].shape[1] for s in names] + [1])
        co = max([len(plan.streams[s].feature_names) for s in names] + [1])
        T = np.concatenate([ready[s].get_column(_TIME).to_numpy().astype(np.int64) for s in names])
        S = np.concatenate([np.full(ready[s].height, self.spec.streams[s].order, np.int64) for s in names])
        if ordered:
            seq = np.concatenate([ready[s].get_column(_SEQ).to_numpy().astype(np.int64) for s in names])
            if bool(np.all(np.diff(S) >= 0)) and bool(np.all((np.diff(seq) > 0) | (np.diff(S) > 0))):
                # rows already in (stream, seq) order: a stable sort by time is the same order,
                # and nearly sorted input makes it a cheap merge of runs
                order = np.argsort(T, kind="stable")
            else:
                order = np.lexsort((seq, S, T))
        else:
            order = np.arange(n)
        pos = np.empty(n, np.int64)
        pos[order] = np.arange(n)
        X = self._scratch("X", (n, cx), np.float64, mutate)
        X.fill(0.0)
        KH = self._scratch("KH", (n, ck), np.uint64, mutate)
        KH.fill(0)
        start = 0
        where: dict[str, np.ndarray] = {}
        for s in names:
            h = ready[s].height
            p = pos[start: start + h]
            where[s] = p
            K.scatter_rows(X, p, parts[s][1])
            K.scatter_rows(KH, p, parts[s][2])
            start += h
        T, S = T[order], S[order]
        if mutate:
            self.store.ensure_all(self._new_key_bounds(names, parts))
            self.store.ensure_pool(sum(ready[s].height * plan.streams[s].list_updates for s in names))
        # every row's own features are all written by the kernel; wider columns are never read
        OUT = self._scratch("OUT", (n, co), np.float64, mutate)
        st = self.store
        K.run(T, S, X, KH, OUT, plan.prog_lo, plan.prog_hi, plan.instructions, plan.code, plan.consts,
              st.ht, st.ht_off, st.ht_mask, st.count,
              st.F, st.f_off, st.f_stride, st.I, st.i_off, st.i_stride, st.fdef, st.fdef_off, st.idef, st.idef_off,
              st.PT if plan.list_windows else None, st.PV, st.PN, st.pool, mutate)
        if mutate:
            self.processed_total += n
        return names, parts, where, OUT

    def _frames(
        self, names: list[str], parts: dict[str, tuple[pl.DataFrame, np.ndarray, np.ndarray]],
        where: dict[str, np.ndarray], OUT: np.ndarray, ordered: bool, ready: Mapping[str, pl.DataFrame],
    ) -> dict[str, pl.DataFrame]:
        """Per stream, the id, time and passthrough columns with the emitted features, in stream order."""
        plan = self.plan
        result: dict[str, pl.DataFrame] = {}
        for s in names:
            sp = plan.streams[s]
            meta = self.spec.streams[s]
            p = where[s]
            rank = np.argsort(p, kind="stable") if ordered else np.arange(p.shape[0])
            ordered_here = ordered and not bool(np.all(rank[1:] > rank[:-1]))
            src = parts[s][0]
            keep = [meta.id, meta.time, *[c for c in meta.passthrough if c not in (meta.id, meta.time)]]
            if self.keep_records:
                keep += [c for c in ready[s].columns if c not in keep and c not in (_TIME, _SEQ)]
            missing = [c for c in keep if c not in src.columns]
            if missing:
                raise ValueError(f"stream {s!r}: records have no column {missing[0]!r} used at "
                                 f"{self._used_at(s, missing[0])}")
            base = src.select(keep)[pl.Series(rank)] if ordered_here else src.select(keep)
            emit = [i for i, keep_it in enumerate(sp.feature_emit) if keep_it]
            if not emit:
                result[s] = base
                continue
            # one gather into a contiguous array per feature: polars takes each without a copy
            cols = K.gather_columns(OUT, p[rank] if ordered_here else p, np.array(emit, np.int64))
            result[s] = base.hstack([pl.Series(sp.feature_names[i], cols[j]) for j, i in enumerate(emit)])
        return result

    def _scratch(self, name: str, shape: tuple[int, int], dtype: type, reuse: bool) -> np.ndarray:
        """A C-ordered work array, reused across batches when ``reuse`` (no output ever views it).

        Fresh arrays of tens of MB come straight from the OS and every page faults on first
        touch; reusing one buffer per name avoids that once per batch.
        """
        size = shape[0] * shape[1]
        if not reuse:
            return np.empty(shape, dtype)
        buf = self._buffers.get(name)
        if buf is None or buf.shape[0] < size:
            buf = self._buffers[name] = np.empty(max(size, 1), dtype)
        return buf[:size].reshape(shape)

    def _new_key_bounds(self, names: list[str],
                        parts: dict[str, tuple[pl.DataFrame, np.ndarray, np.ndarray]]) -> dict[int, int]:
        """Per entity, the number of distinct keys of this batch not in the state yet.

        Where even one new key per inserting row would fit without growing the state, the exact
        number cannot change what :meth:`StateStore.ensure_all` does, so it is not looked up (0).
        """
        st = self.store
        inserts = [(s, row) for s in names for row in self.plan.streams[s].instructions if row[K.I_OP] == K.INSERT]
        bound: dict[int, int] = {}
        for s, row in inserts:
            bound[row[K.I_ENT]] = bound.get(row[K.I_ENT], 0) + parts[s][2].shape[0]
        roomy = {e for e, b in bound.items() if int(st.count[e]) + b <= st.row_capacity[e]
                 and 2 * (int(st.count[e]) + b) <= st.table_capacity[e]}
        missing: dict[int, list[np.ndarray]] = {e: [] for e in roomy}
        for s, row in inserts:
            e = row[K.I_ENT]
            if e not in roomy:
                kh = parts[s][2]
                new = K.missing_in_column(st.ht, st.ht_off[e], st.ht_mask[e], kh, row[K.I_KEY])
                missing.setdefault(e, []).append(kh[new, row[K.I_KEY]])
        return {e: int(np.unique(np.concatenate(h)).shape[0]) if h else 0 for e, h in missing.items()}

    def peek(self, stream: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Features of events against the current state, changing nothing (a synchronous pre-check).

        Every row sees the same state: rows of one peek do not see each other.
        """
        prepared = self._prepare(stream, frame)
        return self._run({stream: prepared}, mutate=False, ordered=False)[stream]

    def peek_values(self, stream: str, frame: pl.DataFrame) -> tuple[list[str], np.ndarray]:
        """:meth:`peek` as a matrix: the emitted feature names and one row of values per record.

        No frame is built, so a single record costs a fraction of :meth:`peek` (the bank's check).
        """
        _, _, where, OUT = self._compute({stream: self._prepare(stream, frame)}, mutate=False, ordered=False)
        sp = self.plan.streams[stream]
        emit = [i for i, keep_it in enumerate(sp.feature_emit) if keep_it]
        return [sp.feature_names[i] for i in emit], OUT[np.ix_(where[stream], np.array(emit, np.int64))]

    # ----------------------------------------------------------------- state
    @property
    def pending(self) -> int:
        """Events waiting in the buffer for the watermark."""
        return sum(f.height for f in self._pending.values())

    def state_bytes_per_key(self) -> dict[str, int]:
        """State bytes per key of each entity (state row + hash-table entry)."""
        return {e: self.store.bytes_per_key(i) for i, e in enumerate(self.plan.entities)}

    def seen_ids(self) -> tuple[int, int]:
        """(ids held for duplicate detection, slots of their table): bounded by the horizon's events.

        Held ids include ones already below the threshold until the next purge.

        >>> from fraud_brain.features.spec import bundled_spec
        >>> FeatureEngine(bundled_spec("card")).seen_ids()
        (0, 2048)
        """
        return int(self._seen_count[0]), self._seen.shape[0] // 2

    def keys(self) -> dict[str, int]:
        """Number of keys holding state, per entity."""
        return {e: self.store.keys_used(i) for i, e in enumerate(self.plan.entities)}

    def snapshot(self, path: str | Path) -> Path:
        """Write the whole engine state (keyed state, seen ids with their times, watermark, buffer) into a folder."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {"seen": self._seen, "seen_count": self._seen_count,
                                  **self.store.to_arrays()}
        np.savez(folder / "state.npz", **arrays)
        for stream, frame in self._pending.items():
            frame.write_parquet(folder / f"pending_{stream}.parquet")
        meta = {
            "format": SNAPSHOT_FORMAT,
            "spec_sha256": hashlib.sha256(self.spec.text.encode()).hexdigest(),
            "spec_name": self.spec.name,
            "polars_version": pl.__version__,
            "max_seen": self.max_seen, "floor": self.floor, "seq": self.seq,
            "late_total": self.late_total, "duplicate_total": self.duplicate_total,
            "processed_total": self.processed_total, "pending_streams": sorted(self._pending),
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def restore(cls, path: str | Path, spec: Spec, reference: Mapping[str, pl.DataFrame] | None = None,
                keep_records: bool = False, dedupe_horizon_ms: int = 0) -> FeatureEngine:
        """An engine that continues exactly where the snapshot in ``path`` left off.

        Snapshots of format 1 (before seen ids had event times) restore too: their ids count as
        being as new as the snapshot's newest event (see ``_stamp_unknown_seen_times``).
        """
        folder = Path(path)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{folder}: not a feature-engine snapshot ({err})") from None
        version = int(meta.get("format", 1))
        if version > SNAPSHOT_FORMAT:
            raise ValueError(f"{folder}: snapshot format {version} is newer than this engine's "
                             f"({SNAPSHOT_FORMAT}); restore it with a newer fraud_brain")
        if meta["spec_sha256"] != hashlib.sha256(spec.text.encode()).hexdigest():
            raise ValueError(f"{folder}: snapshot was taken with a different version of spec {meta['spec_name']!r}")
        if meta["polars_version"] != pl.__version__:
            raise ValueError(f"{folder}: snapshot key hashes come from polars {meta['polars_version']}, "
                             f"this is polars {pl.__version__}; replay history instead")
        engine = cls(spec, reference, keep_records=keep_records, dedupe_horizon_ms=dedupe_horizon_ms)
        with np.load(folder / "state.npz") as data:
            arrays = {k: data[k] for k in data.files}
        engine.store.load_arrays(arrays)
        engine._seen = arrays["seen"].copy()
        engine._seen_count = arrays["seen_count"].copy()
        for key in ("max_seen", "floor", "seq", "late_total", "duplicate_total", "processed_total"):
            setattr(engine, key, int(meta[key]))
        if version == 1:
            engine._stamp_unknown_seen_times()
        for stream in meta["pending_streams"]:
            engine._pending[stream] = pl.read_parquet(folder / f"pending_{stream}.parquet")
        return engine

    def _stamp_unknown_seen_times(self) -> None:
        """Give the ids of a format-1 snapshot (no event times) the snapshot's newest time.

        Every id recorded then belonged to an event no newer than ``max_seen`` (accepted
        events define it, late ones lie below it), so ``max_seen`` is an upper bound: such ids
        stay duplicates at least as long as their true times would keep them, and are purged
        only once the threshold passes ``max_seen``, when their true times are below it too.
        """
        used = self._seen[0::2] != 0
        stamp = self.max_seen if self.max_seen != int(K.NONE_TIME) else int(np.iinfo(np.int64).max)
        self._seen[1::2][used] = np.int64(stamp).astype(np.uint64)
