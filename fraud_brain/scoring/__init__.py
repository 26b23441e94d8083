"""Scoring: offline LightGBM, river online learning, blending, reason codes, model registry.

>>> from fraud_brain.scoring import ModelRegistry, Scorer, ReasonTemplates
>>> ReasonTemplates.load().sentence("new_payee", {"new_payee": 1.0}, "zh")
'付款人首次向该收款人转账'
"""

from fraud_brain.scoring.blend import BlendConfig, Calibrator, ExpertWeights
from fraud_brain.scoring.evaluate import (
    DetectionReport,
    detection_report,
    metrics_before_after,
    metrics_by_window,
    ranking_metrics,
)
from fraud_brain.scoring.offline import TimeSplit, label_events, train_booster, train_offline
from fraud_brain.scoring.online import (
    AnomalyScorer,
    DelayedLabelStore,
    OnlineLearner,
    OnlineModel,
    replay_online,
)
from fraud_brain.scoring.reasons import Reason, ReasonTemplates, top_reasons
from fraud_brain.scoring.registry import FeatureMismatchError, Manifest, ModelRegistry
from fraud_brain.scoring.scorer import Score, Scorer, load_champion_scorer

__all__ = [
    "AnomalyScorer",
    "BlendConfig",
    "Calibrator",
    "DelayedLabelStore",
    "DetectionReport",
    "ExpertWeights",
    "FeatureMismatchError",
    "Manifest",
    "ModelRegistry",
    "OnlineLearner",
    "OnlineModel",
    "Reason",
    "ReasonTemplates",
    "Score",
    "Scorer",
    "TimeSplit",
    "detection_report",
    "label_events",
    "load_champion_scorer",
    "metrics_before_after",
    "metrics_by_window",
    "ranking_metrics",
    "replay_online",
    "top_reasons",
    "train_booster",
    "train_offline",
]
