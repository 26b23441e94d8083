"""Actions: cases per victim episode, the escalation policy, the durable outbox and its adapters.

Decisions from the rules layer go to :class:`Orchestrator` (cases, timelines, actions written
to the outbox); :class:`Dispatcher` delivers them through adapters (embedded simulators or a
signed webhook); outcomes come back as case events and labels (``store.labels_since``).
"""

from fraud_brain.actions.adapters import (
    Adapter,
    AdapterResult,
    SimulatedAgentQueue,
    SimulatedBank,
    SimulatedNumberReview,
    SimulatedOfficerPager,
    SimulatedVoiceBot,
    WebhookAdapter,
    simulated_adapters,
    verify_signature,
)
from fraud_brain.actions.agent_desk import SimulatedAgentDesk
from fraud_brain.actions.clock import Clock, ManualClock, SystemClock
from fraud_brain.actions.decisions import (
    DECISION_SCHEMA,
    DecisionError,
    NoVictimError,
    decision_frame,
    read_decisions,
)
from fraud_brain.actions.dispatcher import Dispatcher, DispatchReport
from fraud_brain.actions.orchestrator import (
    NO_PHONE_WHY,
    IngestReport,
    Orchestrator,
    TickReport,
    district_lookup,
)
from fraud_brain.actions.policy import (
    EscalationPolicy,
    OutboxSettings,
    PolicyError,
    load_policy,
    parse_policy,
)
from fraud_brain.actions.report import ActionsSummary, summarize
from fraud_brain.actions.workflow import ReplayResult, replay
from fraud_brain.vocabulary import PHONE_CONTACT_KINDS

__all__ = [
    "DECISION_SCHEMA",
    "NO_PHONE_WHY",
    "PHONE_CONTACT_KINDS",
    "ActionsSummary",
    "Adapter",
    "AdapterResult",
    "Clock",
    "DecisionError",
    "DispatchReport",
    "Dispatcher",
    "EscalationPolicy",
    "IngestReport",
    "ManualClock",
    "NoVictimError",
    "Orchestrator",
    "OutboxSettings",
    "PolicyError",
    "ReplayResult",
    "SimulatedAgentDesk",
    "SimulatedAgentQueue",
    "SimulatedBank",
    "SimulatedNumberReview",
    "SimulatedOfficerPager",
    "SimulatedVoiceBot",
    "SystemClock",
    "TickReport",
    "WebhookAdapter",
    "decision_frame",
    "district_lookup",
    "load_policy",
    "parse_policy",
    "read_decisions",
    "replay",
    "simulated_adapters",
    "summarize",
    "verify_signature",
]
