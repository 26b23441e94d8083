"""The compiled hot loop: one generic numba kernel driven by an instruction table.

Every spec compiles to the same few kernels (the spec becomes int arrays of instructions and a
tiny bytecode for expressions), so numba compiles once per machine (``cache=True``) and a new
spec such as ``card.toml`` runs with no code change.

State lives in flat arrays, one segment per entity: an open-addressing hash table of 64-bit key
hashes (``0`` means empty) mapping to row slots, a float64 row and an int64 row per key.
Exact and delayed windows also keep events: linked lists of (time, value, next) nodes in one
pool shared by every key (``PT``, ``PV``, ``PN``; freed nodes are reused), whose heads live
in the key's int row. A spec without such windows passes ``PT=None`` and that code compiles away.
The engine's seen-id table has the same layout with an event time in place of the slot.

>>> import numpy as np
>>> table, count = np.zeros(16, np.uint64), np.zeros(1, np.int64)
>>> int(set_insert(table, 0, 7, count, 0, np.uint64(42))), int(set_insert(table, 0, 7, count, 0, np.uint64(42)))
(0, 0)
>>> int(table_lookup(table, 0, 7, np.uint64(43)))
-1
"""

# The njit functions below carry no annotations on purpose: numba compiles one version per
# argument types at the first call, and Python annotations would be ignored by it while making
# mypy judge numpy scalar arithmetic it cannot type. Hence this one error code is off here.
# mypy: disable-error-code="no-untyped-def"
# The hot loop keeps its shape on purpose (numba's code for it was measured): chains of == rather
# than tuple membership, and the state arrays keep their one-letter names F and I.
# ruff: noqa: SIM109, SIM114, E741

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped, unused-ignore]  # no stubs (numba's code generator)
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# Instruction opcodes.
RESOLVE, INSERT, READ, EXPR, UPDATE = 0, 1, 2, 3, 4
# Aggregate kinds (same order as spec.OPS).
COUNT, SUM, MEAN, MAX, MIN, DISTINCT, LAST, FIRST, PREV = range(9)
# Window kinds: PEND is a delayed lifetime window (its young events wait in a list), SLIDE_LATE a
# delayed bucketed one (apart from SLIDE so the undelayed read stays exactly as fast as it was).
LIFE, DECAY, SLIDE, EXACT, PEND, SLIDE_LATE = 0, 1, 2, 3, 4, 5
# Expression bytecode.
(C_CONST, C_COL, C_FEAT, C_ADD, C_SUB, C_MUL, C_DIV, C_NEG, C_LT, C_LE, C_GT, C_GE, C_EQ, C_NE,
 C_AND, C_OR, C_NOT, C_MIN, C_MAX, C_ABS, C_LOG1P, C_COALESCE, C_IF, C_ISNAN) = range(24)
# Columns of an instruction row.
# I_B: buckets a sliding window keeps (its I_NB buckets plus those its delay spans); I_SPAN: a
# bucket's width (sliding), the width (exact) or the half-life (decay); I_DELAY: the delay in ms.
I_OP, I_REG, I_ENT, I_KEY, I_AGG, I_WIN, I_FCOL, I_ICOL, I_B, I_WORDS, I_OUT, I_VSTART, I_VLEN, I_WSTART, \
    I_WLEN, I_SPAN, I_UNIT, I_BITS, I_NB, I_DELAY = range(20)
INSTR_WIDTH = 20
NO_NODE = -1
"""Index meaning "no node" in the event-list pool (exact and delayed windows)."""
P_FREE, P_USED, P_FREE_COUNT = 0, 1, 2
"""Pool bookkeeping: head of the free list, nodes ever handed out (the bump pointer), free nodes."""
NONE_TIME = np.iinfo(np.int64).min
"""Int64 sentinel for "no time yet" and "no bucket yet"."""
MAX_REGS = 64
PF_TABLE, PF_ROW = 6, 3
PF_RING = PF_ROW + 1
MAX_RESOLVE = 32
PF_AHEAD = 24
EXP_CACHE = 16
MAX_TMP = 256
DEST_OUT, DEST_TMP = 0, 1
LN2 = math.log(2.0)


@intrinsic
def _prefetch_intrinsic(typingctx, arr, idx):
    """Hint the CPU to fetch ``arr[idx]`` into cache (LLVM's prefetch; no effect on results)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]  # numba's cgutils has no annotations
            context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]  # as above
            builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


# Called as _prefetch(arr, idx) inside compiled code; numba's stub describes the intrinsic's
# typing signature (with the typing context) instead, so give mypy the call as written.
_prefetch = cast(Callable[[Any, Any], None], _prefetch_intrinsic)


@njit(cache=True, inline="always")
def _mix(h: np.uint64) -> np.uint64:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    return h ^ (h >> np.uint64(33))


@njit(cache=True)
def table_lookup(table, off, mask, h):
    """Slot of key hash ``h`` in one entity's table, or -1 (``h`` must be non-zero).

    A table interleaves (key, slot) pairs so a probe touches one cache line.
    """
    i = np.int64(_mix(h) & np.uint64(mask))
    while True:
        k = table[off + 2 * i]
        if k == h:
            return np.int64(table[off + 2 * i + 1])
        if k == 0:
            return np.int64(-1)
        i = (i + 1) & mask


@njit(cache=True)
def set_insert(table, off, mask, count, ent, h):
    """Slot of ``h``, inserting it with the next free slot when absent (capacity ensured by caller)."""
    i = np.int64(_mix(h) & np.uint64(mask))
    while True:
        k = table[off + 2 * i]
        if k == h:
            return np.int64(table[off + 2 * i + 1])
        if k == 0:
            table[off + 2 * i] = h
            slot = count[ent]
            table[off + 2 * i + 1] = np.uint64(slot)
            count[ent] = slot + 1
            return slot
        i = (i + 1) & mask


@njit(cache=True)
def missing_mask(table, off, mask, hashes):
    """Which of ``hashes`` are non-zero and not yet in one entity's table (candidates for new keys)."""
    n = hashes.shape[0]
    out = np.zeros(n, np.bool_)
    for i in range(n):
        # the lookups are cache misses: fetch the table entry of a row PF_AHEAD rows ahead
        if i + PF_AHEAD < n and hashes[i + PF_AHEAD] != 0:
            _prefetch(table, off + 2 * np.int64(_mix(hashes[i + PF_AHEAD]) & np.uint64(mask)))
        h = hashes[i]
        if h != 0 and table_lookup(table, off, mask, h) < 0:
            out[i] = True
    return out


@njit(cache=True)
def rehash(old, new, new_mask):
    """Move every entry of one table into a larger empty one."""
    for i in range(old.shape[0] // 2):
        h = old[2 * i]
        if h != 0:
            j = np.int64(_mix(h) & np.uint64(new_mask))
            while new[2 * j] != 0:
                j = (j + 1) & new_mask
            new[2 * j] = h
            new[2 * j + 1] = old[2 * i + 1]


@njit(cache=True)
def missing_in_column(table, off, mask, hashes, col):
    """:func:`missing_mask` of column ``col`` of a 2-D hash matrix (saves copying the column out)."""
    n = hashes.shape[0]
    out = np.zeros(n, np.bool_)
    for i in range(n):
        if i + PF_AHEAD < n and hashes[i + PF_AHEAD, col] != 0:
            _prefetch(table, off + 2 * np.int64(_mix(hashes[i + PF_AHEAD, col]) & np.uint64(mask)))
        h = hashes[i, col]
        if h != 0 and table_lookup(table, off, mask, h) < 0:
            out[i] = True
    return out


@njit(cache=True)
def scatter_rows(dst, rows, src):
    """``dst[rows[i], :w] = src[i]`` for every row ``i`` of ``src`` (``w`` its width), in one pass.

    >>> import numpy as np
    >>> dst = np.zeros((3, 2))
    >>> scatter_rows(dst, np.array([2, 0]), np.array([[1.0], [2.0]]))
    >>> dst[:, 0].tolist()
    [2.0, 0.0, 1.0]
    """
    for i in range(src.shape[0]):
        r = rows[i]
        for j in range(src.shape[1]):
            dst[r, j] = src[i, j]


@njit(cache=True)
def gather_columns(block, rows, cols):
    """``block[rows][:, cols]`` transposed: one contiguous array per chosen column, in one pass.

    >>> import numpy as np
    >>> gather_columns(np.arange(6.0).reshape(3, 2), np.array([2, 0]), np.array([1])).tolist()
    [[5.0, 1.0]]
    """
    out = np.empty((cols.shape[0], rows.shape[0]), block.dtype)
    for i in range(rows.shape[0]):
        r = rows[i]
        for j in range(cols.shape[0]):
            out[j, i] = block[r, cols[j]]
    return out


@njit(cache=True)
def build_index(hashes):
    """A hash table (interleaved key, row pairs) from non-zero row hashes to the last row holding each.

    >>> import numpy as np
    >>> table, mask = build_index(np.array([5, 0, 9, 5], np.uint64))
    >>> lookup_rows(table, mask, np.array([5, 9, 0, 7], np.uint64)).tolist()
    [3, 2, -1, -1]
    """
    cap = 16
    while cap < 2 * hashes.shape[0]:
        cap *= 2
    mask = cap - 1
    table = np.zeros(2 * cap, np.uint64)
    for r in range(hashes.shape[0]):
        h = hashes[r]
        if h == 0:
            continue
        i = np.int64(_mix(h) & np.uint64(mask))
        while table[2 * i] != 0 and table[2 * i] != h:
            i = (i + 1) & mask
        table[2 * i] = h
        table[2 * i + 1] = np.uint64(r)
    return table, mask


@njit(cache=True)
def lookup_rows(table, mask, hashes):
    """Row of each hash in a :func:`build_index` table, -1 where absent or zero (null)."""
    n = hashes.shape[0]
    out = np.full(n, -1, np.int64)
    for r in range(n):
        if r + PF_AHEAD < n and hashes[r + PF_AHEAD] != 0:
            _prefetch(table, 2 * np.int64(_mix(hashes[r + PF_AHEAD]) & np.uint64(mask)))
        h = hashes[r]
        if h != 0:
            out[r] = table_lookup(table, 0, mask, h)
    return out


@njit(cache=True)
def judge_arrivals(times, id_hash, seen, seen_mask, seen_count, max_seen, threshold, keep):
    """Mark each arriving event 0 (accepted), 1 (duplicate id) or 2 (late).

    A micro-batch arrives at once: its events are judged against ``threshold``, the newest
    time of all earlier batches (``max_seen``) minus the allowed lateness, and at least the
    floor a flush set (the engine computes it). ``seen`` interleaves (id hash, event time)
    pairs: an id is a duplicate while the time of its accepted first copy is at or above
    ``keep`` (the threshold, or earlier by a dedupe horizon); an entry below it is dead (as if
    absent: purging it changes nothing). Otherwise an event older than the threshold is late
    and not recorded; the rest are accepted and recorded, the first occurrence within the
    batch winning. Returns the statuses and the new newest time.

    >>> import numpy as np
    >>> seen, count = np.zeros(16, np.uint64), np.zeros(1, np.int64)
    >>> ids = np.array([5, 5, 6], np.uint64)
    >>> status, newest = judge_arrivals(np.array([100, 100, 10]), ids, seen, 7, count, NONE_TIME, NONE_TIME, NONE_TIME)
    >>> status.tolist(), int(newest), int(count[0])
    ([0, 1, 0], 100, 2)
    >>> ids = np.array([5, 6, 7], np.uint64)   # threshold now 100 - 50: id 6's first copy (time 10) fell below it
    >>> status, newest = judge_arrivals(np.array([100, 10, 60]), ids, seen, 7, count, newest, 50, 50)
    >>> status.tolist()
    [1, 2, 0]
    """
    n = times.shape[0]
    status = np.zeros(n, np.int8)
    newest = max_seen
    for r in range(n):
        if r + PF_AHEAD < n:
            _prefetch(seen, 2 * np.int64(_mix(id_hash[r + PF_AHEAD]) & np.uint64(seen_mask)))
        h = id_hash[r]
        t = times[r]
        i = np.int64(_mix(h) & np.uint64(seen_mask))
        while True:
            k = seen[2 * i]
            if k == h:
                if np.int64(seen[2 * i + 1]) >= keep:
                    status[r] = 1
                elif t < threshold:
                    status[r] = 2
                else:
                    # a dead entry of the same id: a copy with a newer time takes its place
                    seen[2 * i + 1] = np.uint64(t)
                break
            if k == 0:
                if t < threshold:
                    status[r] = 2
                else:
                    seen[2 * i] = h
                    seen[2 * i + 1] = np.uint64(t)
                    seen_count[0] += 1
                break
            i = (i + 1) & seen_mask
        if status[r] == 0 and t > newest:
            newest = t
    return status, newest


@njit(cache=True)
def seen_live(seen, threshold):
    """Entries of a seen table (id hash, event time pairs) whose time is at or above ``threshold``.

    >>> import numpy as np
    >>> int(seen_live(np.array([7, 10, 0, 0, 9, 3], np.uint64), 5))
    1
    """
    live = 0
    for i in range(seen.shape[0] // 2):
        if seen[2 * i] != 0 and np.int64(seen[2 * i + 1]) >= threshold:
            live += 1
    return live


@njit(cache=True)
def seen_rebuild(old, new, new_mask, threshold):
    """Move the live entries (time at or above ``threshold``) of a seen table into an empty one.

    Dead entries cannot simply be cleared in place (they may sit inside a probe chain), so a
    purge is a rebuild. Returns the number of entries moved.

    >>> import numpy as np
    >>> new = np.zeros(16, np.uint64)
    >>> int(seen_rebuild(np.array([7, 10, 0, 0, 9, 3], np.uint64), new, 7, 5)), int(new[1::2].sum())
    (1, 10)
    """
    moved = 0
    for i in range(old.shape[0] // 2):
        h = old[2 * i]
        if h != 0 and np.int64(old[2 * i + 1]) >= threshold:
            j = np.int64(_mix(h) & np.uint64(new_mask))
            while new[2 * j] != 0:
                j = (j + 1) & new_mask
            new[2 * j] = h
            new[2 * j + 1] = old[2 * i + 1]
            moved += 1
    return moved


@njit(cache=True, inline="always")
def _truthy(x):
    return x == x and x != 0.0


@njit(cache=True, inline="always")
def _popcount(x):
    x = np.uint64(x)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def linear_count(ones, bits):
    """Linear-counting estimate of distinct values from the number of set bits in ``bits`` bits."""
    zeros = bits - ones
    if zeros <= 0:
        return bits * math.log(bits)
    return bits * math.log(bits / zeros)


@njit(cache=True, error_model="numpy")
def run(T, S, X, KH, OUT, prog_lo, prog_hi, instr, code, consts,
        ht, ht_off, ht_mask, count,
        F, f_off, f_stride, I, i_off, i_stride, fdef, fdef_off, idef, idef_off, PT, PV, PN, pool, mutate):
    """Compute features for rows in order (each row sees the state before it) and apply updates.

    With ``mutate`` false nothing is inserted or updated (a read-only peek). Everything is
    written out in this one function on purpose: numba's inlining of helpers that take arrays
    leaves reference-count traffic in the loop, which made it several times slower.
    """
    n = T.shape[0]
    regs = np.full(MAX_REGS, -2, np.int64)
    regf = np.zeros(MAX_REGS, np.int64)
    regi = np.zeros(MAX_REGS, np.int64)
    tmp = np.zeros(MAX_TMP, np.float64)
    stack = np.empty(64, np.float64)
    # Decay factors of this row: a key's decayed aggregates mostly share their last time, and a
    # read and its update use the same factor, so one exp serves many (same inputs, same value).
    e_dt = np.zeros(EXP_CACHE, np.int64)
    e_span = np.zeros(EXP_CACHE, np.int64)
    e_val = np.zeros(EXP_CACHE, np.float64)
    # Slots the look-ahead probe found, per row (a ring of PF_ROW + 1 rows) and resolve step:
    # a found key never moves during a run, so the resolve step reuses it instead of probing.
    ring = np.full(PF_RING * MAX_RESOLVE, -1, np.int64)
    for r in range(n):
        # State access is random, so the loop is bound by cache misses: fetch the hash-table
        # entries of the event PF_TABLE ahead, and the state rows of the event PF_ROW ahead.
        q = r + PF_TABLE
        if q < n:
            p = prog_lo[S[q]]
            while p < prog_hi[S[q]] and instr[p, I_OP] == RESOLVE:
                h = KH[q, instr[p, I_KEY]]
                if h != 0:
                    e = instr[p, I_ENT]
                    _prefetch(ht, ht_off[e] + 2 * np.int64(_mix(h) & np.uint64(ht_mask[e])))
                p += 1
        q = r + PF_ROW
        if q < n:
            p = prog_lo[S[q]]
            while p < prog_hi[S[q]] and instr[p, I_OP] == RESOLVE:
                h = KH[q, instr[p, I_KEY]]
                found = np.int64(-1)
                if h != 0:
                    e = instr[p, I_ENT]
                    off = ht_off[e]
                    mask = ht_mask[e]
                    i = np.int64(_mix(h) & np.uint64(mask))
                    while True:
                        k = ht[off + 2 * i]
                        if k == h:
                            slot = np.int64(ht[off + 2 * i + 1])
                            found = slot
                            fb = f_off[e] + slot * f_stride[e]
                            for c in range(0, f_stride[e], 8):
                                _prefetch(F, fb + c)
                            ib = i_off[e] + slot * i_stride[e]
                            for c in range(0, i_stride[e], 8):
                                _prefetch(I, ib + c)
                            break
                        if k == 0:
                            break
                        i = (i + 1) & mask
                step = p - prog_lo[S[q]]
                if step < MAX_RESOLVE:
                    ring[(q % PF_RING) * MAX_RESOLVE + step] = found
                p += 1
        s = S[r]
        t = T[r]
        e_n = 0
        for p in range(prog_lo[s], prog_hi[s]):
            op = instr[p, I_OP]
            if op == READ:
                reg = instr[p, I_REG]
                slot = regs[reg]
                agg = instr[p, I_AGG]
                if slot < 0:
                    if slot == -2 or not (agg == COUNT or agg == SUM or agg == DISTINCT):
                        OUT[r, instr[p, I_OUT]] = np.nan
                    else:
                        OUT[r, instr[p, I_OUT]] = 0.0
                    continue
                win = instr[p, I_WIN]
                fc = regf[reg] + instr[p, I_FCOL]
                ic = regi[reg] + instr[p, I_ICOL]
                val = np.nan
                if win == LIFE:
                    if agg == COUNT or agg == SUM or agg == MAX or agg == MIN or agg == PREV:
                        val = F[fc]
                    elif agg == MEAN:
                        if F[fc] > 0:
                            val = F[fc + 1] / F[fc]
                    elif agg == DISTINCT:
                        ones = 0
                        for w in range(instr[p, I_WORDS]):
                            ones += _popcount(I[ic + w])
                        val = linear_count(ones, instr[p, I_BITS])
                    else:
                        tl = I[ic]
                        if tl != NONE_TIME:
                            val = (t - tl) / instr[p, I_UNIT]
                elif win == DECAY:
                    tl = I[ic]
                    if tl == NONE_TIME:
                        val = 0.0 if (agg == COUNT or agg == SUM) else np.nan
                    elif agg == MEAN:
                        if F[fc] > 0:
                            val = F[fc + 1] / F[fc]
                    else:
                        dt = tl - t
                        span = instr[p, I_SPAN]
                        ex = -1.0
                        for c in range(e_n):
                            if e_dt[c] == dt and e_span[c] == span:
                                ex = e_val[c]
                                break
                        if ex < 0.0:
                            ex = math.exp(dt * (LN2 / span))
                            if e_n < EXP_CACHE:
                                e_dt[e_n] = dt
                                e_span[e_n] = span
                                e_val[e_n] = ex
                                e_n += 1
                        val = F[fc] * ex
                elif win >= EXACT:
                    # A spec without exact or delayed windows runs with PT = None: numba then compiles this
                    # branch away, and the loop is exactly as fast as before these windows existed.
                    if PT is not None:
                        m = t - instr[p, I_DELAY]
                        width = instr[p, I_SPAN]
                        if win == SLIDE_LATE:
                            # whole buckets inside (m - W, m]: after m // span - B, ending at or before m
                            nb = instr[p, I_B]
                            lo = m // width - instr[p, I_NB]
                            hi = (m + 1) // width - 1
                            if agg == DISTINCT:
                                ones = 0
                                words = instr[p, I_WORDS]
                                for w in range(words):
                                    acc = np.int64(0)
                                    for j in range(nb):
                                        if lo < I[ic + j] <= hi:
                                            acc |= I[ic + nb + j * words + w]
                                    ones += _popcount(acc)
                                val = linear_count(ones, instr[p, I_BITS])
                            elif agg == MEAN:
                                cnt = 0.0
                                sm = 0.0
                                for j in range(nb):
                                    if lo < I[ic + j] <= hi:
                                        cnt += F[fc + j]
                                        sm += F[fc + nb + j]
                                if cnt > 0:
                                    val = sm / cnt
                            elif agg == MAX or agg == MIN:
                                for j in range(nb):
                                    if lo < I[ic + j] <= hi:
                                        v = F[fc + j]
                                        if val != val or (agg == MAX and v > val) or (agg == MIN and v < val):
                                            val = v
                            else:
                                val = 0.0
                                for j in range(nb):
                                    if lo < I[ic + j] <= hi:
                                        val += F[fc + j]
                            OUT[r, instr[p, I_OUT]] = val
                            continue
                        # An event list (exact window, delayed lifetime) in the node pool PT/PV/PN.
                        # Exact ints: (head, first young node, tail, max/min known), floats: running
                        # (count, sum, max or min) of the events in (m - W, m]; the max (min) is
                        # rescanned only after the event holding it left. Delayed lifetime ints:
                        # (head, tail) of the young events, floats: (count, sum, max or min) of
                        # those at or before m. Reads and updates come in event-time order, so
                        # moving m forward here is final: events come of age, old ones leave and
                        # their nodes go to the free list.
                        # (Written out here and again in UPDATE on purpose: see the docstring of run.)
                        if mutate:
                            if win == EXACT:
                                young = I[ic + 1]
                                while young >= 0 and PT[young] <= m:
                                    x = PV[young]
                                    F[fc] += 1.0
                                    F[fc + 1] += x
                                    if I[ic + 3] != 0 and (F[fc + 2] != F[fc + 2] or (
                                            agg == MAX and x > F[fc + 2]) or (agg == MIN and x < F[fc + 2])):
                                        F[fc + 2] = x
                                    young = PN[young]
                                I[ic + 1] = young
                                node = I[ic]
                                while node >= 0 and node != young and PT[node] <= m - width:
                                    F[fc] -= 1.0
                                    F[fc + 1] -= PV[node]
                                    if PV[node] == F[fc + 2]:
                                        I[ic + 3] = 0  # the max (min) leaves: the next read rescans
                                    nxt = PN[node]
                                    PN[node] = pool[P_FREE]
                                    pool[P_FREE] = node
                                    pool[P_FREE_COUNT] += 1
                                    node = nxt
                                I[ic] = node
                                if node < 0:
                                    I[ic + 2] = NO_NODE
                                if F[fc] <= 0.0:
                                    F[fc] = 0.0
                                    F[fc + 1] = 0.0  # no rounding drift survives an empty window
                                    F[fc + 2] = np.nan
                                    I[ic + 3] = 1
                            else:
                                node = I[ic]
                                while node >= 0 and PT[node] <= m:
                                    v = PV[node]
                                    F[fc] += 1.0
                                    F[fc + 1] += v
                                    if F[fc + 2] != F[fc + 2] or (agg == MAX and v > F[fc + 2]) or (
                                            agg == MIN and v < F[fc + 2]):
                                        F[fc + 2] = v
                                    nxt = PN[node]
                                    PN[node] = pool[P_FREE]
                                    pool[P_FREE] = node
                                    pool[P_FREE_COUNT] += 1
                                    node = nxt
                                I[ic] = node
                                if node < 0:
                                    I[ic + 1] = NO_NODE
                        if mutate and win == EXACT:
                            if agg == COUNT:
                                val = F[fc]
                            elif agg == SUM:
                                val = F[fc + 1]
                            elif agg == MEAN:
                                if F[fc] > 0:
                                    val = F[fc + 1] / F[fc]
                            else:
                                if I[ic + 3] == 0:
                                    # the old max (min) left the window: scan what is in it now
                                    ext = np.nan
                                    node = I[ic]
                                    while node >= 0 and node != I[ic + 1]:
                                        x = PV[node]
                                        if ext != ext or (agg == MAX and x > ext) or (agg == MIN and x < ext):
                                            ext = x
                                        node = PN[node]
                                    F[fc + 2] = ext
                                    I[ic + 3] = 1
                                val = F[fc + 2]
                        else:
                            # scan the list: a peek, which may not move anything (or a delayed lifetime,
                            # whose list after the advance holds only events newer than m)
                            cnt = 0.0
                            sm = 0.0
                            ext = np.nan
                            lo = m - width
                            if win == PEND:
                                cnt = F[fc]
                                sm = F[fc + 1]
                                ext = F[fc + 2]
                                lo = NONE_TIME
                            node = I[ic]
                            while node >= 0 and PT[node] <= m:
                                if PT[node] > lo:
                                    v = PV[node]
                                    cnt += 1.0
                                    sm += v
                                    if ext != ext or (agg == MAX and v > ext) or (agg == MIN and v < ext):
                                        ext = v
                                node = PN[node]
                            if agg == COUNT:
                                val = cnt
                            elif agg == SUM:
                                val = sm if cnt > 0 else 0.0
                            elif agg == MEAN:
                                if cnt > 0:
                                    val = sm / cnt
                            else:
                                val = ext
                else:
                    nb = instr[p, I_B]
                    lo = t // instr[p, I_SPAN] - nb
                    if agg == DISTINCT:
                        ones = 0
                        words = instr[p, I_WORDS]
                        for w in range(words):
                            acc = np.int64(0)
                            for j in range(nb):
                                if I[ic + j] > lo:
                                    acc |= I[ic + nb + j * words + w]
                            ones += _popcount(acc)
                        val = linear_count(ones, instr[p, I_BITS])
                    elif agg == MEAN:
                        cnt = 0.0
                        sm = 0.0
                        for j in range(nb):
                            if I[ic + j] > lo:
                                cnt += F[fc + j]
                                sm += F[fc + nb + j]
                        if cnt > 0:
                            val = sm / cnt
                    elif agg == MAX or agg == MIN:
                        for j in range(nb):
                            if I[ic + j] > lo:
                                v = F[fc + j]
                                if val != val or (agg == MAX and v > val) or (agg == MIN and v < val):
                                    val = v
                    else:
                        val = 0.0
                        for j in range(nb):
                            if I[ic + j] > lo:
                                val += F[fc + j]
                OUT[r, instr[p, I_OUT]] = val
            elif op == EXPR:
                sp = 0
                for pc in range(instr[p, I_VSTART], instr[p, I_VSTART] + instr[p, I_VLEN]):
                    c_op = code[pc, 0]
                    arg = code[pc, 1]
                    if c_op == C_CONST:
                        stack[sp] = consts[arg]
                        sp += 1
                    elif c_op == C_COL:
                        stack[sp] = X[r, arg]
                        sp += 1
                    elif c_op == C_FEAT:
                        stack[sp] = OUT[r, arg]
                        sp += 1
                    elif c_op == C_NEG:
                        stack[sp - 1] = -stack[sp - 1]
                    elif c_op == C_NOT:
                        stack[sp - 1] = 0.0 if _truthy(stack[sp - 1]) else 1.0
                    elif c_op == C_ABS:
                        stack[sp - 1] = abs(stack[sp - 1])
                    elif c_op == C_LOG1P:
                        stack[sp - 1] = math.log1p(stack[sp - 1]) if stack[sp - 1] > -1.0 else np.nan
                    elif c_op == C_ISNAN:
                        stack[sp - 1] = 1.0 if stack[sp - 1] != stack[sp - 1] else 0.0
                    elif c_op == C_IF:
                        stack[sp - 3] = stack[sp - 2] if _truthy(stack[sp - 3]) else stack[sp - 1]
                        sp -= 2
                    else:
                        b = stack[sp - 1]
                        a = stack[sp - 2]
                        sp -= 1
                        if c_op == C_ADD:
                            v = a + b
                        elif c_op == C_SUB:
                            v = a - b
                        elif c_op == C_MUL:
                            v = a * b
                        elif c_op == C_DIV:
                            v = a / b if b != 0.0 else np.nan
                        elif c_op == C_LT:
                            v = 1.0 if a < b else 0.0
                        elif c_op == C_LE:
                            v = 1.0 if a <= b else 0.0
                        elif c_op == C_GT:
                            v = 1.0 if a > b else 0.0
                        elif c_op == C_GE:
                            v = 1.0 if a >= b else 0.0
                        elif c_op == C_EQ:
                            v = 1.0 if a == b else 0.0
                        elif c_op == C_NE:
                            v = 1.0 if (a == a and b == b and a != b) else 0.0
                        elif c_op == C_AND:
                            v = 1.0 if (_truthy(a) and _truthy(b)) else 0.0
                        elif c_op == C_OR:
                            v = 1.0 if (_truthy(a) or _truthy(b)) else 0.0
                        elif c_op == C_MIN:
                            v = b if (a != a or b < a) else a
                        elif c_op == C_MAX:
                            v = b if (a != a or b > a) else a
                        else:  # C_COALESCE
                            v = a if a == a else b
                        stack[sp - 1] = v
                if instr[p, I_AGG] == DEST_TMP:
                    tmp[instr[p, I_OUT]] = stack[0]
                else:
                    OUT[r, instr[p, I_OUT]] = stack[0]
            elif op == RESOLVE or op == INSERT:
                reg = instr[p, I_REG]
                if op == INSERT and (not mutate or regs[reg] != -1):
                    continue
                h = KH[r, instr[p, I_KEY]]
                if h == 0:
                    regs[reg] = -2
                    continue
                e = instr[p, I_ENT]
                if op == RESOLVE and p - prog_lo[s] < MAX_RESOLVE:
                    slot = ring[(r % PF_RING) * MAX_RESOLVE + p - prog_lo[s]]
                    if slot >= 0:
                        regs[reg] = slot
                        regf[reg] = f_off[e] + slot * f_stride[e]
                        regi[reg] = i_off[e] + slot * i_stride[e]
                        continue
                off = ht_off[e]
                mask = ht_mask[e]
                i = np.int64(_mix(h) & np.uint64(mask))
                slot = np.int64(-1)
                while True:
                    k = ht[off + 2 * i]
                    if k == h:
                        slot = np.int64(ht[off + 2 * i + 1])
                        break
                    if k == 0:
                        if op == INSERT:
                            ht[off + 2 * i] = h
                            slot = count[e]
                            ht[off + 2 * i + 1] = np.uint64(slot)
                            count[e] = slot + 1
                            fb = f_off[e] + slot * f_stride[e]
                            for c in range(f_stride[e]):
                                F[fb + c] = fdef[fdef_off[e] + c]
                            ib = i_off[e] + slot * i_stride[e]
                            for c in range(i_stride[e]):
                                I[ib + c] = idef[idef_off[e] + c]
                        break
                    i = (i + 1) & mask
                regs[reg] = slot
                if slot >= 0:
                    regf[reg] = f_off[e] + slot * f_stride[e]
                    regi[reg] = i_off[e] + slot * i_stride[e]
            else:  # UPDATE
                if not mutate:
                    continue
                reg = instr[p, I_REG]
                if regs[reg] < 0:
                    continue
                if instr[p, I_WSTART] >= 0 and not _truthy(tmp[instr[p, I_WSTART]]):
                    continue
                agg = instr[p, I_AGG]
                v = 1.0
                vh = np.uint64(0)
                if agg == DISTINCT:
                    vh = KH[r, instr[p, I_KEY]]
                    if vh == 0:
                        continue
                elif instr[p, I_VSTART] >= 0:
                    v = tmp[instr[p, I_VSTART]]
                    if v != v:
                        continue
                win = instr[p, I_WIN]
                fc = regf[reg] + instr[p, I_FCOL]
                ic = regi[reg] + instr[p, I_ICOL]
                if win == LIFE:
                    if agg == COUNT:
                        F[fc] += 1.0
                    elif agg == SUM:
                        F[fc] += v
                    elif agg == MEAN:
                        F[fc] += 1.0
                        F[fc + 1] += v
                    elif agg == MAX:
                        if F[fc] != F[fc] or v > F[fc]:
                            F[fc] = v
                    elif agg == MIN:
                        if F[fc] != F[fc] or v < F[fc]:
                            F[fc] = v
                    elif agg == PREV:
                        F[fc] = v
                    elif agg == DISTINCT:
                        bit = np.int64((vh >> np.uint64(11)) % np.uint64(instr[p, I_BITS]))
                        I[ic + (bit >> 6)] |= np.int64(1) << (bit & 63)
                    elif agg == LAST:
                        I[ic] = t
                    elif I[ic] == NONE_TIME:  # FIRST
                        I[ic] = t
                elif win == DECAY:
                    tl = I[ic]
                    d = 0.0
                    if tl != NONE_TIME:
                        # the read path's decay cache, written out again on purpose: as an inline
                        # helper returning (factor, fill) the kernel ran ~30% slower under numba
                        dt = tl - t
                        span = instr[p, I_SPAN]
                        d = -1.0
                        for c in range(e_n):
                            if e_dt[c] == dt and e_span[c] == span:
                                d = e_val[c]
                                break
                        if d < 0.0:
                            d = math.exp(dt * (LN2 / span))
                            if e_n < EXP_CACHE:
                                e_dt[e_n] = dt
                                e_span[e_n] = span
                                e_val[e_n] = d
                                e_n += 1
                    if agg == COUNT:
                        F[fc] = F[fc] * d + 1.0
                    elif agg == SUM:
                        F[fc] = F[fc] * d + v
                    elif agg == MEAN:
                        F[fc] = F[fc] * d + 1.0
                        F[fc + 1] = F[fc + 1] * d + v
                    elif agg == MAX:
                        m = F[fc] * d
                        F[fc] = v if (m != m or v > m) else m
                    elif agg == MIN:
                        m = F[fc] * d
                        F[fc] = v if (m != m or v < m) else m
                    I[ic] = t
                elif win == EXACT or win == PEND:
                    # (compiled away without list windows, see READ)
                    if PT is not None:
                        # the read's advance again (so a list stays bounded when no stream reads its key),
                        # then the event is appended as the newest young node
                        m = t - instr[p, I_DELAY]
                        if win == EXACT:
                            young = I[ic + 1]
                            while young >= 0 and PT[young] <= m:
                                x = PV[young]
                                F[fc] += 1.0
                                F[fc + 1] += x
                                if I[ic + 3] != 0 and (F[fc + 2] != F[fc + 2] or (
                                        agg == MAX and x > F[fc + 2]) or (agg == MIN and x < F[fc + 2])):
                                    F[fc + 2] = x
                                young = PN[young]
                            I[ic + 1] = young
                            node = I[ic]
                            while node >= 0 and node != young and PT[node] <= m - instr[p, I_SPAN]:
                                F[fc] -= 1.0
                                F[fc + 1] -= PV[node]
                                if PV[node] == F[fc + 2]:
                                    I[ic + 3] = 0  # the max (min) leaves: the next read rescans the window
                                nxt = PN[node]
                                PN[node] = pool[P_FREE]
                                pool[P_FREE] = node
                                pool[P_FREE_COUNT] += 1
                                node = nxt
                            I[ic] = node
                            if node < 0:
                                I[ic + 2] = NO_NODE
                            if F[fc] <= 0.0:
                                F[fc] = 0.0
                                F[fc + 1] = 0.0
                                F[fc + 2] = np.nan
                                I[ic + 3] = 1
                            tail = ic + 2
                        else:
                            node = I[ic]
                            while node >= 0 and PT[node] <= m:
                                x = PV[node]
                                F[fc] += 1.0
                                F[fc + 1] += x
                                if F[fc + 2] != F[fc + 2] or (agg == MAX and x > F[fc + 2]) or (
                                        agg == MIN and x < F[fc + 2]):
                                    F[fc + 2] = x
                                nxt = PN[node]
                                PN[node] = pool[P_FREE]
                                pool[P_FREE] = node
                                pool[P_FREE_COUNT] += 1
                                node = nxt
                            I[ic] = node
                            if node < 0:
                                I[ic + 1] = NO_NODE
                            tail = ic + 1
                        # capacity for every node a batch may append is ensured before the run
                        node = pool[P_FREE]
                        if node >= 0:
                            pool[P_FREE] = PN[node]
                            pool[P_FREE_COUNT] -= 1
                        else:
                            node = pool[P_USED]
                            pool[P_USED] = node + 1
                        PT[node] = t
                        PV[node] = v
                        PN[node] = NO_NODE
                        if I[tail] >= 0:
                            PN[I[tail]] = node
                        else:
                            I[ic] = node
                        I[tail] = node
                        if win == EXACT and I[ic + 1] < 0:
                            I[ic + 1] = node
                else:
                    nb = instr[p, I_B]
                    cur = t // instr[p, I_SPAN]
                    j = cur % nb
                    words = instr[p, I_WORDS]
                    if I[ic + j] != cur:
                        I[ic + j] = cur
                        if agg == DISTINCT:
                            for w in range(words):
                                I[ic + nb + j * words + w] = 0
                        elif agg == MEAN:
                            F[fc + j] = 0.0
                            F[fc + nb + j] = 0.0
                        elif agg == MAX or agg == MIN:
                            F[fc + j] = np.nan
                        else:
                            F[fc + j] = 0.0
                    if agg == COUNT:
                        F[fc + j] += 1.0
                    elif agg == SUM:
                        F[fc + j] += v
                    elif agg == MEAN:
                        F[fc + j] += 1.0
                        F[fc + nb + j] += v
                    elif agg == MAX:
                        if F[fc + j] != F[fc + j] or v > F[fc + j]:
                            F[fc + j] = v
                    elif agg == MIN:
                        if F[fc + j] != F[fc + j] or v < F[fc + j]:
                            F[fc + j] = v
                    else:
                        bit = np.int64((vh >> np.uint64(11)) % np.uint64(instr[p, I_BITS]))
                        I[ic + nb + j * words + (bit >> 6)] |= np.int64(1) << (bit & 63)
