"""The project's fixed words, each defined once: tiers, modes, victim kinds, actions, outcomes.

Every layer (rules, store, actions, api) imports these; none spells them out again. This
module sits at the bottom of the layering, beside :mod:`fraud_brain.errors`: it imports nothing.

>>> TIERS[0], TIER_RANK["same_day"]
('minute', 2)
>>> "stop_payment" in ACTION_KINDS and "stop_payment" in TRANSFER_ONLY_ACTIONS
True
>>> FRAUD_DISPOSITIONS
('prevented', 'victim_confirmed_scam')
"""

from __future__ import annotations

from typing import Literal

TIERS = ("minute", "hour", "same_day")
"""Response tiers, most urgent first (minute-level, hour-level, same-day)."""
TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}
"""A tier's urgency rank: 0 is the most urgent."""
MODES = ("active", "shadow")
"""``shadow`` rules are evaluated and reported but never produce an active decision."""
VICTIM_KINDS = ("phone", "account")
"""What a victim key is: a phone number (the victim can be called) or a bank account (no phone
was known: the case gets stop-payments and officer alerts, never calls)."""
ACTION_KINDS = ("voice_bot", "agent_followup", "stop_payment", "officer_alert", "block_number_review")
"""Every action a rule may ask for and the workflow can take (``block_number_review``: ask the
telecom operator to review a suspect number for blocking)."""
TRANSFER_ONLY_ACTIONS = ("stop_payment",)
"""A stop-payment needs a transfer to stop, so call rules may not ask for it."""
PHONE_CONTACT_KINDS = ("voice_bot", "agent_followup")
"""Actions that call the victim; a case whose victim is an account never gets them."""
VOICE_BOT_OUTCOMES = ("convinced", "not_convinced", "no_answer", "busy")
"""What a voice-bot call can end with."""
BOT_ANSWERED = ("convinced", "not_convinced")
"""Bot outcomes in which the victim picked up (first contact)."""
BOT_FAILURES = ("not_convinced", "no_answer", "busy")
"""Bot outcomes that call for a re-dial (or, after the last one, an agent)."""
AgentDisposition = Literal["prevented", "victim_confirmed_scam", "false_alarm", "unreachable"]
AGENT_DISPOSITIONS: tuple[AgentDisposition, ...] = ("prevented", "victim_confirmed_scam", "false_alarm", "unreachable")
"""What a human agent records when closing a case."""
FRAUD_DISPOSITIONS = ("prevented", "victim_confirmed_scam")
"""Agent dispositions that confirm a scam (they make fraud labels)."""
CASE_STATUSES = ("open", "closed")
"""A case is open (being worked) or closed (with a resolution)."""
CheckDecision = Literal["allow", "review", "hold"]
CHECK_DECISIONS: tuple[CheckDecision, ...] = ("allow", "review", "hold")
"""A bank's pre-transfer check answers one of these."""
