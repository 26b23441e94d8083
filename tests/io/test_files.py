"""Record files: every format round-trips, broken lines become per-line errors."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from fraud_brain.io import find_record_file, load_kind, read_frame, read_records, write_frame
from fraud_brain.schema import CALLS


def _calls(n: int = 5) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "call_id": [f"c{i}" for i in range(n)],
            "start_time": [datetime(2026, 11, 1, 8, i, 30, 250_000, tzinfo=UTC) for i in range(n)],
            "caller": ["13800000001"] * n,
            "callee": [f"1390000000{i}" for i in range(n)],
            "duration_s": list(range(n)),
            "disposition": ["answered"] * n,
            "caller_type": ["voip"] * n,
            "device_id": [None] * n,
            "cell_id": ["c-1"] * n,
            "region": ["Xihu"] * n,
            "sim_age_days": [2] * n,
        },
        schema=CALLS.polars_schema(),
    )


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_every_format_round_trips_exactly(tmp_path, suffix):
    calls = _calls()
    path = tmp_path / f"calls{suffix}"
    write_frame(calls, path)
    back = read_frame(path, "call")
    assert back.equals(calls)
    assert find_record_file(tmp_path, "calls") == path
    assert load_kind(tmp_path, "call").equals(calls)


def test_broken_json_lines_are_reported_with_their_line_and_the_rest_survive(tmp_path):
    path = tmp_path / "calls.jsonl"
    write_frame(_calls(3), path)
    lines = path.read_text().splitlines()
    lines.insert(1, '{"call_id": "c9", broken')
    lines.insert(2, "[1, 2]")
    path.write_text("\n".join(lines) + "\n")
    result = read_records(path, "call")
    assert result.valid["call_id"].to_list() == ["c0", "c1", "c2"]
    reasons = result.errors["reason"].to_list()
    assert any(r.startswith("line 2: not valid JSON") for r in reasons)
    assert "line 3: expected a JSON object" in reasons


def test_read_frame_refuses_a_file_with_bad_records_and_names_them(tmp_path):
    path = tmp_path / "calls.csv"
    write_frame(_calls(2), path)
    path.write_text(path.read_text().replace("voip", "carrier-pigeon", 1))
    with pytest.raises(ValueError, match=r"1 bad record\(s\):\n  call 0 \(c0\): caller_type 'carrier-pigeon'"):
        read_frame(path, "call")


def test_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown file type '\.xls'"):
        write_frame(_calls(1), tmp_path / "calls.xls")
