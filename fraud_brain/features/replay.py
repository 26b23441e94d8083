"""Replay history through the streaming engine: the only way training features are made.

>>> from fraud_brain.features import bundled_spec
>>> from fraud_brain.features.synthetic import synthetic_card
>>> frames = synthetic_card(n=200)
>>> out = replay(bundled_spec("card"), frames, batch_size=64)
>>> out["tx"].height, out["fraud_report"].height
(200, 4)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import polars as pl

from fraud_brain.features.engine import FeatureEngine
from fraud_brain.features.spec import Spec

Source = pl.DataFrame | Path | str


def read_source(source: Source, kind: str | None = None) -> pl.DataFrame:
    """A frame from a frame or a record file (validated against the record schema ``kind`` if given).

    >>> read_source(pl.DataFrame({"a": [1]})).height
    1
    """
    if isinstance(source, pl.DataFrame):
        return source
    path = Path(source)
    if kind is not None:
        from fraud_brain.io.files import read_frame

        return read_frame(path, kind)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix == ".csv":
        return pl.read_csv(path, try_parse_dates=True)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return pl.read_ndjson(path)
    raise ValueError(f"{path}: unknown file type {suffix!r}; expected .parquet, .csv or .jsonl")


def replay(
    spec: Spec,
    sources: Mapping[str, Source],
    batch_size: int = 100_000,
    reference: Mapping[str, Source] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, pl.DataFrame]:
    """Run history through a fresh :class:`FeatureEngine`; the feature frame of every event per stream.

    Events go in by event time in micro-batches of about ``batch_size`` (events sharing a time
    stay in one batch), so the features equal those the online engine would have produced.
    ``progress(done, total)`` is called after each batch. Streams of the spec that have no
    source are simply absent from the history.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    unknown = sorted(set(sources) - set(spec.streams))
    if unknown:
        raise ValueError(f"{spec.source}: no stream(s) {unknown} in the spec; streams: {spec.stream_names()}")
    ref = {name: read_source(src) for name, src in (reference or {}).items()}
    engine = FeatureEngine(spec, ref)
    frames: dict[str, pl.DataFrame] = {}
    times: dict[str, np.ndarray] = {}
    for stream in spec.stream_names():
        if stream not in sources:
            continue
        frame = read_source(sources[stream], spec.streams[stream].schema)
        col = spec.streams[stream].time
        if col not in frame.columns:
            raise ValueError(f"stream {stream!r}: records have no time column {col!r}")
        epoch = frame.get_column(col).dt.epoch("ms")
        order = np.argsort(epoch.to_numpy(), kind="stable")
        frames[stream] = frame[pl.Series(order)]
        times[stream] = epoch.to_numpy()[order]
    total = sum(f.height for f in frames.values())
    outputs: dict[str, list[pl.DataFrame]] = {s: [] for s in spec.stream_names()}
    if total:
        merged = np.sort(np.concatenate(list(times.values())))
        cuts = np.unique(merged[batch_size::batch_size])
        bounds = [*cuts.tolist(), None]
        lo_idx = {s: 0 for s in frames}
        done = 0
        for cut in bounds:
            chunk: dict[str, pl.DataFrame] = {}
            for stream, frame in frames.items():
                hi = frame.height if cut is None else int(np.searchsorted(times[stream], cut, side="left"))
                if hi > lo_idx[stream]:
                    chunk[stream] = frame.slice(lo_idx[stream], hi - lo_idx[stream])
                    done += hi - lo_idx[stream]
                lo_idx[stream] = hi
            if chunk:
                batch = engine.process(chunk)
                for stream, feats in batch.features.items():
                    outputs[stream].append(feats)
            if progress is not None:
                progress(done, total)
    for stream, feats in engine.flush().features.items():
        outputs[stream].append(feats)
    result: dict[str, pl.DataFrame] = {}
    for stream in frames:
        result[stream] = pl.concat(outputs[stream]) if outputs[stream] else pl.DataFrame()
    return result
