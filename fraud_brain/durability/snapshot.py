"""Atomic, checksummed, versioned snapshots of named state parts, the last few kept.

A snapshot is a folder ``snap-<id, 12 digits>`` holding ``MANIFEST.json`` and one file or
folder per part under ``parts/``. It is built under a temporary name, every file and folder
fsynced, then renamed into place and the parent folder fsynced: a crash at any instant leaves
either the whole snapshot or a temporary folder that the next write removes. The manifest
carries the format version, the WAL sequence number the snapshot covers, the size and SHA-256
of every file, and a SHA-256 of itself.

:meth:`SnapshotStore.latest` returns the newest snapshot that verifies. A newer one that does
not (torn, damaged, written by a newer format version) is skipped with a warning naming it and
the reason, and the skip is also on the returned :attr:`Snapshot.skipped`.

>>> import tempfile
>>> store = SnapshotStore(tempfile.mkdtemp(), keep=2)
>>> store.register_bytes("cooldowns", lambda: b'{"rule-7": 1700000000}')
>>> first = store.write(wal_seq=10)
>>> second = store.write(wal_seq=25, parts={"dedupe": b"ids"})
>>> latest = store.latest()
>>> latest.id, latest.wal_seq, latest.parts(), latest.read_bytes("dedupe")
(2, 25, ['cooldowns', 'dedupe'], b'ids')
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraud_brain.durability.wal import fsync_dir
from fraud_brain.errors import StateError

log = logging.getLogger("fraud_brain.durability")

FORMAT = "fraud_brain.snapshot"
VERSION = 1
"""The manifest format this code writes and the newest it reads."""
MANIFEST = "MANIFEST.json"
PARTS = "parts"
TMP_PREFIX = ".tmp-snap-"
_SNAP = re.compile(r"^snap-(\d{12})$")
_PART_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")

PartSource = bytes | Callable[[Path], None]
"""A part's content: bytes, or a function that writes a file or a folder at the path it is given."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot on disk whose manifest and checksums verified."""

    id: int
    wal_seq: int
    created: str
    folder: Path
    manifest: dict[str, Any]
    skipped: tuple[str, ...] = field(default=())
    """Why each newer snapshot was passed over (empty when this is the newest)."""

    @property
    def meta(self) -> dict[str, Any]:
        """The free-form metadata given to :meth:`SnapshotStore.write`."""
        meta: dict[str, Any] = self.manifest.get("meta", {})
        return meta

    def parts(self) -> list[str]:
        """The part names, sorted."""
        return sorted(self.manifest["parts"])

    def path(self, part: str) -> Path:
        """The file or folder holding ``part``."""
        if part not in self.manifest["parts"]:
            raise StateError(f"snapshot {self.folder} has no part {part!r} (it has {self.parts()})")
        return self.folder / PARTS / part

    def read_bytes(self, part: str) -> bytes:
        """The content of a part that is a single file."""
        return self.path(part).read_bytes()


@dataclass(frozen=True)
class SnapshotStatus:
    """One snapshot folder and whether it verifies (``reason`` says why not)."""

    id: int
    folder: Path
    snapshot: Snapshot | None
    reason: str | None


class SnapshotStore:
    """Snapshots in ``folder``; each :meth:`write` keeps the newest ``keep`` (at least 1).

    Keep at least 2, and truncate the WAL only up to :meth:`oldest_wal_seq`, so that a damaged
    newest snapshot still has a previous one and the log entries after it to fall back to.
    """

    def __init__(self, folder: str | os.PathLike[str], *, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"keep={keep}: a snapshot store keeps at least 1 snapshot")
        self.folder = Path(folder)
        self.keep = keep
        self._bytes_parts: dict[str, Callable[[], bytes]] = {}
        self._path_parts: dict[str, Callable[[Path], None]] = {}

    # -- parts ---------------------------------------------------------------------------------

    def register_bytes(self, name: str, produce: Callable[[], bytes]) -> None:
        """Add a part to every later snapshot: ``produce()`` gives its bytes at snapshot time."""
        self._path_parts.pop(name, None)
        self._bytes_parts[_check_part_name(name)] = produce

    def register_path(self, name: str, write: Callable[[Path], None]) -> None:
        """Add a part to every later snapshot: ``write(path)`` makes a file or folder at ``path``."""
        self._bytes_parts.pop(name, None)
        self._path_parts[_check_part_name(name)] = write

    # -- writing -------------------------------------------------------------------------------

    def write(self, wal_seq: int, parts: Mapping[str, PartSource] | None = None,
              meta: Mapping[str, Any] | None = None) -> Snapshot:
        """Write a snapshot covering WAL entries up to ``wal_seq`` from the registered and given parts.

        The caller makes sure the parts hold exactly the state after entry ``wal_seq``.
        """
        sources: dict[str, PartSource] = {name: write for name, write in self._path_parts.items()}
        for name, produce in self._bytes_parts.items():
            sources[name] = produce()
        for name, part in (parts or {}).items():
            sources[_check_part_name(name)] = part
        if not sources:
            raise ValueError("a snapshot needs at least one part")
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            fsync_dir(self.folder.parent)
        self._remove_temporaries()
        snap_id = max((s for s, _ in self._folders()), default=0) + 1
        tmp = self.folder / f"{TMP_PREFIX}{snap_id:012d}-{uuid.uuid4().hex[:8]}"
        (tmp / PARTS).mkdir(parents=True)
        try:
            described = {name: _write_part(tmp / PARTS / name, source) for name, source in sorted(sources.items())}
            fsync_dir(tmp / PARTS)
            body = {"format": FORMAT, "version": VERSION, "id": snap_id, "wal_seq": int(wal_seq),
                    "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "parts": described, "meta": dict(meta or {})}
            manifest = {**body, "checksum": _manifest_checksum(body)}
            _write_file(tmp / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
            fsync_dir(tmp)
            final = self.folder / f"snap-{snap_id:012d}"
            os.rename(tmp, final)
            fsync_dir(self.folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._prune()
        return Snapshot(snap_id, int(wal_seq), str(body["created"]), final, manifest)

    def _remove_temporaries(self) -> None:
        """Half-written snapshots of a crashed run (the state-folder lock makes them not ours in progress)."""
        for path in self.folder.glob(f"{TMP_PREFIX}*"):
            log.warning("snapshot store %s: removing %s, a snapshot left half written by a crash",
                        self.folder, path.name)
            shutil.rmtree(path, ignore_errors=True)

    def _prune(self) -> None:
        folders = sorted(self._folders(), reverse=True)
        doomed = folders[self.keep:]
        for _, path in doomed:
            # rename first so a crash halfway through the delete never leaves a half snapshot named as one
            trash = path.with_name(f"{TMP_PREFIX}old-{path.name}")
            os.rename(path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        if doomed:
            fsync_dir(self.folder)

    # -- reading -------------------------------------------------------------------------------

    def _folders(self) -> list[tuple[int, Path]]:
        if not self.folder.exists():
            return []
        found = []
        for path in self.folder.iterdir():
            match = _SNAP.match(path.name)
            if match and path.is_dir():
                found.append((int(match.group(1)), path))
        return sorted(found)

    def scan(self) -> list[SnapshotStatus]:
        """Every snapshot folder, newest first, each verified in full."""
        statuses = []
        for snap_id, path in sorted(self._folders(), reverse=True):
            try:
                snapshot = _verify(snap_id, path)
                statuses.append(SnapshotStatus(snap_id, path, snapshot, None))
            except _Invalid as exc:
                statuses.append(SnapshotStatus(snap_id, path, None, str(exc)))
        return statuses

    def latest(self) -> Snapshot | None:
        """The newest snapshot that verifies, or ``None`` if there is none; skips are logged.

        Only the snapshots newer than the one returned are read in full.
        """
        skipped: list[str] = []
        for snap_id, path in sorted(self._folders(), reverse=True):
            try:
                snapshot = _verify(snap_id, path)
            except _Invalid as exc:
                skipped.append(f"{path.name}: {exc}")
                continue
            for reason in skipped:
                log.warning("snapshot store %s: skipped %s; falling back to %s (WAL seq %d)",
                            self.folder, reason, path.name, snapshot.wal_seq)
            self.last_skipped = tuple(skipped)
            return Snapshot(snapshot.id, snapshot.wal_seq, snapshot.created, snapshot.folder,
                            snapshot.manifest, tuple(skipped))
        for reason in skipped:
            log.warning("snapshot store %s: skipped %s; no good snapshot is left", self.folder, reason)
        self.last_skipped = tuple(skipped)
        return None

    last_skipped: tuple[str, ...] = ()
    """Why each snapshot was skipped by the last :meth:`latest` (also when none was left)."""

    def oldest_wal_seq(self) -> int | None:
        """The lowest WAL seq any kept snapshot covers: the WAL may be truncated up to it (inclusive).

        Read from the manifests without checking the part files (a damaged manifest counts as 0:
        nothing is truncated on its account being unreadable).
        """
        seqs = []
        for _, path in self._folders():
            try:
                seqs.append(int(json.loads((path / MANIFEST).read_bytes())["wal_seq"]))
            except (OSError, ValueError, KeyError, TypeError):
                seqs.append(0)
        return min(seqs) if seqs else None


class _Invalid(Exception):
    """A snapshot folder that does not verify (the message says why)."""


def _check_part_name(name: str) -> str:
    if not _PART_NAME.match(name):
        raise ValueError(f"snapshot part name {name!r}: use letters, digits, '_', '.', '-' (at most 100)")
    return name


def _manifest_checksum(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_part(path: Path, source: PartSource) -> dict[str, Any]:
    """Write one part at ``path``, fsync it, and describe its files for the manifest."""
    if isinstance(source, bytes | bytearray | memoryview):
        _write_file(path, bytes(source))
    elif callable(source):
        source(path)
        if not path.exists():
            raise StateError(f"snapshot part writer for {path.name!r} made nothing at {path}")
    else:
        raise TypeError(f"snapshot part {path.name!r}: bytes or a callable taking a path, not {type(source).__name__}")
    files: dict[str, dict[str, Any]] = {}
    if path.is_dir():
        for folder, subfolders, names in os.walk(path):
            for name in names:
                file = Path(folder) / name
                _fsync_file(file)
                files[file.relative_to(path).as_posix()] = {"bytes": file.stat().st_size, "sha256": _hash_file(file)}
            for sub in subfolders:
                fsync_dir(Path(folder) / sub)
        fsync_dir(path)
        return {"kind": "dir", "files": files}
    _fsync_file(path)
    return {"kind": "file", "bytes": path.stat().st_size, "sha256": _hash_file(path)}


def _verify(snap_id: int, folder: Path) -> Snapshot:
    """The snapshot in ``folder`` if its manifest and every file check out, else :class:`_Invalid`."""
    try:
        return _verify_unchecked(snap_id, folder)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _Invalid(f"{MANIFEST} is malformed ({exc.__class__.__name__}: {exc})") from None


def _verify_unchecked(snap_id: int, folder: Path) -> Snapshot:
    try:
        raw = (folder / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise _Invalid(f"no {MANIFEST}") from None
    try:
        manifest = json.loads(raw)
        body = {key: value for key, value in manifest.items() if key != "checksum"}
        checksum = manifest["checksum"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _Invalid(f"{MANIFEST} is not readable JSON with a checksum ({exc.__class__.__name__}: {exc})") from None
    if _manifest_checksum(body) != checksum:
        raise _Invalid(f"{MANIFEST} checksum does not match its content (damaged)")
    if manifest.get("format") != FORMAT:
        raise _Invalid(f"{MANIFEST} format is {manifest.get('format')!r}, not {FORMAT!r}")
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise _Invalid(f"written in snapshot format version {version}; this build reads versions up to {VERSION}")
    if manifest.get("id") != snap_id:
        raise _Invalid(f"{MANIFEST} says id {manifest.get('id')}, the folder name says {snap_id}")
    for part, described in manifest["parts"].items():
        target = folder / PARTS / part
        if described["kind"] == "dir":
            expected = {target / rel: info for rel, info in described["files"].items()}
        else:
            expected = {target: described}
        for file, info in expected.items():
            where = f"part {part!r} file {file.relative_to(folder)}"
            try:
                size = file.stat().st_size
            except FileNotFoundError:
                raise _Invalid(f"{where} is missing") from None
            if size != info["bytes"]:
                raise _Invalid(f"{where} is {size} bytes, the manifest says {info['bytes']} (torn)")
            if _hash_file(file) != info["sha256"]:
                raise _Invalid(f"{where} SHA-256 does not match the manifest (damaged)")
    return Snapshot(snap_id, int(manifest["wal_seq"]), str(manifest["created"]), folder, manifest)
