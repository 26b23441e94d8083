"""Model registry: versioned LightGBM models on disk, with a champion and a shadow challenger.

Layout::

    models/<name>/<version>/model.txt      LightGBM text format
    models/<name>/<version>/manifest.json  feature list, spec hash, windows, metrics, ...
    models/<name>/CHAMPION                  the version the engine acts on
    models/<name>/CHALLENGER                a version scored in shadow (logged, not acted on)

Loading checks the model's feature list and spec hash against the running feature spec and
refuses a mismatch, because a booster fed columns in the wrong order scores silently wrong.

>>> import tempfile, numpy as np, lightgbm as lgb
>>> X = np.random.default_rng(0).normal(size=(200, 2)); y = (X[:, 0] > 0).astype(float)
>>> booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 5)
>>> registry = ModelRegistry(tempfile.mkdtemp())
>>> manifest = Manifest.new("transfer", ["amount", "payee_age_days"], "abc123")
>>> published = registry.publish(booster, manifest, champion=True)
>>> published.manifest.version, registry.champion("transfer")
('v001', 'v001')
>>> registry.load_champion("transfer", ["amount", "payee_age_days"], "abc123").manifest.spec_hash
'abc123'
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from fraud_brain.errors import ConfigError, InputError, MissingInputError, first_line

MODEL_FILE = "model.txt"
MANIFEST_FILE = "manifest.json"
CHAMPION_FILE = "CHAMPION"
CHALLENGER_FILE = "CHALLENGER"
_VERSION = re.compile(r"^v(\d{3,})$")
_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class FeatureMismatchError(ConfigError):
    """A model's features or spec hash do not match the running feature spec (models and spec were set up apart)."""


@dataclass
class Manifest:
    """What a model was trained on and how well it did; saved next to the model.

    >>> m = Manifest.new("transfer", ["a", "b"], "h1", metrics={"ap": 0.5})
    >>> Manifest.from_dict(m.to_dict()) == m
    True
    """

    name: str
    feature_names: list[str]
    spec_hash: str
    event_type: str = "transfer"
    train_window: tuple[str, str] | None = None
    gap: str | None = None
    test_window: tuple[str, str] | None = None
    label_cutoff: str | None = None
    data_fingerprint: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    blend: dict[str, Any] | None = None
    created_at: str = ""
    lightgbm_version: str = ""
    version: str | None = None

    @classmethod
    def new(cls, name: str, feature_names: list[str], spec_hash: str, **extra: Any) -> Manifest:
        """A manifest stamped with the current time and LightGBM version."""
        return cls(
            name=name,
            feature_names=list(feature_names),
            spec_hash=spec_hash,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            lightgbm_version=lgb.__version__,
            **extra,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "manifest") -> Manifest:
        """Build a manifest from a dict, naming the source and field when one is missing."""
        for required in ("name", "feature_names", "spec_hash"):
            if required not in data:
                raise ConfigError(f"{source}: field {required!r} is missing")
        if not isinstance(data["feature_names"], list) or not all(
            isinstance(n, str) for n in data["feature_names"]
        ):
            raise ConfigError(f"{source}: field 'feature_names' must be a list of strings")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {unknown}")
        values = dict(data)
        for window in ("train_window", "test_window"):
            if values.get(window) is not None:
                values[window] = tuple(values[window])
        return cls(**values)


@dataclass
class LoadedModel:
    """A booster with its manifest, as loaded from the registry."""

    booster: lgb.Booster
    manifest: Manifest
    path: Path


def check_compatible(manifest: Manifest, feature_names: list[str], spec_hash: str) -> None:
    """Raise :class:`FeatureMismatchError` unless a model fits the running feature spec.

    >>> m = Manifest.new("transfer", ["a", "b"], "h1")
    >>> check_compatible(m, ["a", "b"], "h1")
    >>> check_compatible(m, ["a", "c"], "h1")
    Traceback (most recent call last):
    ...
    fraud_brain.scoring.registry.FeatureMismatchError: model transfer/None was trained on spec h1 ...
    (missing from running spec: ['b']; new in running spec: ['c'])
    """
    label = f"{manifest.name}/{manifest.version}"
    if list(feature_names) != list(manifest.feature_names):
        missing = [f for f in manifest.feature_names if f not in feature_names]
        extra = [f for f in feature_names if f not in manifest.feature_names]
        detail = f"missing from running spec: {missing}; new in running spec: {extra}"
        if not missing and not extra:
            detail = "same features in a different order"
        raise FeatureMismatchError(
            f"model {label} was trained on spec {manifest.spec_hash} with features "
            f"{manifest.feature_names}, but the running spec {spec_hash} has features "
            f"{list(feature_names)} ({detail})"
        )
    if spec_hash != manifest.spec_hash:
        raise FeatureMismatchError(
            f"model {label} was trained on feature spec {manifest.spec_hash}, but the running "
            f"feature spec is {spec_hash}; retrain the model or run the matching spec"
        )


def data_fingerprint(frame: pl.DataFrame) -> str:
    """A short content hash of a training frame (column names, dtypes and values).

    >>> a = pl.DataFrame({"x": [1.0, 2.0]})
    >>> data_fingerprint(a) == data_fingerprint(a.clone()), data_fingerprint(a) == data_fingerprint(a.reverse())
    (True, False)
    """
    digest = hashlib.sha256()
    for name, series in frame.to_dict().items():
        digest.update(f"{name}:{series.dtype};".encode())
        if series.dtype.is_numeric() or series.dtype == pl.Boolean:
            values = series.to_numpy(allow_copy=True)
            digest.update(np.ascontiguousarray(values).tobytes())
            digest.update(series.is_null().to_numpy().tobytes())
        else:
            digest.update("\x1f".join("" if v is None else str(v) for v in series.to_list()).encode())
    return digest.hexdigest()[:16]


class ModelRegistry:
    """Versioned models under one folder, with champion and challenger markers per model name."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def names(self) -> list[str]:
        """Model names that have at least one version."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def versions(self, name: str) -> list[str]:
        """Versions of a model, oldest first."""
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir() if p.is_dir() and _VERSION.match(p.name)]
        return sorted(found, key=lambda v: int(v[1:]))

    def _next_version(self, name: str) -> str:
        existing = self.versions(name)
        number = int(existing[-1][1:]) + 1 if existing else 1
        return f"v{number:03d}"

    def publish(
        self, booster: lgb.Booster, manifest: Manifest, champion: bool = False, challenger: bool = False
    ) -> LoadedModel:
        """Save a booster as the next version of ``manifest.name``; optionally mark it."""
        if not _NAME.match(manifest.name):
            raise InputError(f"model name {manifest.name!r} must be 1-64 letters, digits, '_' or '-'")
        if booster.num_feature() != len(manifest.feature_names):
            raise ValueError(
                f"model {manifest.name}: booster has {booster.num_feature()} features but the "
                f"manifest lists {len(manifest.feature_names)}"
            )
        version = self._next_version(manifest.name)
        manifest.version = version
        folder = self.root / manifest.name / version
        folder.mkdir(parents=True, exist_ok=False)
        booster.save_model(str(folder / MODEL_FILE))
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n")
        if champion:
            self.set_champion(manifest.name, version)
        if challenger:
            self.set_challenger(manifest.name, version)
        return LoadedModel(booster, manifest, folder)

    def manifest(self, name: str, version: str) -> Manifest:
        """Read and validate a version's manifest."""
        path = self._folder(name, version) / MANIFEST_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise MissingInputError(f"{path}: manifest is missing") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the manifest ({error.strerror})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            where = f"line {error.lineno}: " if isinstance(error, json.JSONDecodeError) else ""
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8 text"
            raise ConfigError(f"{path}: {where}invalid JSON ({reason})") from None
        manifest = Manifest.from_dict(data, source=str(path))
        manifest.version = version
        return manifest

    def load(
        self, name: str, version: str, feature_names: list[str] | None = None, spec_hash: str | None = None
    ) -> LoadedModel:
        """Load one version; when a running spec is given, refuse a model that does not match it."""
        manifest = self.manifest(name, version)
        if feature_names is not None or spec_hash is not None:
            check_compatible(
                manifest,
                manifest.feature_names if feature_names is None else feature_names,
                manifest.spec_hash if spec_hash is None else spec_hash,
            )
        folder = self._folder(name, version)
        try:
            booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
        except lgb.basic.LightGBMError as error:
            raise ConfigError(f"{folder / MODEL_FILE}: not a readable LightGBM model ({first_line(error)})") from None
        if booster.feature_name() and len(booster.feature_name()) != len(manifest.feature_names):
            raise ConfigError(
                f"{folder}: model.txt has {booster.num_feature()} features, "
                f"manifest lists {len(manifest.feature_names)}"
            )
        return LoadedModel(booster, manifest, folder)

    def load_champion(self, name: str, feature_names: list[str], spec_hash: str) -> LoadedModel:
        """Load the champion of a model name, checked against the running spec."""
        version = self.champion(name)
        if version is None:
            raise MissingInputError(f"model {name!r} has no champion under {self.root}")
        return self.load(name, version, feature_names, spec_hash)

    def load_challenger(self, name: str, feature_names: list[str], spec_hash: str) -> LoadedModel | None:
        """Load the shadow challenger of a model name, or None when there is none."""
        version = self.challenger(name)
        return None if version is None else self.load(name, version, feature_names, spec_hash)

    def champion(self, name: str) -> str | None:
        """The champion version of a model name, or None."""
        return self._marker(name, CHAMPION_FILE)

    def challenger(self, name: str) -> str | None:
        """The challenger version of a model name, or None."""
        return self._marker(name, CHALLENGER_FILE)

    def set_champion(self, name: str, version: str) -> None:
        """Mark a version as the champion (a challenger promoted this way stops being challenger)."""
        self._folder(name, version)
        self._write_marker(name, CHAMPION_FILE, version)
        if self.challenger(name) == version:
            self.set_challenger(name, None)

    def set_challenger(self, name: str, version: str | None) -> None:
        """Mark a version to run in shadow, or clear the challenger with None."""
        marker = self.root / name / CHALLENGER_FILE
        if version is None:
            marker.unlink(missing_ok=True)
            return
        self._folder(name, version)
        if self.champion(name) == version:
            raise InputError(f"model {name}: {version} is the champion; it cannot also be the challenger")
        self._write_marker(name, CHALLENGER_FILE, version)

    def promote_challenger(self, name: str) -> str:
        """Make the challenger the champion; returns the promoted version."""
        version = self.challenger(name)
        if version is None:
            raise MissingInputError(f"model {name!r} has no challenger to promote")
        self.set_champion(name, version)
        return version

    def _folder(self, name: str, version: str) -> Path:
        folder = self.root / name / version
        if not (folder / MODEL_FILE).exists():
            known = ", ".join(self.versions(name)) or "none"
            raise MissingInputError(f"model {name}/{version} not found under {self.root} (versions: {known})")
        return folder

    def _marker(self, name: str, marker: str) -> str | None:
        path = self.root / name / marker
        if not path.exists():
            return None
        version = path.read_text().strip()
        return version or None

    def _write_marker(self, name: str, marker: str, version: str) -> None:
        path = self.root / name / marker
        tmp = path.with_suffix(".tmp")
        tmp.write_text(version + "\n")
        tmp.replace(path)
