"""Rules: conditions over scored events become decisions (what to do, for whom, how urgently).

- :class:`RuleSet` — a validated rule file; ``evaluate(batch)`` gives the hits of a scored batch.
- :class:`Decider` — per-entity cooldowns and shadow mode: hits in, decisions out; snapshot-able.
- :class:`RuleManager` — hot reload: a rule file that changes is re-validated; a bad one is refused.
- :class:`RuleEngine` — the stage in the pipeline: manager + decider, cooldowns kept across restarts.
- :func:`backtest` — per-rule hits, precision, money protected and alerts per day over history.
"""

from fraud_brain.rules.backtest import BacktestReport, backtest
from fraud_brain.rules.condition import ConditionError, compile_condition
from fraud_brain.rules.decider import Decider
from fraud_brain.rules.defaults import (
    BUNDLED_RULES,
    DEFAULT_RULES_PATH,
    bundled_rules_path,
    expected_scored_schemas,
    spec_scored_schemas,
)
from fraud_brain.rules.engine import RuleEngine, RuleStats
from fraud_brain.rules.errors import RuleFileError, RuleProblem
from fraud_brain.rules.manager import RuleManager
from fraud_brain.rules.model import EventSpec, Rule
from fraud_brain.rules.ruleset import HIT_SCHEMA, RuleEvaluationError, RuleSet, empty_hits
from fraud_brain.rules.streams import EventFacts, event_facts
from fraud_brain.rules.vocabulary import ACTIONS, EVENTS, MODES, TIERS, parse_duration

__all__ = [
    "ACTIONS",
    "BUNDLED_RULES",
    "DEFAULT_RULES_PATH",
    "EVENTS",
    "HIT_SCHEMA",
    "MODES",
    "TIERS",
    "BacktestReport",
    "ConditionError",
    "Decider",
    "EventFacts",
    "EventSpec",
    "Rule",
    "RuleEngine",
    "RuleEvaluationError",
    "RuleFileError",
    "RuleManager",
    "RuleProblem",
    "RuleSet",
    "RuleStats",
    "backtest",
    "bundled_rules_path",
    "compile_condition",
    "empty_hits",
    "event_facts",
    "expected_scored_schemas",
    "parse_duration",
    "spec_scored_schemas",
]
