"""The assembled world: determinism, exact schema conformance, order, ids, files."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from fraud_brain.io import read_frame
from fraud_brain.schema import SCHEMAS, RecordSchema
from fraud_brain.schema.validate import validate
from fraud_brain.sim import FRAMES, SimConfig, World, read_world, simulate

RECORD_FRAMES = {"call": "calls", "transfer": "transfers", "subscriber": "subscribers", "label": "labels"}


def check_against_schema(frame: pl.DataFrame, schema: RecordSchema) -> list[str]:
    """Every way a frame breaks its schema's Field definitions (names, order, dtypes, checks)."""
    problems = []
    if frame.columns != schema.column_names():
        problems.append(f"columns {frame.columns} != {schema.column_names()}")
    for field in schema.fields:
        column = frame[field.name]
        if column.dtype != field.dtype:
            problems.append(f"{field.name}: dtype {column.dtype} != {field.dtype}")
        values = column.drop_nulls()
        if field.required and column.null_count():
            problems.append(f"{field.name}: {column.null_count()} nulls in a required field")
        if field.gt is not None and (values <= field.gt).any():
            problems.append(f"{field.name}: values <= {field.gt}")
        if field.ge is not None and (values < field.ge).any():
            problems.append(f"{field.name}: values < {field.ge}")
        if field.le is not None and (values > field.le).any():
            problems.append(f"{field.name}: values > {field.le}")
        if field.pattern is not None:
            bad = values.filter(~values.str.contains(field.pattern))
            if bad.len():
                problems.append(
                    f"{field.name}: {bad.len()} values not matching {field.pattern}, e.g. {bad[0]!r}"
                )
    return problems


def test_same_seed_gives_identical_frames() -> None:
    config = SimConfig.preset("sample", n_subscribers=600, days=3, seed=5)
    first, second = simulate(config), simulate(config)
    for name in FRAMES:
        assert getattr(first, name).equals(getattr(second, name)), name
    assert first == second


def test_other_seed_gives_a_different_world() -> None:
    a = simulate(SimConfig.preset("sample", n_subscribers=600, days=3, seed=5))
    b = simulate(SimConfig.preset("sample", n_subscribers=600, days=3, seed=6))
    assert not a.calls.equals(b.calls)
    assert not a.transfers.equals(b.transfers)
    assert a != b


@pytest.mark.parametrize("kind", list(RECORD_FRAMES))
def test_record_frames_conform_exactly_to_the_schemas(world: World, kind: str) -> None:
    frame = getattr(world, RECORD_FRAMES[kind])
    assert frame.height > 0
    assert check_against_schema(frame, SCHEMAS[kind]) == []
    result = validate(frame, kind)
    assert result.ok, result.messages()[:5]
    assert result.valid.equals(frame)


@pytest.mark.parametrize(
    "name, time_column", [("calls", "start_time"), ("transfers", "time"), ("labels", "known_at")]
)
def test_events_are_sorted_with_unique_ids(world: World, name: str, time_column: str) -> None:
    frame = getattr(world, name)
    assert frame[time_column].is_sorted()
    assert frame[frame.columns[0]].n_unique() == frame.height


def test_events_fall_inside_the_window(world: World) -> None:
    config = world.config
    for frame, column in ((world.calls, "start_time"), (world.transfers, "time")):
        ms = frame[column].dt.epoch("ms")
        assert ms.min() >= config.start_ms
        assert ms.max() < config.end_ms


def test_subscribers_are_unique_and_cover_resident_callers(world: World) -> None:
    subscribers = world.subscribers
    assert subscribers["phone"].n_unique() == subscribers.height
    mobile_callers = world.calls.filter(pl.col("caller_type") == "mobile")["caller"].unique()
    listed = mobile_callers.is_in(subscribers["phone"].implode())
    # Every local mobile caller with a SIM age is a known subscriber, and vice versa.
    with_age = world.calls.filter(pl.col("sim_age_days").is_not_null())["caller"].unique()
    assert with_age.is_in(subscribers["phone"].implode()).all()
    assert listed.mean() > 0.9
    accounts = subscribers["account"].drop_nulls()
    assert accounts.n_unique() == accounts.len()


def test_numbers_have_realistic_formats(world: World) -> None:
    by_type = {
        kind: world.calls.filter(pl.col("caller_type") == kind)["caller"].unique()
        for kind in ("mobile", "fixed", "voip", "international")
    }
    assert by_type["mobile"].str.contains(r"^1[3-9][0-9]{9}$").all()
    assert by_type["voip"].str.contains(r"^17[01][0-9]{8}$").all()
    assert by_type["international"].str.starts_with("+").all()
    fixed = by_type["fixed"]
    assert (fixed.str.starts_with("0") | fixed.str.contains(r"^(95|100)")).all()


def test_truth_frames_line_up_with_the_records(world: World) -> None:
    assert world.truth_calls["call_id"].equals(world.calls["call_id"])
    assert world.truth_transfers["transfer_id"].equals(world.transfers["transfer_id"])
    scam = world.truth_transfers.filter(pl.col("is_scam"))
    assert scam["episode_id"].null_count() == 0
    assert scam["typology"].null_count() == 0
    first_call = world.transfers.join(world.truth_transfers, on="transfer_id").filter(
        pl.col("first_scam_call_time").is_not_null()
    )
    # The first scam call of an episode comes before the victim pays.
    victims = first_call.filter(pl.col("kind") == "victim")
    assert (victims["first_scam_call_time"] <= victims["time"]).mean() > 0.95


def test_label_entities_exist_in_the_records(world: World) -> None:
    labels = world.labels
    transfers = labels.filter(pl.col("entity_type") == "transfer")["entity_id"]
    assert transfers.is_in(world.transfers["transfer_id"].implode()).all()
    numbers = labels.filter(pl.col("entity_type") == "number")["entity_id"]
    assert numbers.is_in(world.calls["caller"].implode()).all()
    accounts = labels.filter(pl.col("entity_type") == "account")["entity_id"]
    assert accounts.is_in(world.transfers["payee_account"].implode()).all()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_written_files_read_back_identical(tmp_path: Path, fmt: str) -> None:
    world = simulate(SimConfig.preset("sample", n_subscribers=400, days=2, seed=3))
    paths = world.write(tmp_path, fmt=fmt)
    assert sorted(p.name for p in paths) == sorted(f"{name}.{fmt}" for name in FRAMES)
    for kind, name in RECORD_FRAMES.items():
        assert read_frame(tmp_path / f"{name}.{fmt}", kind).equals(getattr(world, name)), name
    for name, frame in read_world(tmp_path).items():
        assert frame.equals(getattr(world, name)), name


def test_read_world_names_a_missing_file(tmp_path: Path) -> None:
    simulate(SimConfig(n_subscribers=100, days=1)).write(tmp_path)
    (tmp_path / "truth_episodes.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="no truth_episodes"):
        read_world(tmp_path)


def test_write_rejects_an_unknown_format(tmp_path: Path) -> None:
    world = simulate(SimConfig(n_subscribers=100, days=1))
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        world.write(tmp_path, fmt="xml")


def test_legitimate_volume_scales_with_subscribers_and_days() -> None:
    def legit(world: World, frame: str) -> int:
        return getattr(world, frame).filter(~pl.col("is_scam")).height

    small = simulate(SimConfig(n_subscribers=1000, days=7))
    longer = simulate(SimConfig(n_subscribers=2000, days=14))
    assert 3.3 < legit(longer, "truth_calls") / legit(small, "truth_calls") < 4.7
    # Salaries and rent are monthly, so transfers scale with people, not with days.
    wider = simulate(SimConfig(n_subscribers=2000, days=7))
    assert 1.7 < legit(wider, "truth_transfers") / legit(small, "truth_transfers") < 2.3


def test_record_ids_are_valid_ids(world: World) -> None:
    assert all(re.fullmatch(r"c\d+", x) for x in world.calls["call_id"].head(50).to_list())
    assert all(re.fullmatch(r"t\d+", x) for x in world.transfers["transfer_id"].head(50).to_list())


def test_committed_sample_is_the_sample_preset(world: World, sample_dir: Path) -> None:
    """data/sample must be regenerated (``make sample``) whenever the simulator changes."""
    for kind, name in RECORD_FRAMES.items():
        assert read_frame(sample_dir / f"{name}.parquet", kind).equals(getattr(world, name)), name
    for name in FRAMES[4:]:
        assert pl.read_parquet(sample_dir / f"{name}.parquet").equals(getattr(world, name)), name
    assert sum(p.stat().st_size for p in sample_dir.glob("*.parquet")) <= 5_000_000


def test_every_transfer_names_the_payers_phone(world: World) -> None:
    """Alerts need the likely victim's number: every simulated payer has a registered phone."""
    assert world.transfers["payer_phone"].null_count() == 0
