"""Arrow IPC payloads: the sample's records survive the trip through bytes; garbage is a StateError."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraud_brain.durability.codec import ipc_to_table, table_to_ipc
from fraud_brain.durability.wal import WriteAheadLog
from fraud_brain.errors import StateError


def test_sample_batches_round_trip_through_the_log(tmp_path: Path, sample_dir: Path) -> None:
    transfers = pq.read_table(sample_dir / "transfers.parquet").slice(0, 1000)
    calls = pq.read_table(sample_dir / "calls.parquet").slice(0, 1000)
    with WriteAheadLog(tmp_path) as wal:
        wal.append(table_to_ipc(transfers), header="transfer")
        wal.append(table_to_ipc(calls.to_batches()[0]), header="call")
    with WriteAheadLog(tmp_path) as wal:
        entries = list(wal.replay())
    assert [e.header for e in entries] == ["transfer", "call"]
    assert ipc_to_table(entries[0].payload).equals(transfers)
    assert ipc_to_table(entries[1].payload).equals(pa.Table.from_batches([calls.to_batches()[0]]))


def test_bytes_that_are_not_arrow_are_a_state_error() -> None:
    with pytest.raises(StateError, match="12 bytes is not an Arrow IPC stream"):
        ipc_to_table(b"not arrow!!!")
