"""Arrow IPC bytes for WAL payloads: a record batch (or table) in, the same table out.

>>> import pyarrow as pa  # type: ignore[import-untyped]
>>> table = pa.table({"call_id": ["c1", "c2"], "duration_s": [12.0, 40.5]})
>>> ipc_to_table(table_to_ipc(table)).equals(table)
True
"""

from __future__ import annotations

import pyarrow as pa  # type: ignore[import-untyped]

from fraud_brain.errors import StateError


def table_to_ipc(data: pa.Table | pa.RecordBatch) -> bytes:
    """The Arrow IPC stream bytes of a table or record batch (schema included)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write(data)
    data_bytes: bytes = sink.getvalue().to_pybytes()
    return data_bytes


def ipc_to_table(payload: bytes) -> pa.Table:
    """The table in Arrow IPC stream bytes; unreadable bytes raise :class:`StateError`."""
    try:
        return pa.ipc.open_stream(payload).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise StateError(f"WAL payload of {len(payload)} bytes is not an Arrow IPC stream: {exc}") from exc
