"""Streaming features: declarative specs, keyed state in arrays, one compiled kernel.

One definition serves online scoring (:class:`FeatureEngine`) and training (:func:`replay`).

>>> from fraud_brain.features import bundled_spec, FeatureEngine
>>> engine = FeatureEngine(bundled_spec("card"))
>>> sorted(engine.spec.streams)
['fraud_report', 'tx']
"""

from fraud_brain.features.engine import FeatureBatch, FeatureEngine, hash_columns
from fraud_brain.features.expr import ExprError, parse
from fraud_brain.features.replay import replay
from fraud_brain.features.spec import (
    Spec,
    SpecError,
    bundled_spec,
    bundled_spec_path,
    load_spec,
    load_spec_text,
    parse_duration,
    resolve_spec,
)

__all__ = [
    "ExprError",
    "FeatureBatch",
    "FeatureEngine",
    "Spec",
    "SpecError",
    "bundled_spec",
    "bundled_spec_path",
    "hash_columns",
    "load_spec",
    "load_spec_text",
    "parse",
    "parse_duration",
    "replay",
    "resolve_spec",
]
