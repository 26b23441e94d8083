"""The streaming engine against the plain-Python reference, on random event streams."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from fraud_brain.features import FeatureEngine, Spec, bundled_spec, load_spec_text, replay
from fraud_brain.features.engine import hash_columns

from .reference import Reference, assert_same_features

TEST_SPEC = '''
[spec]
name = "property"
timezone = "Asia/Shanghai"
allowed_lateness = "5s"

[streams.a]
id = "id"
time = "time"
passthrough = ["k"]

[streams.b]
id = "id"
time = "time"

[entities]
key = {}
pair = { arity = 2 }

[[join]]
stream = "a"
table = "profile"
on = "k"
key = "name"
columns = { k_band = "band" }

[[aggregate]]
name = "a_count"
entity = "key"
stream = "a"
key = "k"
op = "count"
lifetime = true
decay = ["7s"]
sliding = ["10s"]
buckets = 5

[[aggregate]]
name = "a_sum"
entity = "key"
stream = "a"
key = "k"
op = "sum"
value = "v * 2"
where = "cat == 'x' or v > 3"
lifetime = true
decay = ["3s"]
sliding = ["4s"]
buckets = 2

[[aggregate]]
name = "a_mean"
entity = "key"
stream = "a"
key = "k"
op = "mean"
value = "v"
lifetime = true
decay = ["5s"]
sliding = ["6s"]
buckets = 3

[[aggregate]]
name = "a_max"
entity = "key"
stream = "a"
key = "k"
op = "max"
value = "v - 2"
lifetime = true
decay = ["5s"]
sliding = ["6s"]
buckets = 3

[[aggregate]]
name = "a_min"
entity = "key"
stream = "a"
key = "k"
op = "min"
value = "v"
sliding = ["8s"]
buckets = 4
decay = ["4s"]
lifetime = true

[[aggregate]]
name = "a_distinct"
entity = "key"
stream = "a"
key = "k"
op = "distinct"
value = "k2"
lifetime = true
sliding = ["10s"]
buckets = 5
bits = 64

[[aggregate]]
name = "a_last"
entity = "key"
stream = "a"
key = "k"
op = "last"
unit = "s"

[[aggregate]]
name = "a_first"
entity = "key"
stream = "a"
key = "k"
op = "first"
unit = "ms"

[[aggregate]]
name = "a_prev"
entity = "key"
stream = "a"
key = "k"
op = "prev"
value = "v"

[[aggregate]]
name = "pair_count"
entity = "pair"
stream = "a"
key = ["k", "k2"]
op = "count"
[[aggregate.read]]
stream = "a"
key = ["k2", "k"]
as = "pair_reverse"

[[aggregate]]
name = "exposure"          # a writes into k2's state; b reads it by its own key
entity = "key"
stream = "a"
key = "k2"
op = "max"
value = "v"
where = "pair_count == 0 and not is_null(k_band)"
sliding = ["6s"]
buckets = 3
self_read = false
[[aggregate.read]]
stream = "b"
key = "k"
as = "b_exposure"

[[aggregate]]
name = "b_count"
entity = "key"
stream = "b"
key = "k"
op = "count"
decay = ["2s"]
[[aggregate.read]]
stream = "a"
key = "k"
as = "a_sees_b"

[[feature]]
stream = "a"
name = "ratio"
expr = "if(a_count > 0, coalesce(a_sum, 0) / a_count, -1) + min(v, 1) + abs(log1p(coalesce(v, 0)))"

[[feature]]
stream = "a"
name = "is_new"
expr = "is_null(a_first) or k_band in ('old', 'young') and hour >= 0 and weekday <= 7"

[[feature]]
stream = "b"
name = "b_flag"
expr = "coalesce(b_exposure_6s, -5) >= 2 or -v < -3"
'''

SPEC = load_spec_text(TEST_SPEC, "test_spec.toml")


def t(second: int) -> datetime:
    """A time on the test day, ``second`` seconds after midnight (UTC)."""
    return datetime(2026, 11, 1, 0, 0, second, tzinfo=UTC)
PROFILE = pl.DataFrame({"name": ["p", "q", "r"], "band": ["old", "young", None]})
KEYS = ["p", "q", "r", "s"]
BASE = datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000


def _event(draw: st.DrawFn, stream: str, t: int, ident: str) -> dict:
    row = {"id": ident, "time": datetime.fromtimestamp((BASE + t) / 1000, tz=UTC),
           "k": draw(st.sampled_from([*KEYS, None])) if stream == "a" else draw(st.sampled_from(KEYS)),
           "v": draw(st.one_of(st.none(), st.floats(-5, 10, allow_nan=False).map(lambda x: round(x, 2))))}
    if stream == "a":
        row["k2"] = draw(st.sampled_from([*KEYS, None]))
        row["cat"] = draw(st.sampled_from(["x", "y", None]))
    return row


@st.composite
def arrivals(draw: st.DrawFn, max_events: int = 40, bounded: bool = False) -> list[tuple[str, dict]]:
    """Events in arrival order: mostly forward in time with ties, some late, some duplicate ids."""
    n = draw(st.integers(0, max_events))
    clock = 0
    out: list[tuple[str, dict]] = []
    for i in range(n):
        stream = draw(st.sampled_from(["a", "b"]))
        if out and draw(st.integers(0, 9)) == 0:
            earlier = [e for e in out if e[0] == stream]
            if earlier:
                dup = dict(draw(st.sampled_from(earlier))[1])
                dup["v"] = 99.0
                out.append((stream, dup))
                continue
        clock += draw(st.sampled_from([0, 0, 500, 1000, 2500]))
        low = -5000 if bounded else -12000
        t = max(0, clock + draw(st.sampled_from([0, 0, 0, -1000, low])))
        out.append((stream, _event(draw, stream, t, f"{stream}{i}")))
    return out


def _frames(events: list[tuple[str, dict]]) -> dict[str, pl.DataFrame]:
    schema = {
        "a": {"id": pl.String, "time": pl.Datetime("ms", "UTC"), "k": pl.String, "v": pl.Float64,
              "k2": pl.String, "cat": pl.String},
        "b": {"id": pl.String, "time": pl.Datetime("ms", "UTC"), "k": pl.String, "v": pl.Float64},
    }
    frames = {}
    for stream in ("a", "b"):
        rows = [row for s, row in events if s == stream]
        if rows:
            frames[stream] = pl.DataFrame(rows, schema=schema[stream], orient="row")
    return frames


def _split(events: list, cuts: list[int]) -> list[list]:
    bounds = sorted({c % (len(events) + 1) for c in cuts} | {0, len(events)})
    return [events[a:b] for a, b in itertools.pairwise(bounds)]


def _run_engine(engine: FeatureEngine, batches: list[list]) -> tuple[dict[str, list[pl.DataFrame]], int, int]:
    out: dict[str, list[pl.DataFrame]] = {"a": [], "b": []}
    late = dups = 0
    for batch in batches:
        result = engine.process(_frames(batch))
        late += result.late_count
        dups += sum(result.duplicates.values())
        for s, f in result.features.items():
            out[s].append(f)
    return out, late, dups


def _concat(parts: dict[str, list[pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    return {s: pl.concat(f) for s, f in parts.items() if f}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(), cuts=st.lists(st.integers(0, 60), max_size=6))
def test_engine_matches_reference(events: list, cuts: list[int]) -> None:
    batches = _split(events, cuts)
    engine = FeatureEngine(SPEC, reference={"profile": PROFILE})
    parts, late, dups = _run_engine(engine, batches)
    flushed = engine.flush()
    for s, f in flushed.features.items():
        parts[s].append(f)
    ref = Reference(SPEC, {"profile": PROFILE})
    for batch in batches:
        ref.process({s: [row for st_, row in batch if st_ == s] for s in ("a", "b")})
    ref.flush()
    assert_same_features(_concat(parts), ref, SPEC)
    assert late == sum(len(v) for v in ref.late.values())
    assert dups == ref.duplicates
    assert engine.pending == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(bounded=True), cuts_a=st.lists(st.integers(0, 60), max_size=8),
       cuts_b=st.lists(st.integers(0, 60), max_size=3))
def test_batch_size_changes_nothing(events: list, cuts_a: list[int], cuts_b: list[int]) -> None:
    results = []
    copies = len(events) - len({(s, row["id"]) for s, row in events})
    for cuts in (cuts_a, cuts_b, list(range(len(events) + 1))):
        engine = FeatureEngine(SPEC, reference={"profile": PROFILE})
        parts, late, dups = _run_engine(engine, _split(events, cuts))
        for s, f in engine.flush().features.items():
            parts[s].append(f)
        # disorder within the allowed lateness is never late: only re-sent copies are set aside
        # (as duplicates within the horizon, as late beyond it; which one depends on the cuts)
        assert late + dups == copies
        results.append(_concat(parts))
    for other in results[1:]:
        assert other.keys() == results[0].keys()
        for s in other:
            assert other[s].equals(results[0][s]), s


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(), cuts=st.lists(st.integers(0, 60), min_size=1, max_size=5), stop=st.integers(0, 5))
def test_snapshot_restore_changes_nothing(events: list, cuts: list[int], stop: int, tmp_path_factory) -> None:
    batches = _split(events, cuts)
    stop = stop % (len(batches) + 1)
    whole = FeatureEngine(SPEC, reference={"profile": PROFILE})
    expected, late_a, _ = _run_engine(whole, batches)
    for s, f in whole.flush().features.items():
        expected[s].append(f)
    first = FeatureEngine(SPEC, reference={"profile": PROFILE})
    got, late_b, _ = _run_engine(first, batches[:stop])
    folder = first.snapshot(tmp_path_factory.mktemp("snap"))
    del first
    second = FeatureEngine.restore(folder, SPEC, reference={"profile": PROFILE})
    rest, late_c, _ = _run_engine(second, batches[stop:])
    for s, f in second.flush().features.items():
        rest[s].append(f)
    for s in got:
        got[s].extend(rest[s])
    a, b = _concat(expected), _concat(got)
    assert a.keys() == b.keys()
    for s in a:
        assert a[s].equals(b[s]), s
    assert late_a == late_b + late_c


def test_peek_reads_state_without_changing_it() -> None:
    engine = FeatureEngine(SPEC, reference={"profile": PROFILE})
    rows = [("a", {"id": f"e{i}", "time": t(i), "k": "p", "v": float(i), "k2": "q", "cat": "x"}) for i in range(5)]
    engine.process(_frames(rows))
    engine.flush()
    probe = _frames([("a", {"id": "probe", "time": t(20), "k": "p", "v": 7.0, "k2": "r", "cat": "y"})])["a"]
    before = engine.peek("a", probe)
    again = engine.peek("a", probe)
    assert before.equals(again)
    assert before["a_count"].to_list() == [5.0]
    assert before["a_prev"].to_list() == [4.0]
    unseen = engine.peek("a", probe.with_columns(pl.lit("zzz").alias("k")))
    assert unseen["a_count"].to_list() == [0.0] and unseen["a_mean"].is_nan().all()
    processed = engine.process({"a": probe})
    processed = engine.flush().features["a"] if not processed.features else processed.features["a"]
    assert processed.drop("id", "time").equals(before.drop("id", "time"))
    assert engine.keys()["key"] == 3  # p, q (exposure target) and r (the probe's exposure target)


def test_keep_records_hands_back_whole_records_with_the_same_features() -> None:
    rows = [("a", {"id": f"e{i}", "time": t(i), "k": "p", "v": float(i), "k2": "q", "cat": "x"}) for i in range(6)]
    plain = FeatureEngine(SPEC, reference={"profile": PROFILE})
    whole = FeatureEngine(SPEC, reference={"profile": PROFILE}, keep_records=True)
    out = {}
    for name, engine in (("plain", plain), ("whole", whole)):
        batches = [engine.process(_frames(rows[:3])), engine.process(_frames(rows[3:])), engine.flush()]
        out[name] = pl.concat([b.features["a"] for b in batches if "a" in b.features], how="diagonal")
    records = _frames(rows)["a"]
    assert out["whole"].height == out["plain"].height == 6
    assert set(records.columns) <= set(out["whole"].columns)
    assert set(out["plain"].columns) < set(out["whole"].columns)
    assert out["whole"].select(records.columns).equals(records.filter(pl.col("id").is_in(out["whole"]["id"].implode())))
    assert out["whole"].select(out["plain"].columns).equals(out["plain"])


def test_duplicates_and_late_rows_are_returned() -> None:
    engine = FeatureEngine(SPEC, reference={"profile": PROFILE})
    first = engine.process(_frames([("b", {"id": "x1", "time": t(30), "k": "p", "v": 1.0})]))
    assert first.features == {} and engine.pending == 1
    second = engine.process(_frames([
        ("b", {"id": "x1", "time": t(31), "k": "p", "v": 1.0}),
        ("b", {"id": "x2", "time": t(10), "k": "p", "v": 1.0}),
        ("b", {"id": "x3", "time": t(50), "k": "q", "v": 1.0}),
    ]))
    assert second.duplicates == {"b": 1}
    assert second.late["b"]["id"].to_list() == ["x2"]
    assert second.features["b"]["id"].to_list() == ["x1"]
    assert engine.flush().features["b"]["id"].to_list() == ["x3"]


def test_many_keys_grow_state_and_survive_snapshot(tmp_path: Path) -> None:
    n = 5000
    times = pl.Series(np.arange(n) * 10 + 1_793_520_000_000).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    frame = pl.DataFrame({"id": [f"r{i}" for i in range(n)], "time": times, "k": [f"key{i % 3000}" for i in range(n)],
                          "v": np.arange(n, dtype=float) % 7, "k2": [f"key{(i * 7) % 3000}" for i in range(n)],
                          "cat": "x"})
    engine = FeatureEngine(SPEC, reference={"profile": PROFILE})
    engine.process({"a": frame[:2500]})
    restored = FeatureEngine.restore(engine.snapshot(tmp_path), SPEC, reference={"profile": PROFILE})
    out_a = [engine.process({"a": frame[2500:]}), engine.flush()]
    out_b = [restored.process({"a": frame[2500:]}), restored.flush()]
    a = pl.concat([o.features["a"] for o in out_a if "a" in o.features])
    b = pl.concat([o.features["a"] for o in out_b if "a" in o.features])
    assert a.equals(b)
    assert engine.keys()["key"] == 3000 and engine.keys()["pair"] > 1024
    # key0 is event 0 and event 3000: the second sees one earlier event, across the snapshot
    assert a.filter(pl.col("k") == "key0")["a_count"].to_list() == [1.0]


def test_restore_rejects_another_spec(tmp_path: Path) -> None:
    engine = FeatureEngine(SPEC, reference={"profile": PROFILE})
    engine.snapshot(tmp_path)
    with pytest.raises(ValueError, match="different version of spec"):
        FeatureEngine.restore(tmp_path, bundled_spec("card"))


def test_unknown_stream_and_missing_columns_are_named() -> None:
    engine = FeatureEngine(SPEC, reference={"profile": PROFILE})
    with pytest.raises(ValueError, match="unknown stream 'c'"):
        engine.process({"c": pl.DataFrame({"x": [1]})})
    frame = _frames([("b", {"id": "x", "time": datetime(2026, 11, 1, tzinfo=UTC), "k": "p", "v": 1.0})])["b"]
    with pytest.raises(ValueError, match="column 'v'"):
        engine.peek("b", frame.drop("v"))
    with pytest.raises(ValueError, match="reference table 'profile'"):
        FeatureEngine(SPEC)


def test_missing_ids_and_times_name_the_row() -> None:
    engine = FeatureEngine(SPEC, reference={"profile": PROFILE})
    when = datetime(2026, 11, 1, tzinfo=UTC)
    frame = pl.DataFrame({"id": ["ok", None], "time": [when, when], "k": ["p", "q"], "v": [1.0, 2.0]})
    with pytest.raises(ValueError, match="stream 'b' row 1: record id 'id' is missing"):
        engine.process({"b": frame})
    frame = frame.with_columns(pl.Series("id", ["a", "b"]), pl.Series("time", [when, None]))
    with pytest.raises(ValueError, match="stream 'b' record 'b': time 'time' is missing"):
        engine.process({"b": frame})


def test_snapshot_restores_in_a_fresh_process(tmp_path: Path) -> None:
    """Key hashes must be stable across processes for a snapshot to be useful after a restart."""
    import subprocess
    import sys

    from fraud_brain.features.synthetic import synthetic_card

    frames = synthetic_card(n=400, n_customers=30, n_terminals=10, seed=4)
    spec_path = Path(bundled_spec("card").source)
    cut = frames["tx"]["time"][249]
    reports = frames["fraud_report"]
    first = {"tx": frames["tx"][:250], "fraud_report": reports.filter(pl.col("known_at") <= cut)}
    rest = frames["tx"][250:]
    engine = FeatureEngine(bundled_spec("card"))
    engine.process(first)
    engine.snapshot(tmp_path / "snap")
    rest.write_parquet(tmp_path / "rest.parquet")
    expected = [engine.process({"tx": rest}), engine.flush()]
    want = pl.concat([b.features["tx"] for b in expected if "tx" in b.features])
    script = f"""
import polars as pl
from fraud_brain.features import FeatureEngine, load_spec
engine = FeatureEngine.restore({str(tmp_path / 'snap')!r}, load_spec({str(spec_path)!r}))
out = [engine.process({{"tx": pl.read_parquet({str(tmp_path / 'rest.parquet')!r})}}), engine.flush()]
pl.concat([b.features["tx"] for b in out if "tx" in b.features]).write_parquet({str(tmp_path / 'got.parquet')!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).resolve().parents[2])
    got = pl.read_parquet(tmp_path / "got.parquet")
    assert got.equals(want)
    assert got.height >= rest.height  # plus events still buffered at the snapshot


profiles = st.lists(
    st.tuples(st.sampled_from(["p", "q", "r", "s", "t"]), st.sampled_from(["old", "young", "mid", None])), max_size=8,
).map(lambda rows: pl.DataFrame(rows, schema={"name": pl.String, "band": pl.String}, orient="row"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(), cuts=st.lists(st.integers(0, 60), max_size=4), profile=profiles)
def test_reference_join_matches_reference_for_any_profile_table(events: list, cuts: list[int],
                                                                profile: pl.DataFrame) -> None:
    # repeated names (the last row wins), names no event has, keys with no profile row
    engine = FeatureEngine(SPEC, reference={"profile": profile})
    parts, _, _ = _run_engine(engine, _split(events, cuts))
    for s, f in engine.flush().features.items():
        parts[s].append(f)
    ref = Reference(SPEC, {"profile": profile})
    for batch in _split(events, cuts):
        ref.process({s: [row for st_, row in batch if st_ == s] for s in ("a", "b")})
    ref.flush()
    assert_same_features(_concat(parts), ref, SPEC)


def test_joined_columns_equal_a_polars_left_join() -> None:
    # integer reference keys (joined as strings), a duplicated key, a null key and unmatched rows
    profile = pl.DataFrame({"name": [1, 2, 2, None, 7], "band": ["a", "b", "c", "z", None]})
    engine = FeatureEngine(SPEC, reference={"profile": profile})
    frame = pl.DataFrame({"id": [f"e{i}" for i in range(6)], "k": ["1", "2", None, "3", "7", "2"],
                          "time": [datetime(2026, 11, 1, tzinfo=UTC)] * 6, "v": [1.0] * 6, "k2": ["p"] * 6,
                          "cat": ["x"] * 6})
    got = engine._inputs(engine.plan.streams["a"], frame.with_columns(pl.lit(0).alias("__fb_t")))[0]
    want = frame.join(profile.select(pl.col("name").cast(pl.String).alias("k"), pl.col("band").alias("k_band"))
                      .unique("k", keep="last"), on="k", how="left", maintain_order="left")
    assert got.select("k", "k_band").equals(want.select("k", "k_band"))
    assert got["k_band"].to_list() == ["a", "c", None, None, None, "c"]


ENUM_SPEC = load_spec_text(TEST_SPEC + '''
[[feature]]
stream = "a"
name = "cat_tests"
expr = "(cat == 'x') + 2 * (cat != 'y') + 4 * (cat in ('x', 'w')) + 8 * (k_band == 'young') + 16 * (k_band != 'old')"
''', "enum_spec.toml")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(bounded=True), cuts=st.lists(st.integers(0, 60), max_size=3))
def test_enum_columns_give_the_features_of_string_columns(events: list, cuts: list[int]) -> None:
    # string tests of Enum columns are looked up per category code; they must equal the string path
    cats = pl.Enum(["y", "x", "w", "unused"])
    bands = pl.Enum(["young", "old"])
    outs = []
    for enum in (False, True):
        profile = PROFILE.with_columns(pl.col("band").cast(bands)) if enum else PROFILE
        engine = FeatureEngine(ENUM_SPEC, reference={"profile": profile})
        parts: dict[str, list[pl.DataFrame]] = {"a": [], "b": []}
        for batch in _split(events, cuts):
            frames = _frames(batch)
            if enum and "a" in frames:
                frames["a"] = frames["a"].with_columns(pl.col("cat").cast(cats))
            for s, f in engine.process(frames).features.items():
                parts[s].append(f)
        for s, f in engine.flush().features.items():
            parts[s].append(f)
        outs.append({s: f.with_columns(pl.col(pl.Enum).cast(pl.String)) for s, f in _concat(parts).items()})
    assert outs[0].keys() == outs[1].keys()
    for s in outs[0]:
        assert outs[0][s].equals(outs[1][s]), s


def test_key_hashes_of_joined_columns_equal_hashing_the_joined_frame() -> None:
    # the telecom spec counts distinct callee districts, a column the subscriber join brings in
    from fraud_brain.features.synthetic import synthetic_telecom

    frames = synthetic_telecom(300, 100, 50, seed=3)
    subscribers = frames["subscribers"].with_columns(
        pl.when(pl.col("phone").str.ends_with("7")).then(None).otherwise(pl.col("district")).alias("district"))
    engine = FeatureEngine(bundled_spec("telecom"), reference={"subscribers": subscribers.head(40)})
    for stream in ("call", "transfer"):
        sp = engine.plan.streams[stream]
        prepared = engine._prepare(stream, frames[stream])
        _, _, kh = engine._inputs(sp, prepared)
        joined = prepared
        for join in engine.spec.joins:
            if join.stream == stream:
                profile = subscribers.head(40).select(pl.col(join.key).cast(pl.String).alias("__key"),
                                                      *(pl.col(src).alias(dst) for dst, src in join.columns))
                joined = joined.with_columns(pl.col(join.on).cast(pl.String).alias("__key")).join(
                    profile.unique("__key", keep="last"), on="__key", how="left", maintain_order="left")
        assert any(c.endswith("district") for cols in sp.keys for c in cols) or stream == "transfer"
        want = np.stack([hash_columns(joined, cols) for cols in sp.keys], axis=1)
        assert np.array_equal(kh, want), stream


class SmallSeen(FeatureEngine):
    """An engine whose seen-id table starts (and may shrink back) to 8 slots: purges happen all the time."""

    SEEN_MIN_SLOTS = 8


def _b_frame(start: int, n: int, spacing_ms: int, tag: str = "") -> pl.DataFrame:
    """``n`` stream-b records with ids ``b{start}..`` every ``spacing_ms`` from BASE."""
    idx = np.arange(start, start + n)
    times = pl.Series(BASE + idx * spacing_ms).cast(pl.Int64).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    return pl.DataFrame({"id": [f"b{i}{tag}" for i in idx], "time": times,
                         "k": [KEYS[i % len(KEYS)] for i in idx], "v": (idx % 7).astype(float)})


@pytest.mark.parametrize(("engine_class", "spacing_ms"), [(FeatureEngine, 100), (SmallSeen, 100), (SmallSeen, 2)])
def test_seen_ids_stay_proportional_to_the_horizon_not_to_all_ids(engine_class: type[FeatureEngine],
                                                                   spacing_ms: int) -> None:
    engine = engine_class(SPEC, reference={"profile": PROFILE})
    batch, batches = 250, 400                     # 100,000 distinct ids over a long span
    horizon = SPEC.lateness_ms // spacing_ms + 1  # events within one allowed lateness
    bound = max(engine.SEEN_MIN_SLOTS, 8 * (horizon + batch))
    largest = 0
    for b in range(batches):
        engine.process({"b": _b_frame(b * batch, batch, spacing_ms)})
        held, slots = engine.seen_ids()
        largest = max(largest, slots)
        assert 2 * held <= slots <= bound, (b, held, slots, bound)
    assert largest <= batch * batches // 4
    # the bounded table still knows every id within the horizon, and ids below it come back late
    last = _b_frame((batches - 1) * batch, batch, spacing_ms)
    recent = last.filter(pl.col("time").dt.epoch("ms") >= engine.max_seen - SPEC.lateness_ms)
    assert recent.height
    assert engine.process({"b": recent}).duplicates == {"b": recent.height}
    again = engine.process({"b": _b_frame(0, batch, spacing_ms)})
    assert again.duplicates == {"b": 0} and again.late["b"].height == batch


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(max_events=60), cuts=st.lists(st.integers(0, 70), max_size=10),
       snaps=st.sets(st.integers(0, 12), max_size=4), flush_at=st.sets(st.integers(0, 12), max_size=2))
def test_no_id_is_processed_twice_across_purges_and_snapshots(events: list, cuts: list[int], snaps: set[int],
                                                              flush_at: set[int], tmp_path_factory) -> None:
    batches = _split(events, cuts)
    engine: FeatureEngine = SmallSeen(SPEC, reference={"profile": PROFILE})
    ref = Reference(SPEC, {"profile": PROFILE})
    parts: dict[str, list[pl.DataFrame]] = {"a": [], "b": []}
    late = dups = 0
    for i, batch in enumerate(batches):
        if i in snaps:
            folder = engine.snapshot(tmp_path_factory.mktemp("snap"))
            engine = SmallSeen.restore(folder, SPEC, reference={"profile": PROFILE})
        result = engine.process(_frames(batch))
        ref.process({s: [row for st_, row in batch if st_ == s] for s in ("a", "b")})
        late += result.late_count
        dups += sum(result.duplicates.values())
        for s, f in result.features.items():
            parts[s].append(f)
        if i in flush_at:  # a flush raises the floor: re-sent copies of flushed events are late
            ref.flush()
            for s, f in engine.flush().features.items():
                parts[s].append(f)
    for s, f in engine.flush().features.items():
        parts[s].append(f)
    ref.flush()
    out = _concat(parts)
    for s, frame in out.items():
        assert frame["id"].n_unique() == frame.height, f"stream {s}: an id was processed twice"
    assert_same_features(out, ref, SPEC)
    assert (late, dups) == (sum(len(v) for v in ref.late.values()), ref.duplicates)
    processed = {(s, i) for s, f in out.items() for i in f["id"].to_list()}
    late_ids = {(s, i) for s, ids in ref.late.items() for i in ids}
    assert {(s, row["id"]) for s, row in events} == processed | late_ids  # every id is accounted for
    assert engine.seen_ids()[1] <= max(SmallSeen.SEEN_MIN_SLOTS, 8 * len(events))


def _as_format_1(folder: Path) -> None:
    """Rewrite a snapshot as the engine wrote it before seen ids had times (format 1)."""
    meta = json.loads((folder / "meta.json").read_text())
    del meta["format"]
    (folder / "meta.json").write_text(json.dumps(meta))
    with np.load(folder / "state.npz") as data:
        arrays = {k: data[k] for k in data.files}
    seen = arrays["seen"]
    used = seen[0::2] != 0
    seen[1::2][used] = np.arange(int(used.sum()), dtype=np.uint64)  # the old dense insertion numbers
    np.savez(folder / "state.npz", **arrays)


def test_a_format_1_snapshot_keeps_its_ids_until_the_horizon_passes_its_newest_event(tmp_path: Path) -> None:
    spacing = 1000
    engine = SmallSeen(SPEC, reference={"profile": PROFILE})
    engine.process({"b": _b_frame(0, 20, spacing)})          # ids b0..b19 over 19 s; threshold 14 s
    folder = engine.snapshot(tmp_path / "old")
    _as_format_1(folder)
    old = SmallSeen.restore(folder, SPEC, reference={"profile": PROFILE})
    new = SmallSeen.restore(engine.snapshot(tmp_path / "new"), SPEC, reference={"profile": PROFILE})
    assert old.seen_ids()[0] == new.seen_ids()[0] == 20
    # b0's time (0 s) is below the threshold: late now, but format 1 knew no times, so a duplicate
    assert new.process({"b": _b_frame(0, 1, spacing)}).late["b"].height == 1
    assert old.process({"b": _b_frame(0, 1, spacing)}).duplicates == {"b": 1}
    # new events give the same features either way
    later = _b_frame(20, 10, spacing)                         # up to 29 s: threshold 24 s > the old 19 s
    out_old, out_new = old.process({"b": later}), new.process({"b": later})
    assert out_old.features["b"].equals(out_new.features["b"])
    # once the horizon passed the snapshot's newest event (19 s) its ids are purged and come back late
    slots = old.seen_ids()[1]
    assert slots < 2 * (20 + 170)
    for start in range(30, 200, 10):
        old.process({"b": _b_frame(start, 10, spacing)})
    assert old.seen_ids()[1] <= slots                         # 170 more ids fitted: the 20 were purged
    assert old.process({"b": _b_frame(19, 1, spacing)}).late["b"].height == 1


def test_a_snapshot_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    folder = FeatureEngine(SPEC, reference={"profile": PROFILE}).snapshot(tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["format"] = 99
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format 99"):
        FeatureEngine.restore(folder, SPEC, reference={"profile": PROFILE})


@pytest.mark.parametrize("spacing_ms", [1_000, 60_000])
def test_a_dedupe_horizon_keeps_recent_resends_duplicates_and_the_table_bounded(spacing_ms: int) -> None:
    horizon_ms = 50 * spacing_ms
    engine = SmallSeen(SPEC, reference={"profile": PROFILE}, dedupe_horizon_ms=horizon_ms)
    batch, batches = 100, 60
    largest = 0
    for b in range(batches):
        engine.process({"b": _b_frame(b * batch, batch, spacing_ms)})
        largest = max(largest, engine.seen_ids()[1])
    keep = engine.max_seen - SPEC.lateness_ms - horizon_ms
    # held ids are bounded by lateness + horizon (+ a batch), not by all 6,000 ids
    within = (SPEC.lateness_ms + horizon_ms) // spacing_ms + 1
    assert largest <= max(engine.SEEN_MIN_SLOTS, 8 * (within + batch)) < batch * batches
    old = pl.concat([_b_frame(b * batch, batch, spacing_ms) for b in range(batches)])
    t = pl.col("time").dt.epoch("ms")
    below_watermark = old.filter(t < engine.max_seen - SPEC.lateness_ms)
    inside, outside = below_watermark.filter(t >= keep), below_watermark.filter(t < keep)
    assert inside.height and outside.height
    # a resend older than the watermark but within the horizon is a duplicate; beyond it, late
    assert engine.process({"b": inside}).duplicates == {"b": inside.height}
    again = engine.process({"b": outside})
    assert again.duplicates == {"b": 0} and again.late["b"].height == outside.height
    plain = SmallSeen(SPEC, reference={"profile": PROFILE})
    for b in range(batches):
        plain.process({"b": _b_frame(b * batch, batch, spacing_ms)})
    assert plain.process({"b": inside}).late["b"].height == inside.height  # no horizon: late
    with pytest.raises(ValueError, match="dedupe_horizon_ms"):
        FeatureEngine(SPEC, reference={"profile": PROFILE}, dedupe_horizon_ms=-1)


WINDOW_SPEC = load_spec_text('''
[spec]
name = "windows"
allowed_lateness = "5s"

[streams.a]
id = "id"
time = "time"

[streams.b]
id = "id"
time = "time"

[entities]
key = {}

[[aggregate]]
name = "x_count"
entity = "key"
stream = "a"
key = "k"
op = "count"
exact = ["1ms", "3s", "10s"]
lifetime = true
[[aggregate.read]]
stream = "b"
key = "k"
as = "b_x_count"

[[aggregate]]
name = "x_sum"
entity = "key"
stream = "a"
key = "k"
op = "sum"
value = "v * 2"
where = "cat == 'x' or v > 3"
exact = ["4s"]

[[aggregate]]
name = "x_mean"
entity = "key"
stream = "a"
key = "k"
op = "mean"
value = "v"
exact = ["6s"]

[[aggregate]]
name = "x_max"
entity = "key"
stream = "a"
key = "k"
op = "max"
value = "v"
exact = ["5s"]

[[aggregate]]
name = "x_min"
entity = "key"
stream = "a"
key = "k"
op = "min"
value = "v"
exact = ["7s"]

[[aggregate]]
name = "late_count"          # the window ending 3 s before the reading event
entity = "key"
stream = "a"
key = "k"
op = "count"
delay = "3s"
exact = ["4s"]
sliding = ["6s"]
buckets = 3
lifetime = true
[[aggregate.read]]
stream = "b"
key = "k"
as = "b_late_count"

[[aggregate]]
name = "late_sum"
entity = "key"
stream = "a"
key = "k2"
op = "sum"
value = "v"
delay = "2500ms"
exact = ["5s"]
sliding = ["4s"]
buckets = 4
lifetime = true
self_read = false
[[aggregate.read]]
stream = "b"
key = "k"
as = "b_late_sum"

[[aggregate]]
name = "late_mean"
entity = "key"
stream = "b"
key = "k"
op = "mean"
value = "v"
delay = "1s"
exact = ["3s"]
sliding = ["6s"]
buckets = 2
lifetime = true
[[aggregate.read]]
stream = "a"
key = "k"
as = "a_late_mean"

[[aggregate]]
name = "late_max"
entity = "key"
stream = "a"
key = "k"
op = "max"
value = "v"
delay = "2s"
exact = ["5s"]
sliding = ["6s"]
buckets = 3
lifetime = true

[[aggregate]]
name = "late_min"
entity = "key"
stream = "b"
key = "k"
op = "min"
value = "v"
delay = "4s"
exact = ["2s"]
sliding = ["8s"]
buckets = 4
lifetime = true

[[aggregate]]
name = "late_distinct"
entity = "key"
stream = "a"
key = "k"
op = "distinct"
value = "k2"
delay = "1s"
sliding = ["4s"]
buckets = 2
bits = 64

[[feature]]
stream = "b"
name = "late_share"
expr = "b_late_count_4s / max(b_x_count_10s, 1)"
''', "windows.toml")


def _both(events: list, cuts: list[int], spec: Spec) -> tuple[dict[str, pl.DataFrame], Reference]:
    engine = FeatureEngine(spec)
    parts, _, _ = _run_engine(engine, _split(events, cuts))
    for s, f in engine.flush().features.items():
        parts[s].append(f)
    ref = Reference(spec)
    for batch in _split(events, cuts):
        ref.process({s: [row for st_, row in batch if st_ == s] for s in ("a", "b")})
    ref.flush()
    return _concat(parts), ref


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(max_events=60), cuts=st.lists(st.integers(0, 70), max_size=6))
def test_exact_and_delayed_windows_match_reference(events: list, cuts: list[int]) -> None:
    out, ref = _both(events, cuts, WINDOW_SPEC)
    assert_same_features(out, ref, WINDOW_SPEC)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(max_events=60, bounded=True), cuts_a=st.lists(st.integers(0, 70), max_size=8),
       stop=st.integers(0, 8))
def test_exact_and_delayed_windows_survive_any_batching_and_a_snapshot(
    events: list, cuts_a: list[int], stop: int, tmp_path_factory
) -> None:
    whole = FeatureEngine(WINDOW_SPEC)
    expected, _, _ = _run_engine(whole, [events])
    for s, f in whole.flush().features.items():
        expected[s].append(f)
    batches = _split(events, cuts_a)
    stop = stop % (len(batches) + 1)
    first = FeatureEngine(WINDOW_SPEC)
    got, _, _ = _run_engine(first, batches[:stop])
    second = FeatureEngine.restore(first.snapshot(tmp_path_factory.mktemp("snap")), WINDOW_SPEC)
    rest, _, _ = _run_engine(second, batches[stop:])
    for s, f in second.flush().features.items():
        rest[s].append(f)
    for s in got:
        got[s].extend(rest[s])
    a, b = _concat(expected), _concat(got)
    assert a.keys() == b.keys()
    for s in a:
        assert a[s].equals(b[s]), s
    assert second.store.pool_nodes() == whole.store.pool_nodes()


def test_event_lists_hold_only_the_window_and_its_delay() -> None:
    # one key, an event every second for 10 minutes: a 4 s window 3 s ago keeps ~7 events, not 600
    engine = FeatureEngine(WINDOW_SPEC)
    for start in range(0, 600, 50):
        engine.process({"a": pl.DataFrame({
            "id": [f"a{i}" for i in range(start, start + 50)],
            "time": [datetime.fromtimestamp((BASE + i * 1000) / 1000, tz=UTC)
                     for i in range(start, start + 50)],
            "k": ["p"] * 50, "v": [1.0] * 50, "k2": ["q"] * 50, "cat": ["x"] * 50})})
    engine.flush()
    # per list: its window plus delay in events, plus one pending young event (a list is trimmed when touched)
    windows = [1, 3, 10, 4, 6, 5, 7, 3 + 4, 3, 2.5 + 5, 2.5, 2 + 5, 2]
    assert engine.store.pool_nodes() <= sum(int(w) + 2 for w in windows)
    assert engine.store.pool_nodes() >= 10


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(max_events=60, bounded=True), buckets=st.sampled_from([1, 2, 3, 4, 6]),
       delay_ms=st.sampled_from([0, 700, 2000, 4500]))
def test_bucketed_windows_stay_within_their_documented_bound(events: list, buckets: int,
                                                             delay_ms: int) -> None:
    # a bucketed window of width W counts whole buckets inside (m - W, m], m = t - delay (plus,
    # without a delay, the bucket still filling): at most an exact window of W, and at least an
    # exact window of W·(B-1)/B (without a delay) or of the span one bucket inside each end (with one)
    width, span = 6000, 6000 // buckets
    if delay_ms:
        lower_width, lower_delay = width - 2 * span + 1, delay_ms + span - 1
    else:
        lower_width, lower_delay = width - span, 0
    text = f'''
[spec]
allowed_lateness = "5s"
[streams.a]
id = "id"
time = "time"
[streams.b]
id = "id"
time = "time"
[entities]
key = {{}}
[[aggregate]]
name = "bucketed"
entity = "key"
stream = "a"
key = "k"
op = "count"
sliding = ["{width}ms"]
buckets = {buckets}
delay = "{delay_ms}ms"
[[aggregate]]
name = "upper"
entity = "key"
stream = "a"
key = "k"
op = "count"
exact = ["{width}ms"]
delay = "{delay_ms}ms"
'''
    if lower_width > 0:
        text += f'''[[aggregate]]
name = "lower"
entity = "key"
stream = "a"
key = "k"
op = "count"
exact = ["{lower_width}ms"]
delay = "{lower_delay}ms"
'''
    spec = load_spec_text(text, "bound.toml")
    out, ref = _both(events, [], spec)
    assert_same_features(out, ref, spec)
    if "a" not in out:
        return
    frame = out["a"].filter(pl.col(f"bucketed_{width}ms").is_not_nan())
    bucketed, upper = frame[f"bucketed_{width}ms"], frame[f"upper_{width}ms"]
    assert (bucketed <= upper).all()
    if lower_width > 0:
        assert (bucketed >= frame[f"lower_{lower_width}ms"]).all()


MISSING_SPEC = '''[streams.tx]
id = "tx_id"
time = "time"
[entities]
terminal = {}
[[aggregate]]
name = "night"
entity = "terminal"
stream = "tx"
key = "terminal_id"
op = "mean"
value = "hour < 6"
[[aggregate]]
name = "spend"
entity = "terminal"
stream = "tx"
key = "terminal_id"
op = "sum"
where = "channel == 'pos'"
value = "amount"
'''


def test_a_missing_column_is_named_with_the_line_that_uses_it() -> None:
    # the stream has no schema, so only the records can tell; the error must name the missing
    # column (not the built-in read before it) and the line of the key that uses it
    spec = load_spec_text(MISSING_SPEC, "shop.toml")
    t = datetime(2026, 11, 1, tzinfo=UTC)
    tx = pl.DataFrame({"tx_id": ["a", "b"], "time": [t, t], "terminal_id": ["T1", "T2"],
                       "channel": ["pos", "ecom"], "amount": [1.0, 2.0]})
    at = r"used at shop.toml:{}: \[\[aggregate\]\] #{} key '{}'"
    with pytest.raises(ValueError, match="no column 'amount' " + at.format(20, 2, "value")):
        replay(spec, {"tx": tx.drop("amount")})
    with pytest.raises(ValueError, match="no column 'channel' " + at.format(19, 2, "where")):
        replay(spec, {"tx": tx.drop("channel")})
    with pytest.raises(ValueError, match="no column 'terminal_id' " + at.format(10, 1, "key")):
        replay(spec, {"tx": tx.drop("terminal_id")})
    # a text column used as a number is named, with its line
    with pytest.raises(ValueError, match=r"column 'amount' cannot be read.*shop.toml:20"):
        replay(spec, {"tx": tx.with_columns(pl.col("amount").cast(pl.String) + "x")})
    assert replay(spec, {"tx": tx})["tx"]["spend"].to_list() == [0.0, 0.0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=arrivals(max_events=50, bounded=True), gap=st.sampled_from([1, 700, 2500, 6000, 20000]),
       stream=st.sampled_from(["a", "b"]))
def test_peek_of_exact_and_delayed_windows_equals_processing_and_changes_nothing(events: list, gap: int,
                                                                              stream: str) -> None:
    # a peek scans the event lists without moving them; processing moves them: same features
    # (the probe comes after every event: a flush makes anything at or before them late)
    engine = FeatureEngine(WINDOW_SPEC)
    _run_engine(engine, [events])
    engine.flush()
    clock = max([int(row["time"].timestamp() * 1000 - BASE) for _, row in events], default=0)
    when = datetime.fromtimestamp((BASE + clock + gap) / 1000, tz=UTC)
    row = {"id": "probe", "time": when, "k": "p", "v": 1.5}
    if stream == "a":
        row |= {"k2": "q", "cat": "x"}
    probe = _frames([(stream, row)])[stream]
    nodes = engine.store.pool_nodes()
    before = engine.peek(stream, probe)
    assert engine.peek(stream, probe).equals(before) and engine.store.pool_nodes() == nodes
    engine.process({stream: probe})
    processed = engine.flush().features[stream]
    # running sums (processing) and fresh sums (peek) may differ in the last bits
    assert_frame_equal(processed.drop("id", "time"), before.drop("id", "time"), check_exact=False,
                       rel_tol=1e-9, abs_tol=1e-9)
