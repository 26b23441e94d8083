"""Decoding bulk request bodies into polars frames: JSON, JSON lines, Arrow IPC and Parquet.

Records are decoded column-wise by polars/orjson, never into one pydantic object per record,
so a batch of thousands costs milliseconds. Every value of a JSON body is read as text-or-number
as given; typing and checks are :func:`fraud_brain.schema.validate.validate`'s job.

>>> frame = decode_records(b'[{"a": 1, "b": "x"}, {"a": 2}]', "application/json")
>>> frame.to_dicts()
[{'a': 1, 'b': 'x'}, {'a': 2, 'b': None}]
>>> decode_records(b'{"a": 1}\\n{"a": 2}\\n', "application/x-ndjson")["a"].to_list()
[1, 2]
"""

from __future__ import annotations

import io

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pa_parquet

from fraud_brain.errors import InputError

JSON_TYPES = ("application/json", "text/json")
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/x-jsonlines")
ARROW_TYPES = ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file", "application/x-arrow")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")
CONTENT_TYPES = JSON_TYPES + JSONL_TYPES + ARROW_TYPES + PARQUET_TYPES
"""Every body type bulk endpoints accept."""


class BodyError(InputError):
    """A body that cannot be decoded; the message says where (record index, line, format)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _media_type(content_type: str | None) -> str:
    return (content_type or "application/json").split(";")[0].strip().lower()


def _frame_from_dicts(records: list, where: str) -> pl.DataFrame:
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise BodyError(f"{where} {i}: expected a JSON object, got {type(record).__name__}", 422)
    if not records:
        return pl.DataFrame()
    # Nested values are kept as their JSON text, so validation reports them as bad values, not a crash.
    rows = [
        {k: (orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v) for k, v in r.items()}
        for r in records
    ]
    try:
        return pl.DataFrame(rows, infer_schema_length=None, strict=False)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
        # Mixed value types in one field (a number here, text there): read everything as text.
        text_rows = [{k: None if v is None else str(v) for k, v in r.items()} for r in rows]
        return pl.DataFrame(text_rows, infer_schema_length=None)


def _fast(reader, body: bytes) -> pl.DataFrame | None:
    """polars' own JSON reader (several times faster than building rows in Python), or None when the
    body needs the careful path: it does not parse, or holds nested values or non-object records."""
    try:
        frame = reader(io.BytesIO(body), infer_schema_length=None)
    except Exception:
        return None
    if frame.width == 0 or any(dtype.is_nested() or (dtype == pl.Null and frame.height == 0) for dtype in frame.dtypes):
        return None
    return frame


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def _from_arrow(table: pa.Table, what: str) -> pl.DataFrame:
    """A polars frame of an Arrow table, refusing what a frame of records cannot be."""
    names = table.column_names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BodyError(f"{what}: column(s) {', '.join(map(repr, repeated))} appear more than once", 422)
    try:
        frame = pl.from_arrow(table, rechunk=False)
    except Exception as error:
        raise BodyError(f"{what}: unsupported column type: {_first_line(error)}", 422) from None
    if not isinstance(frame, pl.DataFrame):
        raise BodyError(f"{what}: expected a table of records", 422)
    return frame


def decode_records(body: bytes, content_type: str | None) -> pl.DataFrame:
    """A frame of records from a request body of the given content type.

    JSON bodies are an array of objects or ``{"records": [...]}``.

    >>> decode_records(b'{"records": [{"a": "1"}]}', None).height
    1
    >>> try:
    ...     decode_records(b"[1, 2]", "application/json")
    ... except BodyError as error:
    ...     print(error)
    record 0: expected a JSON object, got int
    """
    media = _media_type(content_type)
    if media in JSON_TYPES:
        if body.lstrip()[:1] == b"[" and (fast := _fast(pl.read_json, body)) is not None:
            return fast
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise BodyError(f"body is not valid JSON: {error}") from None
        if isinstance(data, dict) and "records" in data:
            data = data["records"]
        if not isinstance(data, list):
            raise BodyError("JSON body must be an array of records or an object with a 'records' array", 422)
        return _frame_from_dicts(data, "record")
    if media in JSONL_TYPES:
        if (fast := _fast(pl.read_ndjson, body)) is not None:
            return fast
        records = []
        for line_no, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as error:
                raise BodyError(f"JSON lines body, line {line_no}: not valid JSON ({error})") from None
        return _frame_from_dicts(records, "record")
    if media in ARROW_TYPES:
        kind = "stream" if media.endswith("stream") else "file"
        try:
            # pyarrow checks the message framing and schema before anything is converted;
            # polars' own IPC reader can abort the process on a malformed batch
            reader = pa_ipc.open_stream(body) if kind == "stream" else pa_ipc.open_file(body)
            table = reader.read_all()
        except Exception as error:
            raise BodyError(f"body is not a valid Arrow IPC {kind}: {_first_line(error)}") from None
        return _from_arrow(table, f"Arrow IPC {kind}")
    if media in PARQUET_TYPES:
        try:
            table = pa_parquet.read_table(io.BytesIO(body))
        except Exception as error:
            raise BodyError(f"body is not a valid Parquet file: {_first_line(error)}") from None
        return _from_arrow(table, "Parquet file")
    raise BodyError(f"content type {media!r} not supported; send one of {list(CONTENT_TYPES)}", 415)
