"""Keyed state in flat numpy arrays: per entity a hash table (key hash → slot) and state rows.

Arrays grow by doubling, before a batch runs, so the compiled kernel never allocates.

>>> from fraud_brain.features.plan import EntityLayout
>>> layout = EntityLayout("phone", [0.0, float("nan")], [-1])
>>> store = StateStore([layout])
>>> store.ensure(0, 100)
>>> bool(store.row_capacity[0] >= 100), store.keys_used(0)
(True, 0)
"""

from __future__ import annotations

import numpy as np

from fraud_brain.features import kernel as K
from fraud_brain.features.plan import EntityLayout


def _offsets(strides: np.ndarray, n: int) -> np.ndarray:
    """Where each entity's defaults start in the flat defaults array."""
    if not n:
        return np.zeros(0, np.int64)
    return np.concatenate([[0], np.cumsum(strides)[:-1]]).astype(np.int64)


class StateStore:
    """The state of every entity, laid out for :func:`fraud_brain.features.kernel.run`."""

    def __init__(self, layouts: list[EntityLayout], initial: int = 1024) -> None:
        self.layouts = layouts
        n = len(layouts)
        self.f_stride = np.array([lay.float_cols for lay in layouts], np.int64)
        self.i_stride = np.array([lay.int_cols for lay in layouts], np.int64)
        self.fdef = np.array([v for lay in layouts for v in lay.float_defaults] or [0.0], np.float64)
        self.idef = np.array([v for lay in layouts for v in lay.int_defaults] or [0], np.int64)
        self.fdef_off = _offsets(self.f_stride, n)
        self.idef_off = _offsets(self.i_stride, n)
        self.count = np.zeros(n, np.int64)
        self.row_capacity = np.full(n, initial, np.int64)
        self.table_capacity = np.full(n, initial * 2, np.int64)
        self._tables = [np.zeros(initial * 4, np.uint64) for _ in range(n)]  # (key, slot) pairs
        self._floats: list[np.ndarray] = [np.zeros(initial * lay.float_cols, np.float64) for lay in layouts]
        self._ints: list[np.ndarray] = [np.zeros(initial * lay.int_cols, np.int64) for lay in layouts]
        # One pool of event-list nodes (time, value, next) for every exact and delayed window.
        self.PT = np.zeros(1, np.int64)
        self.PV = np.zeros(1, np.float64)
        self.PN = np.zeros(1, np.int64)
        self.pool = np.array([K.NO_NODE, 0, 0], np.int64)
        self._pack()

    def _pack(self) -> None:
        """Concatenate per-entity segments into the flat arrays the kernel reads."""

        def flat(parts: list[np.ndarray], dtype: type) -> tuple[np.ndarray, np.ndarray]:
            sizes = np.array([p.shape[0] for p in parts], np.int64)
            offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if parts else np.zeros(0, np.int64)
            data = np.concatenate(parts) if parts else np.zeros(1, dtype)
            if data.shape[0] == 0:
                data = np.zeros(1, dtype)
            return data, offsets

        self.ht, self.ht_off = flat(self._tables, np.uint64)
        self.ht_mask = self.table_capacity - 1
        self.F, self.f_off = flat(self._floats, np.float64)
        self.I, self.i_off = flat(self._ints, np.int64)

    def _unpack(self) -> None:
        """Point per-entity views back into the flat arrays (they are written by the kernel)."""
        for e in range(len(self.layouts)):
            self._tables[e] = self.ht[self.ht_off[e]: self.ht_off[e] + 2 * self.table_capacity[e]]
            rows = self.row_capacity[e]
            self._floats[e] = self.F[self.f_off[e]: self.f_off[e] + rows * self.f_stride[e]]
            self._ints[e] = self.I[self.i_off[e]: self.i_off[e] + rows * self.i_stride[e]]

    def ensure(self, entity: int, extra: int) -> None:
        """Make room for ``extra`` more keys of one entity (doubling arrays as needed)."""
        self.ensure_all({entity: extra})

    def ensure_all(self, extra: dict[int, int]) -> None:
        """Make room for ``extra[e]`` more keys of each entity ``e``, repacking the flat arrays once."""
        changed = False
        self._unpack()
        for entity, more in extra.items():
            need = int(self.count[entity]) + int(more)
            if need > self.row_capacity[entity]:
                rows = int(self.row_capacity[entity])
                while rows < need:
                    rows *= 2
                for parts, stride in ((self._floats, self.f_stride), (self._ints, self.i_stride)):
                    old = parts[entity]
                    grown = np.zeros(rows * int(stride[entity]), old.dtype)
                    grown[: old.shape[0]] = old
                    parts[entity] = grown
                self.row_capacity[entity] = rows
                changed = True
            if need * 2 > self.table_capacity[entity]:
                cap = int(self.table_capacity[entity])
                while need * 2 > cap:
                    cap *= 2
                table = np.zeros(2 * cap, np.uint64)
                K.rehash(self._tables[entity], table, cap - 1)
                self._tables[entity] = table
                self.table_capacity[entity] = cap
                changed = True
        if changed:
            self._pack()

    def ensure_pool(self, extra: int) -> None:
        """Make room for ``extra`` more event-list nodes (free nodes are reused first; doubles as needed).

        >>> store = StateStore([])
        >>> store.ensure_pool(10)
        >>> store.PT.shape[0] >= 10
        True
        """
        need = int(self.pool[K.P_USED]) + max(0, int(extra) - int(self.pool[K.P_FREE_COUNT]))
        cap = self.PT.shape[0]
        if need <= cap:
            return
        while cap < need:
            cap *= 2
        for name in ("PT", "PV", "PN"):
            old = getattr(self, name)
            grown = np.zeros(cap, old.dtype)
            grown[: old.shape[0]] = old
            setattr(self, name, grown)

    def pool_nodes(self) -> int:
        """Event-list nodes in use (events kept by exact and delayed windows)."""
        return int(self.pool[K.P_USED] - self.pool[K.P_FREE_COUNT])

    def keys_used(self, entity: int) -> int:
        """Number of keys of one entity holding state."""
        return int(self.count[entity])

    def bytes_per_key(self, entity: int) -> int:
        """State bytes per key of one entity: its state row plus its hash-table entry at 50% load."""
        return int(8 * (self.f_stride[entity] + self.i_stride[entity]) + 2 * 16)

    def nbytes(self) -> int:
        """Bytes allocated for all state (including growth headroom)."""
        arrays = (self.ht, self.F, self.I, self.PT, self.PV, self.PN)
        return int(sum(a.nbytes for a in arrays))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The state as named arrays (for a snapshot)."""
        return {"ht": self.ht, "F": self.F, "I": self.I,
                "count": self.count, "row_capacity": self.row_capacity, "table_capacity": self.table_capacity,
                "pool_time": self.PT, "pool_value": self.PV, "pool_next": self.PN, "pool": self.pool}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Replace the state by arrays from :meth:`to_arrays` (same layouts)."""
        self.count = arrays["count"].astype(np.int64).copy()
        self.row_capacity = arrays["row_capacity"].astype(np.int64).copy()
        self.table_capacity = arrays["table_capacity"].astype(np.int64).copy()
        self.ht = arrays["ht"].copy()
        self.F, self.I = arrays["F"].copy(), arrays["I"].copy()
        if "pool" in arrays:  # snapshots from before event lists have none (and no list windows)
            self.PT, self.PV = arrays["pool_time"].copy(), arrays["pool_value"].copy()
            self.PN, self.pool = arrays["pool_next"].copy(), arrays["pool"].copy()
        self.ht_mask = self.table_capacity - 1
        self.ht_off = np.concatenate([[0], np.cumsum(2 * self.table_capacity)[:-1]]).astype(np.int64)
        self.f_off = np.concatenate([[0], np.cumsum(self.row_capacity * self.f_stride)[:-1]]).astype(np.int64)
        self.i_off = np.concatenate([[0], np.cumsum(self.row_capacity * self.i_stride)[:-1]]).astype(np.int64)
        self._unpack()
