"""The single-record quick check never calls a record valid that the full validator rejects."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.schema.quick import obviously_valid
from fraud_brain.schema.records import CALLS, SUBSCRIBERS, TRANSFERS, RecordSchema
from fraud_brain.schema.validate import validate

TRANSFER = {"transfer_id": "t-1", "time": "2026-11-01T08:00:00Z", "payer_account": "A1", "payer_phone": "13800000001",
            "payee_account": "B1", "payee_bank": "ICBC", "amount": 120.5, "channel": "mobile_app", "device_id": "d1"}
CALL = {"call_id": "c-1", "start_time": "2026-11-01T08:00:00.250+08:00", "caller": "+8617012345678",
        "callee": "13800000001", "duration_s": 1500, "disposition": "answered", "caller_type": "mobile",
        "sim_age_days": 3}
SUBSCRIBER = {"phone": "13800000001", "age_band": "65-74", "district": "d-1", "activation_date": "2024-02-29",
              "account": "A1"}

# Values close to the edge of validity, for any field.
tricky = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
    st.sampled_from([0, -1, 86_400, 86_401, 2**31, 1e10, 1e10 + 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", " ", "t-1 ", "t\n", "2026-02-30T08:00:00Z", "2026-11-01T08:00:00", "2026-11-01 08:00:00Z",
                     "2026-11-01T08:00:00+0800", "2026-11-01T24:00:00Z", "2026-11-01T08:00:00.1234567Z", "2024-02-29",
                     "2023-02-29", "mobile_app", "Mobile_app", "answered", "65-74", "+123", "12", "a" * 65, "1.5",
                     "7"]),
)


def _agrees(record: dict, schema: RecordSchema) -> None:
    if obviously_valid(record, schema):
        result = validate(pl.DataFrame([record], strict=False, infer_schema_length=None), schema)
        assert result.ok, (record, result.messages())


@given(st.sampled_from([(TRANSFER, TRANSFERS), (CALL, CALLS), (SUBSCRIBER, SUBSCRIBERS)]), st.data())
@settings(max_examples=300, deadline=None)
def test_quick_valid_implies_validator_valid(base: tuple[dict, RecordSchema], data: st.DataObject) -> None:
    record, schema = base
    changed = dict(record)
    for name in data.draw(st.lists(st.sampled_from(schema.column_names()), max_size=3, unique=True)):
        changed[name] = data.draw(tricky)
    _agrees(changed, schema)


def test_plain_records_take_the_fast_path() -> None:
    for record, schema in ((TRANSFER, TRANSFERS), (CALL, CALLS), (SUBSCRIBER, SUBSCRIBERS)):
        assert obviously_valid(record, schema)
        assert validate(pl.DataFrame([record]), schema).ok
    assert not obviously_valid({**TRANSFER, "channel": "fax"}, TRANSFERS)
    assert not obviously_valid({k: v for k, v in TRANSFER.items() if k != "amount"}, TRANSFERS)
