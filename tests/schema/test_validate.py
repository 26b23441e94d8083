"""Validation: each kind of bad record gets its reason, good records survive typed."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.schema import CALLS, LABELS, SUBSCRIBERS, TRANSFERS
from fraud_brain.schema.validate import validate

GOOD_CALL = {
    "call_id": "c1",
    "start_time": "2026-11-01T08:00:00Z",
    "caller": "13800000001",
    "callee": "13900000002",
    "duration_s": "65",
    "disposition": "answered",
    "caller_type": "mobile",
    "device_id": "imei-1",
    "cell_id": "cell-9",
    "region": "Xihu",
    "sim_age_days": "400",
}
GOOD_TRANSFER = {
    "transfer_id": "t1",
    "time": "2026-11-01T08:05:00+08:00",
    "payer_account": "A100",
    "payer_phone": "13900000002",
    "payee_account": "B200",
    "payee_bank": "ICBC",
    "amount": "1200.50",
    "channel": "mobile_app",
    "device_id": None,
}
GOOD_SUBSCRIBER = {
    "phone": "13900000002",
    "age_band": "65-74",
    "district": "Xihu",
    "activation_date": "2019-03-01",
    "account": "A100",
}
GOOD_LABEL = {
    "label_id": "l1",
    "entity_type": "transfer",
    "entity_id": "t1",
    "is_fraud": "true",
    "typology": "impersonating_police",
    "known_at": "2026-11-03 10:00:00",
    "source": "victim_report",
}

# (kind, good record, field, bad value, expected reason)
BAD_CASES = [
    ("call", GOOD_CALL, "call_id", None, "call_id is required"),
    ("call", GOOD_CALL, "call_id", "has space", "call_id 'has space' is not a valid id"),
    ("call", GOOD_CALL, "start_time", "yesterday", "start_time 'yesterday' is not a valid time"),
    ("call", GOOD_CALL, "start_time", "2026-02-30T00:00:00", "is not a valid time"),
    ("call", GOOD_CALL, "caller", "12ab", "caller '12ab' is not a valid phone number"),
    ("call", GOOD_CALL, "duration_s", "-3", "duration_s -3 must be >= 0"),
    ("call", GOOD_CALL, "duration_s", "12.5", "duration_s '12.5' is not a whole number"),
    ("call", GOOD_CALL, "duration_s", "100000", "duration_s 100000 must be <= 86400"),
    ("call", GOOD_CALL, "disposition", "hung_up", "disposition 'hung_up' is not one of answered/"),
    ("call", GOOD_CALL, "caller_type", "", "caller_type is required"),
    ("call", GOOD_CALL, "sim_age_days", "-1", "sim_age_days -1 must be >= 0"),
    ("transfer", GOOD_TRANSFER, "amount", "-5", "amount -5 must be > 0"),
    ("transfer", GOOD_TRANSFER, "amount", "0", "amount 0 must be > 0"),
    ("transfer", GOOD_TRANSFER, "amount", "lots", "amount 'lots' is not a number"),
    ("transfer", GOOD_TRANSFER, "channel", "pigeon", "channel 'pigeon' is not one of"),
    ("transfer", GOOD_TRANSFER, "payer_phone", "phone", "payer_phone 'phone' is not a valid phone number"),
    ("transfer", GOOD_TRANSFER, "payee_account", None, "payee_account is required"),
    ("subscriber", GOOD_SUBSCRIBER, "age_band", "old", "age_band 'old' is not one of"),
    ("subscriber", GOOD_SUBSCRIBER, "activation_date", "03/01/2019", "is not a valid date"),
    ("label", GOOD_LABEL, "is_fraud", "maybe", "is_fraud 'maybe' is not true or false"),
    ("label", GOOD_LABEL, "entity_type", "person", "entity_type 'person' is not one of"),
]


@pytest.mark.parametrize(("kind", "good", "field", "value", "expected"), BAD_CASES)
def test_each_bad_field_gets_its_reason_and_good_records_survive(kind, good, field, value, expected):
    bad = dict(good, **{field: value})
    other = dict(good)
    id_field = {"call": "call_id", "transfer": "transfer_id", "subscriber": "phone", "label": "label_id"}[kind]
    if field != id_field:
        bad[id_field] = "bad-one" if kind != "subscriber" else "13700000000"
    raw = pl.DataFrame([other, bad, other], schema={k: pl.String for k in good})
    result = validate(raw, kind)
    assert result.valid.height == 2
    assert result.errors.height == 1
    row = result.errors.row(0, named=True)
    assert row["row"] == 1
    assert row["field"] == field
    assert expected in row["reason"]
    assert result.messages()[0].startswith(f"{kind} 1")
    assert result.rejected.height == 1


def test_valid_records_are_typed_to_the_schema():
    for kind, good, schema in [
        ("call", GOOD_CALL, CALLS),
        ("transfer", GOOD_TRANSFER, TRANSFERS),
        ("subscriber", GOOD_SUBSCRIBER, SUBSCRIBERS),
        ("label", GOOD_LABEL, LABELS),
    ]:
        result = validate(pl.DataFrame([good], schema={k: pl.String for k in good}), kind)
        assert result.ok, result.messages()
        assert result.valid.schema == schema.polars_schema()


def test_times_with_offsets_are_converted_to_utc():
    raw = pl.DataFrame([GOOD_TRANSFER], schema={k: pl.String for k in GOOD_TRANSFER})
    result = validate(raw, "transfer")
    assert result.valid["time"][0] == datetime(2026, 11, 1, 0, 5, tzinfo=UTC)


def test_missing_required_column_fails_every_record_but_optional_columns_may_be_absent():
    raw = pl.DataFrame({k: [v] for k, v in GOOD_CALL.items() if k not in ("caller", "region")})
    result = validate(raw, "call")
    assert result.valid.height == 0
    assert result.messages() == ["call 0 (c1): caller is required"]
    raw = pl.DataFrame({k: [v] for k, v in GOOD_CALL.items() if k != "region"})
    assert validate(raw, "call").ok


def test_several_problems_in_one_record_are_all_reported_in_schema_order():
    bad = dict(GOOD_TRANSFER, amount="-1", channel="x", payer_account=None)
    result = validate(pl.DataFrame([bad], schema={k: pl.String for k in bad}), "transfer")
    assert result.errors["field"].to_list() == ["payer_account", "amount", "channel"]


def test_typed_input_is_accepted_as_it_is():
    typed = pl.DataFrame(
        {
            "transfer_id": ["t1"],
            "time": [datetime(2026, 11, 1, 8)],
            "payer_account": ["A1"],
            "payee_account": ["B1"],
            "payee_bank": ["ICBC"],
            "amount": [10],
            "channel": ["atm"],
        }
    )
    result = validate(typed, "transfer")
    assert result.ok
    assert result.valid["time"][0] == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert result.valid["amount"].dtype == pl.Float64


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(-1000, 10**6)), min_size=0, max_size=40))
def test_good_records_survive_in_order_whatever_the_mix(spec):
    """Random mixes of good and bad amounts: exactly the good ones survive, in order."""
    rows = []
    for i, (break_it, cents) in enumerate(spec):
        amount = str(cents / 100) if not break_it else ("-1" if cents % 2 else "n/a")
        rows.append(dict(GOOD_TRANSFER, transfer_id=f"t{i}", amount=amount))
    raw = pl.DataFrame(rows, schema={k: pl.String for k in GOOD_TRANSFER})
    result = validate(raw, "transfer")
    expected_good = [f"t{i}" for i, (b, c) in enumerate(spec) if not b and c > 0]
    assert result.valid["transfer_id"].to_list() == expected_good
    assert set(result.errors["record_id"].to_list()) == {r["transfer_id"] for r in rows} - set(expected_good)
    assert result.valid.height + result.rejected.height == len(rows)


def test_unknown_kind_is_a_readable_error():
    with pytest.raises(ValueError, match="unknown record kind 'sms'"):
        validate(pl.DataFrame(), "sms")
