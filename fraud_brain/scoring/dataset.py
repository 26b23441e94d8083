"""Training data by replay: a data folder through the feature engine into model-ready frames.

The features are made only by :func:`fraud_brain.features.replay` (the same code that runs
online), so training sees exactly what scoring will. A spec hash ties each model to the
feature spec it was trained on.

:func:`build_spec_data` works for any spec: it reads the record kinds the spec uses (built-in
and declared), replays them, and gives each scored stream its feature frame and its training
target as the spec's ``[streams.NAME.scoring]`` table says (labels of the ``label`` entity
type naming the row's ``label`` key). :func:`build_training_data` is the telecom view of the
same (transfers and calls, evaluated by the cross-channel protocol).

>>> from fraud_brain.features import bundled_spec
>>> len(spec_hash(bundled_spec("telecom")))
16
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import polars as pl

from fraud_brain.errors import InputError, MissingInputError
from fraud_brain.scoring.offline import TimeSplit, label_events

TRUTH_FILES = ("truth_transfers", "truth_calls", "truth_entities", "truth_episodes")


def telecom_protocol(spec: Any) -> bool:
    """Whether a spec is trained and evaluated by the telecom protocol: it scores the built-in
    ``transfer`` stream (and perhaps ``call``) and nothing else, or scores nothing explicitly
    but has a ``transfer`` stream (a spec written before scoring tables); any other spec goes
    through :func:`build_spec_data`.

    >>> from fraud_brain.features import bundled_spec
    >>> telecom_protocol(bundled_spec("telecom")), telecom_protocol(bundled_spec("card"))
    (True, False)
    """
    scored = {name: spec.streams[name].schema for name in spec.scored_streams()}
    if not scored:
        return "transfer" in spec.streams and spec.streams["transfer"].schema == "transfer"
    return "transfer" in scored and all(kind == name and name in ("call", "transfer") for name, kind in scored.items())


def spec_hash(spec: Any) -> str:
    """A short hash of what a feature spec says (its parsed TOML), so comments and layout
    do not matter but any change of meaning does.

    >>> class A: text = "a = [1, 2]  # one"
    >>> class B: text = "a   =   [ 1, 2 ]"
    >>> class C: text = "a = [1, 3]"
    >>> class D: text = "streams = { x = { id = 'i', scoring = { model = 'y' } } }"
    >>> class E: text = "streams = { x = { id = 'i' } }"
    >>> spec_hash(A()) == spec_hash(B()), spec_hash(A()) == spec_hash(C()), spec_hash(D()) == spec_hash(E())
    (True, False, True)
    """
    data = tomllib.loads(str(spec.text))
    # What a stream is scored for (its descriptor), the record kinds' checks and the label
    # vocabulary do not change a single feature value: a model stays valid across them.
    for key in ("records", "labels"):
        data.pop(key, None)
    for stream in data.get("streams", {}).values():
        if isinstance(stream, dict):
            stream.pop("scoring", None)
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class TrainingData:
    """Replayed feature frames of one data folder, with labels and (simulated) ground truth."""

    transfers: pl.DataFrame
    transfer_groups: dict[str, str]
    calls: pl.DataFrame | None
    call_groups: dict[str, str]
    labels: pl.DataFrame
    spec_hash: str
    truth: dict[str, pl.DataFrame]

    @property
    def first_scam_calls(self) -> pl.DataFrame | None:
        """Per victim payer account, the time of the first scam call (from the ground truth)."""
        truth = self.truth.get("truth_transfers")
        if truth is None or "first_scam_call_time" not in truth.columns:
            return None
        if "payer_account" in truth.columns:
            joined = truth
        else:
            joined = truth.join(self.transfers.select("transfer_id", "payer_account"), on="transfer_id", how="inner")
        return joined.group_by("payer_account").agg(pl.col("first_scam_call_time").min())

    def evaluation_labels(self) -> pl.DataFrame:
        """Labels for scoring test windows: ground truth when the data set has it, else all labels.

        Simulated truth also counts scams no victim ever reported, which the labels miss. Only
        the victims' own transfers count (``kind == "victim"`` when the truth has kinds): the
        money a warning can still save, and what victim reports label. Mule onward transfers,
        cash-outs and the rebates scammers pay victims are scam traffic of another kind.
        """
        truth = self.truth.get("truth_transfers")
        if truth is None or "transfer_id" not in truth.columns:
            return self.labels
        scams = truth
        for flag in ("is_scam", "is_fraud"):
            if flag in truth.columns:
                scams = scams.filter(pl.col(flag))
        if "kind" in truth.columns:
            scams = scams.filter(pl.col("kind").cast(pl.String) == "victim")
        return scams.select(
            pl.lit("transfer").alias("entity_type"),
            pl.col("transfer_id").alias("entity_id"),
            pl.lit(True).alias("is_fraud"),
            pl.lit(None, pl.Datetime("ms", "UTC")).alias("known_at"),
        )

    def default_split(
        self, train_days: float | None = None, gap_days: float | None = None, test_days: float | None = None
    ) -> TimeSplit:
        """A train / gap / test split over the transfers' time span (missing parts filled in).

        By default the gap is the smaller of 2 days and 15% of the span (whole days when at
        least one), and the rest is cut in two halves for training and testing.
        """
        return default_split(self.transfers["time"], train_days, gap_days, test_days)


def default_split(
    times: pl.Series, train_days: float | None = None, gap_days: float | None = None, test_days: float | None = None
) -> TimeSplit:
    """A train / gap / test split over the span of ``times`` (missing parts filled in).

    By default the gap is the smaller of 2 days and 15% of the span (whole days when at
    least one), and the rest is cut in two halves for training and testing.

    >>> from datetime import datetime, UTC
    >>> days = pl.Series([datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 21, tzinfo=UTC)])
    >>> split = default_split(days)
    >>> split.train_end.day, split.gap.days, split.test_start.day
    (10, 2, 12)
    """
    if times.is_empty() or times.null_count() == times.len():
        raise InputError("no events to split into training and test windows")
    first, last = cast(datetime, times.min()), cast(datetime, times.max())
    start = first.replace(minute=0, second=0, microsecond=0)
    span = (last - start).total_seconds() / 86_400

    def hours(days: float) -> float:
        # whole hours keep the windows readable
        return round(days * 24) / 24

    default_gap = min(2.0, 0.15 * span)
    gap = hours(gap_days if gap_days is not None else (round(default_gap) if default_gap >= 1 else default_gap))
    train = hours(train_days if train_days is not None else (span - gap) / 2)
    test = test_days if test_days is not None else span - gap - train + 1 / 24
    try:
        return TimeSplit(
            start, start + timedelta(days=train), timedelta(days=gap), start + timedelta(days=train + gap + test)
        )
    except ValueError as error:
        raise InputError(f"{error} (the data spans {span:.1f} days)") from None


def load_sources(data_dir: str | Path) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """The record files of a data folder (validated) and its ground-truth files, if any."""
    from fraud_brain.io.files import load_folder

    folder = Path(data_dir)
    if not folder.is_dir():
        raise MissingInputError(f"data folder {folder} does not exist")
    sources = load_folder(folder, required=("transfer", "label"))
    return sources, read_truth(folder)


def read_truth(folder: Path) -> dict[str, pl.DataFrame]:
    """The simulated ground-truth files of a data folder (``truth_*.parquet``), by name; for measuring only.

    >>> read_truth(Path("/nonexistent"))
    {}
    """
    from fraud_brain.io.files import find_record_file

    truth: dict[str, pl.DataFrame] = {}
    for name in TRUTH_FILES:
        found = find_record_file(folder, name)
        if found is not None and found.suffix == ".parquet":
            truth[name] = pl.read_parquet(found)
    return truth


def build_training_data(
    data_dir: str | Path,
    spec_name: Any = "telecom",
    progress: Callable[[int, int], None] | None = None,
) -> TrainingData:
    """Replay a data folder through a telecom spec (``spec_name``): its transfers and calls.

    The telecom view of :func:`build_spec_data`; raises :class:`MissingInputError` when the
    folder has no transfers.
    """
    from fraud_brain.features import bundled_spec, resolve_spec

    spec = resolve_spec(spec_name)
    scoring: dict[str, Any] | None = None
    if not spec.scored_streams():
        # a spec written before scoring tables: its streams are scored as the bundled telecom spec says
        telecom = bundled_spec("telecom")
        scoring = {name: telecom.scoring(name) for name in ("call", "transfer") if name in spec.streams}
    data = build_spec_data(data_dir, spec, progress=progress, scoring=scoring)
    transfer = data.streams.get("transfer")
    if transfer is None:
        raise MissingInputError(f"data folder {data_dir}: no transfers file (transfers.parquet/.csv/.jsonl)")
    call = data.streams.get("call")
    calls = None if call is None else call.frame
    call_groups = call.feature_groups if call is not None and call.frame.height else {}
    return TrainingData(transfer.frame.sort("time"), transfer.feature_groups, calls, call_groups, data.labels,
                        data.spec_hash, {k: v for k, v in data.truth.items() if k in TRUTH_FILES})


@dataclass
class SpecSources:
    """The record files of a data folder that a spec reads, validated, with its ground truth."""

    streams: dict[str, pl.DataFrame]
    """Stream name → records (only streams whose file exists)."""
    reference: dict[str, pl.DataFrame]
    """Reference table name → rows (tables the spec joins and the folder holds)."""
    labels: pl.DataFrame | None
    """Confirmed outcomes, validated against the spec's ``label`` schema (its entity types)."""
    truth: dict[str, pl.DataFrame]
    """``truth_*.parquet`` files (a simulator's ground truth), by file name."""


def _stream_file_names(spec: Any, stream: str) -> list[str]:
    """Where a stream's records may be.

    ``<kind>.*`` / ``<kind>s.*`` (built-in kinds: their plural), else ``<stream>.*``.
    """
    from fraud_brain.io.files import DEFAULT_FILE_NAMES

    kind = spec.streams[stream].schema
    if kind in DEFAULT_FILE_NAMES:
        return [DEFAULT_FILE_NAMES[kind]]
    names = [] if kind is None else [kind, kind + "s"]
    return [*names, stream, stream + "s"]


def load_spec_sources(data_dir: str | Path, spec: Any) -> SpecSources:
    """Read the records a spec uses from a data folder (built-in and declared kinds), validated.

    A stream of record kind ``K`` is read from ``K.*`` or ``Ks.*`` (built-in kinds from their
    plural, ``calls.parquet``), else from ``<stream>.*``; labels from the spec's label stream
    or ``labels.*``; reference tables from ``<table>.*``. Raises :class:`MissingInputError`
    when the folder is missing or holds no file for any scored stream.

    >>> from fraud_brain.features import bundled_spec
    >>> load_spec_sources("/nonexistent", bundled_spec("card"))
    Traceback (most recent call last):
    ...
    fraud_brain.errors.MissingInputError: data folder /nonexistent does not exist
    """
    from fraud_brain.features.replay import read_source
    from fraud_brain.io.files import DEFAULT_FILE_NAMES, find_record_file, load_kind

    folder = Path(data_dir)
    if not folder.is_dir():
        raise MissingInputError(f"data folder {folder} does not exist")
    streams: dict[str, pl.DataFrame] = {}
    for stream, meta in spec.streams.items():
        for name in _stream_file_names(spec, stream):
            if meta.schema is not None:
                frame = load_kind(folder, spec.record_schema(meta.schema), name)
            else:
                path = find_record_file(folder, name)
                frame = None if path is None else read_source(path)
            if frame is not None:
                streams[stream] = frame
                break
    scored = spec.scored_streams()
    if scored and not any(stream in streams for stream in scored):
        expected = "; ".join(
            f"{stream}: {' or '.join(n + '.parquet/.csv/.jsonl' for n in _stream_file_names(spec, stream)[:2])}"
            for stream in scored
        )
        raise MissingInputError(
            f"data folder {folder}: no records for the scored stream(s) of spec {spec.name!r} ({expected})"
        )
    reference: dict[str, pl.DataFrame] = {}
    kind_of_file = {file: kind for kind, file in DEFAULT_FILE_NAMES.items()}
    for join in spec.joins:
        kind = kind_of_file.get(join.table)
        if kind is not None:
            table = load_kind(folder, spec.record_schema(kind))
        else:
            path = find_record_file(folder, join.table)
            table = None if path is None else read_source(path)
        if table is not None:
            reference[join.table] = table
    if spec.label_stream is not None:
        labels = streams.get(spec.label_stream)
    else:
        labels = load_kind(folder, spec.record_schema("label"))
    truth = {
        path.stem: pl.read_parquet(path) for path in sorted(folder.glob("truth_*.parquet"))
    }
    return SpecSources(streams, reference, labels, truth)


@dataclass
class ScoredStream:
    """The replayed feature frame of one scored stream, and how the spec says to label it.

    ``frame`` holds one row per event, in event-time order: the stream's id and time, its
    passthrough columns, the emitted features, and the record columns the scoring table names
    (label key, risk key, victims, amount).
    """

    name: str
    scoring: Any
    """The stream's :class:`fraud_brain.features.spec.Scoring` descriptor."""
    frame: pl.DataFrame
    feature_groups: dict[str, str]
    id_col: str
    time_col: str

    @property
    def feature_names(self) -> list[str]:
        """The model's input columns: every feature the spec emits for the stream."""
        return list(self.feature_groups)

    @property
    def entity(self) -> str:
        """The column alerts are counted by (the risk key, else the first victim, else the label key)."""
        return str(self.scoring.risk_key or (self.scoring.victim[0] if self.scoring.victim else self.scoring.label_key))

    def target(self, labels: pl.DataFrame, as_of: Any = None) -> pl.DataFrame:
        """The frame with its 0/1 ``label``: labels of the scoring's entity type naming the row's
        label key, known by ``as_of`` (None: every label)."""
        return label_events(self.frame, labels, self.scoring.label_entity, self.scoring.label_key, as_of)


@dataclass
class SpecData:
    """Every scored stream of a spec, replayed from one data folder, with labels and ground truth."""

    spec: Any
    streams: dict[str, ScoredStream]
    labels: pl.DataFrame
    spec_hash: str
    truth: dict[str, pl.DataFrame]

    def evaluation_labels(self, stream: str) -> pl.DataFrame:
        """Labels that judge a stream's test window: the simulator's truth when the folder has it
        (``truth_<stream>.parquet`` with the label key and ``is_fraud``), else every label."""
        scored = self.streams[stream]
        key = scored.scoring.label_key
        for name in (f"truth_{stream}", f"truth_{stream}s"):
            truth = self.truth.get(name)
            if truth is None or key not in truth.columns:
                continue
            flag = next((f for f in ("is_fraud", "is_scam") if f in truth.columns), None)
            if flag is None:
                continue
            return truth.filter(pl.col(flag)).select(
                pl.lit(scored.scoring.label_entity).alias("entity_type"),
                pl.col(key).cast(pl.String).alias("entity_id"),
                pl.lit(True).alias("is_fraud"),
                pl.lit(None, pl.Datetime("ms", "UTC")).alias("known_at"),
            )
        return self.labels

    def default_split(
        self, train_days: float | None = None, gap_days: float | None = None, test_days: float | None = None
    ) -> TimeSplit:
        """A train / gap / test split over the scored events' time span (see :func:`default_split`)."""
        times = pl.concat([s.frame[s.time_col].alias("time") for s in self.streams.values()])
        return default_split(times, train_days, gap_days, test_days)


def build_spec_data(
    data_dir: str | Path,
    spec: Any = "telecom",
    progress: Callable[[int, int], None] | None = None,
    scoring: dict[str, Any] | None = None,
) -> SpecData:
    """Replay a data folder through a spec (a name, a .toml file or a loaded spec) into the
    feature frame of each scored stream.

    ``scoring`` gives descriptors for streams when the spec itself scores none.

    Raises :class:`MissingInputError` when the folder, its scored records or its labels are missing.
    """
    from fraud_brain.features import replay, resolve_spec

    loaded = resolve_spec(spec)
    sources = load_spec_sources(data_dir, loaded)
    if sources.labels is None:
        raise MissingInputError(
            f"data folder {data_dir}: no labels file (labels.parquet/.csv/.jsonl); training needs confirmed outcomes"
        )
    features = replay(loaded, sources.streams, reference=sources.reference or None, progress=progress)
    streams: dict[str, ScoredStream] = {}
    descriptors = {name: loaded.scoring(name) for name in loaded.scored_streams()} or dict(scoring or {})
    for name, sc in descriptors.items():
        if name not in features:
            continue
        meta = loaded.streams[name]
        frame = features[name]
        wanted = [sc.label_key, sc.risk_key, *sc.victim, sc.amount]
        missing = [c for c in dict.fromkeys(wanted) if c is not None and c not in frame.columns]
        present = [c for c in missing if c in sources.streams[name].columns]
        if present:
            frame = frame.join(sources.streams[name].select(meta.id, *present), on=meta.id, how="left")
        streams[name] = ScoredStream(name, sc, frame, loaded.feature_groups(name), meta.id, meta.time)
    if not streams:
        raise InputError(f"spec {loaded.name!r} scores no stream; add a [streams.NAME.scoring] table")
    return SpecData(loaded, streams, sources.labels, spec_hash(loaded), sources.truth)
