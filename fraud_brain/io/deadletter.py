"""The dead-letter store: every rejected record, with its reasons, kept for a human to fix.

One JSON line per rejected record in ``<root>/<kind>-<UTC date>.jsonl``; appends are flushed
and fsynced so a crash right after a batch never loses its rejects.

>>> import tempfile, polars as pl
>>> from fraud_brain.schema.validate import validate
>>> store = DeadLetterStore(tempfile.mkdtemp())
>>> result = validate(pl.DataFrame({"phone": ["12ab"]}), "subscriber")
>>> store.put(result, source="upload.csv")
1
>>> [entry["reasons"] for entry in store.read("subscriber")]
[["phone '12ab' is not a valid phone number"]]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from fraud_brain.errors import InputError
from fraud_brain.schema.validate import ROW, ValidationResult


class DeadLetterStore:
    """Append-only JSON-lines files of rejected records, one file per kind and UTC day."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"dead-letter folder {self.root}: cannot create it ({error.strerror})") from None

    def put(self, result: ValidationResult, source: str, received_at: datetime | None = None) -> int:
        """Store the rejected records of a validation result; returns how many were stored."""
        if result.ok:
            return 0
        when = received_at or datetime.now(UTC)
        reasons = result.errors.group_by("row", maintain_order=True).agg(pl.col("reason"))
        by_row = dict(zip(reasons["row"].to_list(), reasons["reason"].to_list(), strict=True))
        lines = []
        rejected = result.rejected
        records = {row[ROW]: row for row in rejected.iter_rows(named=True)} if rejected.height else {}
        for row, row_reasons in by_row.items():
            record = records.get(str(row), {})
            record = {k: v for k, v in record.items() if k != ROW}
            lines.append(
                orjson.dumps(
                    {
                        "kind": result.kind,
                        "source": source,
                        "row": row,
                        "received_at": when.isoformat(),
                        "reasons": row_reasons,
                        "record": record,
                    }
                )
            )
        path = self.root / f"{result.kind}-{when:%Y-%m-%d}.jsonl"
        with path.open("ab") as handle:
            handle.write(b"\n".join(lines) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        return len(lines)

    def read(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        """Every stored entry (optionally of one kind), oldest file first."""
        pattern = f"{kind}-*.jsonl" if kind else "*.jsonl"
        for path in sorted(self.root.glob(pattern)):
            with path.open("rb") as handle:
                for line in handle:
                    if line.strip():
                        yield orjson.loads(line)

    def count(self, kind: str | None = None) -> int:
        """How many entries are stored."""
        return sum(1 for _ in self.read(kind))
