"""Per-entity cooldowns and shadow mode: rule hits in, decisions out.

One scam episode makes many hits (every transfer, every call); the :class:`Decider` keeps, per
(mode, cooldown group, entity), the event time of the last decision and suppresses hits that
come before that time plus the rule's cooldown (a cooldown of 0 never suppresses). Hits are taken
in event-time order across batches. Shadow rules keep their own cooldowns (so their report says
what they *would* have done) but never make an active decision. Hits without an entity value
cannot be deduplicated and always pass.

State is a plain dict, snapshot to and restored from a SQLite file so a restart does not
re-alert an episode already handled.

>>> import polars as pl
>>> from datetime import datetime, timedelta, timezone
>>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
>>> hits = pl.DataFrame({"time": [t, t + timedelta(minutes=5), t + timedelta(minutes=40)],
...     "cooldown_group": ["r"] * 3, "entity_key": ["138"] * 3, "cooldown_ms": [1_800_000] * 3,
...     "mode": ["active"] * 3})
>>> Decider().decide(hits)["status"].to_list()
['fired', 'cooldown', 'fired']
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl

from fraud_brain.errors import StateError

STATUSES = ("fired", "cooldown", "shadow", "shadow_cooldown")
"""``fired``: an active decision; ``cooldown``: suppressed; ``shadow*``: the same for shadow rules."""
_STATUS_DTYPE = pl.Enum(STATUSES)
StateKey = tuple[str, str, str]


class Decider:
    """Turns hits into decisions with per-entity cooldowns; shadow hits never become active.

    ``decide`` returns every hit, sorted by event time, with ``status`` and ``active``
    (``status == "fired"``); :meth:`active` keeps only the decisions to act on.
    """

    def __init__(self) -> None:
        self.last_fired: dict[StateKey, int] = {}
        """(mode, cooldown group, entity) -> event time (ms since epoch) of the last decision."""
        self.watermark_ms: int | None = None
        """Latest event time seen."""

    def decide(self, hits: pl.DataFrame) -> pl.DataFrame:
        """Mark each hit ``fired``/``cooldown`` (or ``shadow``/``shadow_cooldown``), in event-time order."""
        if hits.height == 0:
            return hits.with_columns(
                pl.lit(None, dtype=_STATUS_DTYPE).alias("status"),
                pl.lit(None, dtype=pl.Boolean).alias("active"),
            )
        ordered = hits.sort("time", maintain_order=True)
        times = ordered["time"].dt.epoch("ms").to_list()
        groups = ordered["cooldown_group"].to_list()
        entities = ordered["entity_key"].to_list()
        cooldowns = ordered["cooldown_ms"].to_list()
        modes = ordered["mode"].to_list()
        last_fired = self.last_fired
        statuses: list[str] = []
        rows = zip(times, groups, entities, cooldowns, modes, strict=True)
        for when, group, entity, cooldown, mode in rows:
            shadow = mode == "shadow"
            if entity is None:
                statuses.append("shadow" if shadow else "fired")
                continue
            key = (mode, group, entity)
            last = last_fired.get(key)
            # An event older than the last decision (late arrival) belongs to the episode already decided.
            if last is not None and cooldown and when < last + cooldown:
                statuses.append("shadow_cooldown" if shadow else "cooldown")
                continue
            last_fired[key] = when if last is None else max(last, when)
            statuses.append("shadow" if shadow else "fired")
        latest = max(times)
        self.watermark_ms = latest if self.watermark_ms is None else max(self.watermark_ms, latest)
        status = pl.Series("status", statuses, dtype=_STATUS_DTYPE)
        return ordered.with_columns(status, (status == "fired").alias("active"))

    def active(self, hits: pl.DataFrame) -> pl.DataFrame:
        """Only the active decisions of ``hits`` (cooldown and shadow removed), without status columns.

        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
        >>> hits = pl.DataFrame({"rule": ["live", "trial"], "time": [t, t],
        ...     "cooldown_group": ["live", "trial"], "entity_key": ["138", "138"], "cooldown_ms": [0, 0],
        ...     "mode": ["active", "shadow"]})
        >>> Decider().active(hits)["rule"].to_list()
        ['live']
        """
        decided = self.decide(hits)
        return decided.filter(pl.col("active")).drop("status", "active")

    def prune(self, older_than_ms: int) -> int:
        """Forget decisions made before ``older_than_ms`` (past every cooldown); return how many.

        >>> d = Decider(); d.last_fired = {("active", "r", "138"): 1_000, ("active", "r", "139"): 9_000}
        >>> d.prune(older_than_ms=5_000), list(d.last_fired)
        (1, [('active', 'r', '139')])
        """
        stale = [key for key, when in self.last_fired.items() if when < older_than_ms]
        for key in stale:
            del self.last_fired[key]
        return len(stale)

    def save(self, path: str | Path) -> None:
        """Snapshot the state to a SQLite file (replacing its previous snapshot atomically).

        >>> import tempfile, os
        >>> d = Decider(); d.last_fired[("active", "r", "138")] = 1_000
        >>> path = os.path.join(tempfile.mkdtemp(), "cooldowns.sqlite")
        >>> d.save(path); Decider.restore(path).last_fired
        {('active', 'r', '138'): 1000}
        """
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS cooldown (mode TEXT NOT NULL, grp TEXT NOT NULL,"
                " entity TEXT NOT NULL, last_ms INTEGER NOT NULL, PRIMARY KEY (mode, grp, entity))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)")
            db.execute("DELETE FROM cooldown")
            db.executemany(
                "INSERT INTO cooldown VALUES (?, ?, ?, ?)",
                [(*key, when) for key, when in self.last_fired.items()],
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('watermark_ms', ?)", (self.watermark_ms,))
        db.close()

    @classmethod
    def restore(cls, path: str | Path) -> Decider:
        """A decider with the state saved in ``path`` (a fresh one if the file does not exist)."""
        decider = cls()
        if not Path(path).exists():
            return decider
        db = sqlite3.connect(path)
        try:
            decider.last_fired = {(m, g, e): int(t) for m, g, e, t in db.execute("SELECT * FROM cooldown")}
            row = db.execute("SELECT value FROM meta WHERE key = 'watermark_ms'").fetchone()
            decider.watermark_ms = None if row is None or row[0] is None else int(row[0])
        except sqlite3.DatabaseError as error:
            raise StateError(f"{path}: not a cooldown snapshot ({error})") from None
        finally:
            db.close()
        return decider
