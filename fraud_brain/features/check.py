"""Check a spec against real record files: every column it names must be in the data.

``fraud-brain features check SPEC --data FILE_OR_FOLDER`` runs this after the spec loaded (which
already checked the streams whose record schema is known). A folder is searched for each
stream's file the way ``features replay`` finds it; a single file is matched to a stream by its
name (or given with ``stream``).

>>> import tempfile, polars as pl
>>> from pathlib import Path
>>> from fraud_brain.features.spec import load_spec_text
>>> spec = load_spec_text('''
... [streams.tx]
... id = "tx_id"
... time = "time"
... passthrough = ["shop"]
... ''', "shop.toml")
>>> path = Path(tempfile.mkdtemp()) / "tx.csv"
>>> pl.DataFrame({"tx_id": ["a"], "time": ["2026-01-01T00:00:00Z"], "shops": ["s"]}).write_csv(path)
>>> for problem in check_data(spec, path).problems:
...     print(problem.split(": ", 1)[1])
[streams.tx] key 'passthrough': unknown column 'shop' of stream 'tx': not a column of tx.csv;
did you mean 'shops'?
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fraud_brain.errors import InputError, MissingInputError
from fraud_brain.features.spec import Spec, check_columns
from fraud_brain.io.files import DEFAULT_FILE_NAMES, file_format, find_record_file


@dataclass
class DataCheck:
    """What :func:`check_data` found: files checked per stream or table, and the problems."""

    files: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


def file_columns(path: Path) -> list[str]:
    """The column names of a record file, read from its header (Parquet schema, CSV header, first JSON lines).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = p.write_text('{"a": 1, "b": 2}\\n')
    >>> file_columns(p)
    ['a', 'b']
    """
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            return list(pl.read_parquet_schema(path))
        if fmt == "csv":
            return pl.scan_csv(path, infer_schema=False).collect_schema().names()
        return pl.scan_ndjson(path, infer_schema_length=1000).collect_schema().names()
    except (OSError, pl.exceptions.PolarsError) as err:
        raise MissingInputError(f"{path}: cannot read its columns: {err}") from None


def stream_file_names(spec: Spec, stream: str) -> list[str]:
    """File names (without suffix) a stream's records are looked for under, in order.

    >>> from fraud_brain.features.spec import bundled_spec
    >>> stream_file_names(bundled_spec("telecom"), "call")
    ['calls', 'call']
    """
    kind = spec.streams[stream].schema
    names: list[str] = []
    if kind is not None:
        names += [DEFAULT_FILE_NAMES[kind]] if kind in DEFAULT_FILE_NAMES else [kind, kind + "s"]
    names += [stream, stream + "s"]
    return list(dict.fromkeys(names))


def check_data(spec: Spec, data: str | Path, stream: str | None = None) -> DataCheck:
    """Check every column the spec names against a record file or a folder of them."""
    path = Path(data)
    result = DataCheck()
    if stream is not None and stream not in spec.streams:
        raise InputError(f"{spec.source}: no stream {stream!r}; streams: {', '.join(spec.stream_names())}")
    if path.is_dir():
        for name in spec.stream_names() if stream is None else [stream]:
            found = next((f for n in stream_file_names(spec, name) if (f := find_record_file(path, n))), None)
            if found is not None:
                result.files[name] = found
        for join in spec.joins:
            table = find_record_file(path, join.table)
            if table is not None:
                columns = file_columns(table)
                result.files[f"reference table {join.table}"] = table
                for column in (join.key, *(src for _, src in join.columns)):
                    if column not in columns:
                        result.problems.append(f"{spec.source}: [[join]] of table {join.table!r}: "
                                               f"{table.name} has no column {column!r}")
        if not result.files:
            wanted = {s: stream_file_names(spec, s) for s in spec.stream_names()}
            raise MissingInputError(f"{path}: no record file for any stream of {spec.source} "
                                    f"(looked for {wanted})")
    elif path.is_file():
        name = stream or _stream_of_file(spec, path)
        result.files[name] = path
    else:
        raise MissingInputError(f"{path}: no such file or folder")
    for name, file in result.files.items():
        if name in spec.streams:
            result.problems += check_columns(spec, name, file_columns(file), file.name)
    return result


def _stream_of_file(spec: Spec, path: Path) -> str:
    stem = path.name.split(".")[0]
    matches = [s for s in spec.stream_names() if stem in stream_file_names(spec, s)]
    if len(matches) == 1:
        return matches[0]
    if len(spec.streams) == 1:
        return spec.stream_names()[0]
    raise InputError(f"{path}: which stream's records are these? Name the file after a stream "
                            f"({', '.join(spec.stream_names())}) or give --stream")
