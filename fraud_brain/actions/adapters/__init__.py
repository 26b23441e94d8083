"""Adapters deliver actions: embedded simulators by default, a signed HTTP webhook for real receivers."""

from fraud_brain.actions.adapters.base import Adapter, AdapterResult
from fraud_brain.actions.adapters.simulators import (
    SimulatedAgentQueue,
    SimulatedBank,
    SimulatedNumberReview,
    SimulatedOfficerPager,
    SimulatedVoiceBot,
    simulated_adapters,
)
from fraud_brain.actions.adapters.webhook import WebhookAdapter, request_body, sign, verify_signature
from fraud_brain.vocabulary import AGENT_DISPOSITIONS, VOICE_BOT_OUTCOMES

__all__ = [
    "AGENT_DISPOSITIONS",
    "VOICE_BOT_OUTCOMES",
    "Adapter",
    "AdapterResult",
    "SimulatedAgentQueue",
    "SimulatedBank",
    "SimulatedNumberReview",
    "SimulatedOfficerPager",
    "SimulatedVoiceBot",
    "WebhookAdapter",
    "request_body",
    "sign",
    "simulated_adapters",
    "verify_signature",
]
