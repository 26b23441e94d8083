"""The dead-letter store keeps every rejected record with its reasons, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from fraud_brain.io import DeadLetterStore
from fraud_brain.schema.validate import validate


def test_rejected_records_are_stored_with_all_their_reasons(tmp_path):
    raw = pl.DataFrame(
        {
            "transfer_id": ["t1", "t2", "t3"],
            "time": ["2026-11-01T08:00:00Z", "never", "2026-11-01T08:00:00Z"],
            "payer_account": ["A1", "A2", "A3"],
            "payee_account": ["B1", "B2", "B3"],
            "payee_bank": ["ICBC", "ICBC", "ICBC"],
            "amount": ["5", "-5", "7"],
            "channel": ["atm", "atm", "atm"],
        }
    )
    store = DeadLetterStore(tmp_path)
    when = datetime(2026, 11, 29, 3, tzinfo=UTC)
    assert store.put(validate(raw, "transfer"), source="bank-a", received_at=when) == 1
    assert store.put(validate(raw.head(1), "transfer"), source="bank-a") == 0
    reopened = DeadLetterStore(tmp_path)
    [entry] = list(reopened.read("transfer"))
    assert entry["source"] == "bank-a"
    assert entry["row"] == 1
    assert entry["record"]["transfer_id"] == "t2"
    assert entry["reasons"] == ["time 'never' is not a valid time (ISO 8601 expected)", "amount -5 must be > 0"]
    assert (tmp_path / "transfer-2026-11-29.jsonl").exists()
    assert reopened.count() == 1
