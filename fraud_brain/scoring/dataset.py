"""Training data by replay: a data folder through the feature engine into model-ready frames.

The features are made only by :func:`fraud_brain.features.replay` (the same code that runs
online), so training sees exactly what scoring will. A spec hash ties each model to the
feature spec it was trained on.

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
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from fraud_brain.scoring.offline import TimeSplit

TRUTH_FILES = ("truth_transfers", "truth_calls", "truth_entities", "truth_episodes")


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
        first, last = self.transfers["time"].min(), self.transfers["time"].max()
        start = first.replace(minute=0, second=0, microsecond=0)
        span = (last - start).total_seconds() / 86_400
        # whole hours keep the windows readable
        hours = lambda days: round(days * 24) / 24
        default_gap = min(2.0, 0.15 * span)
        gap = hours(gap_days if gap_days is not None else (round(default_gap) if default_gap >= 1 else default_gap))
        train = hours(train_days if train_days is not None else (span - gap) / 2)
        test = test_days if test_days is not None else span - gap - train + 1 / 24
        return TimeSplit(start, start + timedelta(days=train), timedelta(days=gap), start + timedelta(days=train + gap + test))


def load_sources(data_dir: str | Path) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """The record files of a data folder (validated) and its ground-truth files, if any."""
    from fraud_brain.io.files import find_record_file, load_folder

    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    sources = load_folder(folder, required=("transfer", "label"))
    truth: dict[str, pl.DataFrame] = {}
    for name in TRUTH_FILES:
        found = find_record_file(folder, name)
        if found is not None and found.suffix == ".parquet":
            truth[name] = pl.read_parquet(found)
    return sources, truth


def build_training_data(
    data_dir: str | Path,
    spec_name: str = "telecom",
    progress: Callable[[int, int], None] | None = None,
) -> TrainingData:
    """Replay a data folder through the bundled feature spec ``spec_name``."""
    from fraud_brain.features import replay, resolve_spec

    spec = resolve_spec(spec_name)
    sources, truth = load_sources(data_dir)
    reference = {"subscribers": sources["subscriber"]} if "subscriber" in sources else None
    streams = {name: sources[name] for name in ("call", "transfer", "label") if name in sources and name in spec.streams}
    features = replay(spec, streams, reference=reference, progress=progress)
    transfer_groups = spec.feature_groups("transfer")
    transfers = features["transfer"].join(
        sources["transfer"].select("transfer_id", "amount"), on="transfer_id", how="left"
    )
    if "amount" in transfer_groups:
        transfers = transfers.drop("amount_right", strict=False)
    calls = features.get("call")
    call_groups = spec.feature_groups("call") if calls is not None and calls.height else {}
    return TrainingData(transfers.sort("time"), transfer_groups, calls, call_groups, sources["label"], spec_hash(spec), truth)
