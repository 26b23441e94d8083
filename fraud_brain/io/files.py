"""Record files: CSV, JSON lines and Parquet, read raw and validated, written typed.

The format is chosen by the file's suffix (``.csv``, ``.jsonl``/``.ndjson``, ``.parquet``).
Reading never trusts a file: CSV is read as text, JSON lines line by line when a line is
broken, and every record goes through :func:`fraud_brain.schema.validate.validate`.

>>> import tempfile, pathlib, polars as pl
>>> from fraud_brain.schema import TRANSFERS
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> frame = pl.DataFrame({"transfer_id": ["t1"], "time": ["2026-11-01T08:00:00Z"],
...     "payer_account": ["A1"], "payee_account": ["B1"], "payee_bank": ["ICBC"],
...     "amount": [99.0], "channel": ["mobile_app"]})
>>> write_frame(frame, folder / "t.csv")
>>> result = read_records(folder / "t.csv", "transfer")
>>> write_frame(result.valid, folder / "t.jsonl")
>>> read_records(folder / "t.jsonl", "transfer").valid.equals(result.valid)
True
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl

from fraud_brain.schema.records import RecordSchema, schema_for
from fraud_brain.schema.validate import ValidationResult, validate

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
"""File suffix → format name."""

_CSV_TIME = "%Y-%m-%dT%H:%M:%S%.3fZ"


def file_format(path: str | Path) -> str:
    """The format of a record file, from its suffix.

    >>> file_format("calls.parquet"), file_format("x/transfers.jsonl")
    ('parquet', 'jsonl')
    """
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise ValueError(
            f"{path}: unknown file type {suffix!r}; expected one of {', '.join(sorted(FORMATS))}"
        ) from None


def find_record_file(directory: str | Path, name: str) -> Path | None:
    """The file ``name.<suffix>`` in a folder, in any supported format, or None.

    >>> find_record_file("/nonexistent", "calls") is None
    True
    """
    folder = Path(directory)
    for suffix in (".parquet", ".jsonl", ".ndjson", ".csv", ".json"):
        candidate = folder / f"{name}{suffix}"
        if candidate.exists():
            return candidate
    return None


def read_raw(path: str | Path) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Read a record file without interpreting it.

    Returns the records (CSV: every column as text) and the lines that could not be parsed at
    all, as (line number, reason) pairs; those never reach validation.
    """
    path = Path(path)
    fmt = file_format(path)
    if fmt == "parquet":
        return pl.read_parquet(path), []
    if fmt == "csv":
        return pl.read_csv(path, infer_schema=False), []
    return _read_jsonl(path)


def _read_jsonl(path: Path) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    try:
        return pl.read_ndjson(path, infer_schema_length=None), []
    except Exception:  # noqa: BLE001 - a broken line anywhere; find it line by line below
        pass
    rows: list[dict] = []
    broken: list[tuple[int, str]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                broken.append((number, f"line {number}: not valid JSON ({error})"))
                continue
            if not isinstance(value, dict):
                broken.append((number, f"line {number}: expected a JSON object"))
                continue
            rows.append({k: (None if v is None else str(v) if not isinstance(v, str) else v) for k, v in value.items()})
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(), broken


def read_records(path: str | Path, kind: str | RecordSchema) -> ValidationResult:
    """Read and validate a file of records of one kind.

    Unparseable lines (broken JSON) come back as errors too, with their line number.
    """
    frame, broken = read_raw(path)
    result = validate(frame, kind)
    if not broken:
        return result
    extra = pl.DataFrame(
        {
            "row": [number - 1 for number, _ in broken],
            "record_id": [None] * len(broken),
            "field": ["<line>"] * len(broken),
            "reason": [reason for _, reason in broken],
        },
        schema=result.errors.schema,
    )
    return ValidationResult(result.kind, result.valid, pl.concat([result.errors, extra]), result.rejected)


def read_frame(path: str | Path, kind: str | RecordSchema) -> pl.DataFrame:
    """Read a file of records that must be entirely valid (e.g. the bundled sample).

    Raises ``ValueError`` listing the first problems when any record is bad.
    """
    result = read_records(path, kind)
    if not result.ok:
        shown = "\n  ".join(result.messages()[:10])
        more = result.errors.height - 10
        tail = f"\n  … and {more} more" if more > 0 else ""
        raise ValueError(f"{path}: {result.errors.height} bad record(s):\n  {shown}{tail}")
    return result.valid


def write_frame(frame: pl.DataFrame, path: str | Path) -> None:
    """Write a frame in the format named by the path's suffix (parent folders are created)."""
    path = Path(path)
    fmt = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.write_parquet(path, compression="zstd", statistics=True)
        return
    text = frame.with_columns(
        pl.col(pl.Datetime).dt.convert_time_zone("UTC").dt.strftime(_CSV_TIME)
    )
    if fmt == "csv":
        text.write_csv(path)
    else:
        text.write_ndjson(path)


def load_folder(directory: str | Path, required: tuple[str, ...] = ()) -> dict[str, pl.DataFrame]:
    """Every record kind found in a data folder (calls, transfers, subscribers, labels), validated.

    Raises ``FileNotFoundError`` when the folder holds none of them, or lacks a ``required`` kind.

    >>> load_folder("/nonexistent")
    Traceback (most recent call last):
    ...
    FileNotFoundError: /nonexistent: no calls/transfers/subscribers/labels files found
    """
    from fraud_brain.schema.records import SCHEMAS

    frames = {}
    for kind in SCHEMAS:
        frame = load_kind(directory, kind)
        if frame is not None:
            frames[kind] = frame
    if not frames:
        raise FileNotFoundError(f"{directory}: no calls/transfers/subscribers/labels files found")
    for kind in required:
        if kind not in frames:
            raise FileNotFoundError(f"data folder {directory}: no {kind}s file ({kind}s.parquet/.csv/.jsonl)")
    return frames


DEFAULT_FILE_NAMES = {"call": "calls", "transfer": "transfers", "subscriber": "subscribers", "label": "labels"}
"""The file name (without suffix) of each built-in record kind in a data folder."""


def load_kind(directory: str | Path, kind: str | RecordSchema, name: str | None = None) -> pl.DataFrame | None:
    """Read ``<name>.*`` of one kind from a data folder, validated; None when absent.

    Without a ``name``, a built-in kind's file is its plural (``calls.parquet``); a kind a spec
    declares is read from ``<kind>.*`` or ``<kind>s.*``.

    >>> load_kind("/nonexistent", "call") is None
    True
    """
    schema = schema_for(kind) if isinstance(kind, str) else kind
    names = [name] if name else [DEFAULT_FILE_NAMES[schema.kind]] if schema.kind in DEFAULT_FILE_NAMES else [
        schema.kind, schema.kind + "s"]
    for candidate in names:
        found = find_record_file(directory, candidate)
        if found is not None:
            return read_frame(found, schema)
    return None
