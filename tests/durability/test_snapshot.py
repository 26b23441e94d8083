"""Snapshots: round trips, retention, fallback past torn or damaged ones, versions, crashed writes."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraud_brain.durability.snapshot import MANIFEST, SnapshotStore, _manifest_checksum
from fraud_brain.errors import StateError


def write_engine(path: Path) -> None:
    """A part that is a folder with a nested file, as an engine's save() might make."""
    (path / "tables").mkdir(parents=True)
    (path / "spec.toml").write_text("[spec]\nname = 't'\n")
    (path / "tables" / "phone.bin").write_bytes(bytes(range(256)) * 10)


def test_round_trip_of_bytes_file_and_folder_parts(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    counter = {"n": 0}

    def cooldowns() -> bytes:
        counter["n"] += 1
        return json.dumps({"rule-7": counter["n"]}).encode()

    store.register_bytes("cooldowns", cooldowns)
    store.register_path("engine", write_engine)
    written = store.write(42, parts={"dedupe": b"\x00ids", "model": lambda p: p.write_bytes(b"river")},
                          meta={"records": 1000})
    latest = store.latest()
    assert latest is not None and latest.skipped == ()
    assert (latest.id, latest.wal_seq, latest.meta) == (written.id, 42, {"records": 1000})
    assert latest.parts() == ["cooldowns", "dedupe", "engine", "model"]
    assert latest.read_bytes("cooldowns") == b'{"rule-7": 1}'
    assert latest.read_bytes("dedupe") == b"\x00ids"
    assert latest.read_bytes("model") == b"river"
    assert (latest.path("engine") / "tables" / "phone.bin").read_bytes() == bytes(range(256)) * 10
    manifest = json.loads((latest.folder / MANIFEST).read_text())
    assert manifest["version"] == 1 and manifest["wal_seq"] == 42
    assert manifest["parts"]["dedupe"]["sha256"] == hashlib.sha256(b"\x00ids").hexdigest()
    assert set(manifest["parts"]["engine"]["files"]) == {"spec.toml", "tables/phone.bin"}
    with pytest.raises(StateError, match="no part 'nope'"):
        latest.path("nope")
    # registered parts are produced again for every snapshot
    assert store.write(43).read_bytes("cooldowns") == b'{"rule-7": 2}'


def test_bad_part_names_and_empty_snapshots_are_refused(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    for name in ("../x", "", "a/b", ".hidden"):
        with pytest.raises(ValueError, match="part name"):
            store.write(1, parts={name: b"x"})
    with pytest.raises(ValueError, match="at least one part"):
        store.write(1)
    with pytest.raises(ValueError, match="keep"):
        SnapshotStore(tmp_path, keep=0)


def test_retention_keeps_the_newest(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, keep=2)
    for seq in (10, 20, 30, 40, 50):
        store.write(seq, parts={"state": str(seq).encode()})
    assert [s.id for s in store.scan()] == [5, 4]
    assert store.oldest_wal_seq() == 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap-000000000004", "snap-000000000005"]


def test_torn_latest_falls_back_to_the_previous_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SnapshotStore(tmp_path)
    store.write(100, parts={"engine": b"A" * 1000})
    newest = store.write(200, parts={"engine": b"B" * 1000})
    part = newest.path("engine")
    part.write_bytes(part.read_bytes()[:400])  # cut short, as a crash in a non-atomic write would
    with caplog.at_level(logging.WARNING, logger="fraud_brain.durability"):
        latest = store.latest()
    assert latest is not None and latest.wal_seq == 100 and latest.read_bytes("engine") == b"A" * 1000
    assert len(latest.skipped) == 1
    assert "snap-000000000002" in latest.skipped[0] and "400 bytes, the manifest says 1000 (torn)" in latest.skipped[0]
    assert "skipped snap-000000000002" in caplog.text
    assert "falling back to snap-000000000001 (WAL seq 100)" in caplog.text


@pytest.mark.parametrize("damage, reason", [
    ("flip", "SHA-256 does not match"),
    ("missing part", "is missing"),
    ("no manifest", f"no {MANIFEST}"),
    ("torn manifest", "not readable JSON"),
    ("edited manifest", "checksum does not match"),
    ("newer version", "format version 2; this build reads versions up to 1"),
])
def test_each_kind_of_damage_is_skipped_with_its_reason(tmp_path: Path, damage: str, reason: str) -> None:
    store = SnapshotStore(tmp_path)
    store.write(1, parts={"engine": b"old", "dedupe": b"d"})
    newest = store.write(2, parts={"engine": b"new state", "dedupe": b"d"})
    manifest_path = newest.folder / MANIFEST
    if damage == "flip":
        raw = bytearray(newest.path("engine").read_bytes())
        raw[3] ^= 0x01
        newest.path("engine").write_bytes(bytes(raw))
    elif damage == "missing part":
        newest.path("dedupe").unlink()
    elif damage == "no manifest":
        manifest_path.unlink()
    elif damage == "torn manifest":
        manifest_path.write_bytes(manifest_path.read_bytes()[:50])
    elif damage == "edited manifest":
        manifest = json.loads(manifest_path.read_text())
        manifest["wal_seq"] = 999
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "newer version":
        manifest = json.loads(manifest_path.read_text())
        manifest["version"] = 2
        body = {k: v for k, v in manifest.items() if k != "checksum"}
        manifest["checksum"] = _manifest_checksum(body)
        manifest_path.write_text(json.dumps(manifest))
    latest = store.latest()
    assert latest is not None and latest.id == 1 and latest.read_bytes("engine") == b"old"
    assert len(latest.skipped) == 1 and reason in latest.skipped[0], latest.skipped
    statuses = store.scan()
    assert [(s.id, s.snapshot is not None) for s in statuses] == [(2, False), (1, True)]
    assert statuses[0].reason is not None and reason in statuses[0].reason


def test_no_good_snapshot_left_returns_none_and_the_reasons(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    assert store.latest() is None
    only = store.write(5, parts={"engine": b"x"})
    only.path("engine").write_bytes(b"y")
    assert store.latest() is None
    assert len(store.last_skipped) == 1 and "snap-000000000001" in store.last_skipped[0]


def test_a_crashed_write_leaves_nothing_that_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SnapshotStore(tmp_path)
    store.write(1, parts={"engine": b"good"})

    def crash(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        store.write(2, parts={"engine": crash})
    assert [s.id for s in store.scan()] == [1]
    assert not list(tmp_path.glob(".tmp-*"))
    # a temporary folder from a kill -9 mid-write is ignored, then removed by the next write
    shutil.copytree(tmp_path / "snap-000000000001", tmp_path / ".tmp-snap-000000000002-deadbeef")
    latest = store.latest()
    assert latest is not None and latest.id == 1
    with caplog.at_level(logging.WARNING, logger="fraud_brain.durability"):
        assert store.write(3, parts={"engine": b"next"}).id == 2
    assert "half written by a crash" in caplog.text
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_part_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    with pytest.raises(StateError, match="made nothing"):
        store.write(1, parts={"engine": lambda path: None})
    assert store.latest() is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.one_of(st.tuples(st.just("write"), st.binary(min_size=1, max_size=40)),
                                st.tuples(st.just("damage"), st.integers(0, 5))), max_size=12),
       keep=st.integers(1, 4))
def test_latest_is_the_newest_undamaged_kept_snapshot(tmp_path_factory: pytest.TempPathFactory,
                                                      steps: list[tuple[str, object]], keep: int) -> None:
    """Reference: a list of (id, seq, content, damaged) trimmed to the newest ``keep`` after each write."""
    store = SnapshotStore(tmp_path_factory.mktemp("snaps"), keep=keep)
    model: list[dict[str, object]] = []
    seq = 0
    for kind, value in steps:
        if kind == "write":
            assert isinstance(value, bytes)
            seq += len(value)
            snap = store.write(seq, parts={"state": value})
            model.append({"id": snap.id, "seq": seq, "content": value, "damaged": False, "snap": snap})
            model = model[-keep:]
        elif model:
            assert isinstance(value, int)
            victim = model[-1 - value % len(model)]
            path = victim["snap"].path("state")  # type: ignore[attr-defined]
            path.write_bytes(path.read_bytes() + b"!")
            victim["damaged"] = True
    good = [m for m in model if not m["damaged"]]
    latest = store.latest()
    if not good:
        assert latest is None
        return
    assert latest is not None
    assert (latest.id, latest.wal_seq, latest.read_bytes("state")) == (good[-1]["id"], good[-1]["seq"],
                                                                       good[-1]["content"])
    assert len(latest.skipped) == sum(1 for m in model if m["damaged"] and m["id"] > good[-1]["id"])  # type: ignore[operator]
