"""Sources and sinks at the edge: record files in CSV / JSON lines / Parquet, and dead letters."""

from fraud_brain.io.deadletter import DeadLetterStore
from fraud_brain.io.files import (
    file_format,
    find_record_file,
    load_folder,
    load_kind,
    read_frame,
    read_raw,
    read_records,
    write_folder,
    write_frame,
)

__all__ = [
    "DeadLetterStore",
    "file_format",
    "find_record_file",
    "load_folder",
    "load_kind",
    "read_frame",
    "read_raw",
    "read_records",
    "write_folder",
    "write_frame",
]
