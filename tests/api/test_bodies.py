"""Body decoding: the same records in JSON, JSON lines, Arrow and Parquet decode to the same frame."""

from __future__ import annotations

import io

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.api.bodies import BodyError, decode_records

records = st.lists(
    st.fixed_dictionaries({
        "id": st.text(alphabet="abcxyz019", min_size=1, max_size=6),
        "amount": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32)),
        "n": st.integers(-(2**40), 2**40),
    }),
    min_size=1, max_size=30,
)


def _encode(rows: list[dict], fmt: str) -> tuple[bytes, str]:
    frame = pl.DataFrame(rows, schema={"id": pl.String, "amount": pl.Float64, "n": pl.Int64})
    sink = io.BytesIO()
    if fmt == "json":
        return orjson.dumps(rows), "application/json"
    if fmt == "jsonl":
        return b"\n".join(orjson.dumps(r) for r in rows), "application/x-ndjson"
    if fmt == "arrow":
        frame.write_ipc_stream(sink)
        return sink.getvalue(), "application/vnd.apache.arrow.stream"
    frame.write_parquet(sink)
    return sink.getvalue(), "application/vnd.apache.parquet"


@given(records, st.sampled_from(["json", "jsonl", "arrow", "parquet"]))
@settings(max_examples=80, deadline=None)
def test_every_format_gives_the_records_back(rows: list[dict], fmt: str) -> None:
    body, media = _encode(rows, fmt)
    frame = decode_records(body, media)
    got = frame.select(pl.col("id"), pl.col("amount").cast(pl.Float64), pl.col("n").cast(pl.Int64)).to_dicts()
    assert got == [
        {"id": r["id"], "amount": None if r["amount"] is None else float(r["amount"]), "n": r["n"]} for r in rows
    ]


def test_mixed_types_in_one_field_become_text_not_a_crash() -> None:
    frame = decode_records(orjson.dumps([{"a": 1}, {"a": "x"}, {"a": {"nested": True}}]), "application/json")
    assert frame["a"].to_list() == ["1", "x", '{"nested":true}']


@pytest.mark.parametrize("body,media,status,words", [
    (b"[", "application/json", 400, "not valid JSON"),
    (b'{"a": 1}', "application/json", 422, "array of records"),
    (b'{"a":1}\n\n{x', "application/x-ndjson", 400, "line 3"),
    (b"nope", "application/vnd.apache.arrow.stream", 400, "Arrow IPC stream"),
    (b"x", "text/csv", 415, "not supported"),
])
def test_bad_bodies_say_what_is_wrong(body: bytes, media: str, status: int, words: str) -> None:
    with pytest.raises(BodyError, match=words) as caught:
        decode_records(body, media)
    assert caught.value.status == status
