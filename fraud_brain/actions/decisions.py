"""The decision frame the rules layer hands to the actions layer: its columns, a builder, a reader.

>>> REQUIRED_COLUMNS[:3]
('event_id', 'time', 'rule')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from fraud_brain.errors import InputError, MissingInputError, first_line
from fraud_brain.rules.ruleset import HIT_SCHEMA

REQUIRED_COLUMNS = (
    "event_id",
    "time",
    "rule",
    "priority",
    "tier",
    "actions",
    "victim_key",
    "entity_key",
    "typology",
    "mode",
    "score",
    "reasons",
)
"""Columns every decision frame has (the rules layer's output contract)."""
TRANSFER_COLUMNS = ("payee_account", "payee_bank", "amount", "transfer_id")
"""Columns decisions on transfers add; optional in a frame."""
VICTIM_KIND_COLUMN = "victim_kind"
"""Optional column saying what ``victim_key`` is: ``"phone"`` or ``"account"`` (a transfer whose
bank sent no payer phone). Absent or null means ``"phone"``: every victim was one before it existed."""
OPTIONAL_COLUMNS = (VICTIM_KIND_COLUMN, *TRANSFER_COLUMNS)
"""Columns a decision frame may lack; readers add them as nulls."""
DECISION_SCHEMA = pl.Schema(
    {name: HIT_SCHEMA[name] for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
)
"""The decision frame the rules layer hands over (transfer columns may be absent or null)."""


class DecisionError(InputError):
    """A decision frame that does not meet the rules-layer contract.

    >>> isinstance(DecisionError("decision e1 (rule r): tier 'x' ..."), InputError)
    True
    """


class NoVictimError(DecisionError):
    """A decision naming neither the victim's phone number nor their account: no case can hold it.

    >>> isinstance(NoVictimError("decision e1 (rule r): no victim"), DecisionError)
    True
    """


def decision_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    """A typed decision frame from dicts; unspecified fields get neutral defaults.

    Defaults: priority 1, tier ``"hour"``, actions ``["voice_bot"]``, mode ``"active"``,
    score 0.5, no reasons, no typology, no transfer, victim_kind ``"phone"``.

    >>> from datetime import datetime, timezone
    >>> frame = decision_frame([{"event_id": "e1", "time": datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...                          "victim_key": "13800000001"}])
    >>> frame.row(0, named=True)["actions"], frame.schema["time"], frame["victim_kind"][0]
    (['voice_bot'], Datetime(time_unit='ms', time_zone='UTC'), 'phone')
    """
    defaults: dict[str, Any] = {
        "rule": "rule",
        "priority": 1,
        "tier": "hour",
        "actions": ["voice_bot"],
        "victim_kind": "phone",
        "entity_key": None,
        "typology": None,
        "mode": "active",
        "score": 0.5,
        "reasons": [],
        "payee_account": None,
        "payee_bank": None,
        "amount": None,
        "transfer_id": None,
    }
    unknown = sorted({k for r in records for k in r} - set(DECISION_SCHEMA))
    if unknown:
        raise DecisionError(f"decision field(s) {unknown} unknown; expected some of {list(DECISION_SCHEMA)}")
    rows = [{**defaults, **record} for record in records]
    try:
        return pl.DataFrame(rows, schema=DECISION_SCHEMA)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as error:
        raise DecisionError(f"decisions do not fit the decision schema: {first_line(error)}") from None


def read_decisions(path: str | Path) -> pl.DataFrame:
    """Read decisions from Parquet or JSON lines (``.jsonl``/``.ndjson``), typed like :data:`DECISION_SCHEMA`.

    Columns beyond the contract are kept; missing optional columns (victim_kind, transfer) are added as nulls.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
    >>> _ = path.write_text('{"event_id": "e1", "time": "2026-03-01T09:00:00Z", "rule": "r", "priority": 1, '
    ...     '"tier": "hour", "actions": ["voice_bot"], "victim_key": "138", "entity_key": null, "typology": null, '
    ...     '"mode": "active", "score": 0.7, "reasons": []}')
    >>> read_decisions(path).select("time", "amount").row(0)
    (datetime.datetime(2026, 3, 1, 9, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), None)
    """
    path = Path(path)
    if path.suffix not in (".parquet", ".jsonl", ".ndjson"):
        raise DecisionError(f"{path}: decisions must be a .parquet or .jsonl file")
    if not path.is_file():
        raise MissingInputError(f"decision file {path} does not exist")
    try:
        frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_ndjson(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise DecisionError(f"{path}: not a readable {path.suffix[1:]} decision file ({first_line(error)})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DecisionError(f"{path}: decision file is missing column(s) {missing}")
    for column in OPTIONAL_COLUMNS:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=DECISION_SCHEMA[column]).alias(column))
    time = frame.schema["time"]
    if time == pl.String:
        frame = frame.with_columns(pl.col("time").str.to_datetime(time_unit="ms", time_zone="UTC"))
    elif isinstance(time, pl.Datetime) and time.time_zone is None:
        frame = frame.with_columns(pl.col("time").dt.replace_time_zone("UTC"))
    try:
        return frame.with_columns([pl.col(c).cast(DECISION_SCHEMA[c]) for c in DECISION_SCHEMA])
    except pl.exceptions.PolarsError as error:
        raise DecisionError(f"{path}: decision columns have the wrong types: {error}") from None
