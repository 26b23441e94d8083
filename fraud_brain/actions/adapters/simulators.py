"""Embedded simulators: the default adapters, standing in for the voice-bot platform, the agents'
queue, the banks, the officers' phones and the telecom operator's number-review desk.

Outcomes are drawn from a seeded RNG keyed by the action's idempotency key, so a re-delivered
action gets the same answer (the simulators are idempotent receivers, like the real ones must be).

>>> from datetime import datetime, timezone
>>> from fraud_brain.store.models import Action
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> call = Action(1, 1, "voice_bot", "k1", {"victim": "138", "typology": "fake_loan"}, "in_flight", 1, t, t)
>>> bot = SimulatedVoiceBot(seed=7)
>>> bot.send(call) == bot.send(call)
True
>>> bot.send(call).outcome in VOICE_BOT_OUTCOMES
True
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from fraud_brain.actions.adapters.base import Adapter, AdapterResult
from fraud_brain.store.models import Action
from fraud_brain.vocabulary import VOICE_BOT_OUTCOMES

# Probabilities of (convinced, not_convinced, no_answer, busy). The line is often busy while
# a fake-police call is still going on (victims are kept on the line for 20+ minutes), and
# elderly fake-customer-service victims answer more often but are harder to convince.
_BOT_ODDS: dict[str, tuple[float, float, float, float]] = {
    "impersonating_police": (0.30, 0.15, 0.20, 0.35),
    "fake_customer_service": (0.40, 0.25, 0.20, 0.15),
    "fake_investment": (0.30, 0.35, 0.25, 0.10),
    "order_brushing": (0.45, 0.20, 0.28, 0.07),
    "fake_loan": (0.45, 0.20, 0.27, 0.08),
    "default": (0.40, 0.20, 0.28, 0.12),
}
# A relative reached while the victim's line is busy usually agrees to step in.
_RELATIVES_ODDS = (0.55, 0.20, 0.25, 0.0)


def _rng(seed: int, action: Action, salt: str = "") -> random.Random:
    return random.Random(f"{seed}:{salt}:{action.idempotency_key}")


@dataclass
class SimulatedVoiceBot:
    """An AI voice-bot platform: each call is answered and convinced, not convinced, unanswered or busy.

    ``odds`` overrides the per-typology probabilities (tests pin outcomes with it); the key
    ``"relatives"`` sets the odds of calls to the victim's relatives.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> a = Action(1, 1, "voice_bot", "k", {"typology": None}, "in_flight", 1, t, t)
    >>> SimulatedVoiceBot(odds={"default": (0, 0, 1, 0)}).send(a).outcome
    'no_answer'
    >>> account = Action(2, 1, "voice_bot", "k2", {"victim": "ACC1", "victim_kind": "account"}, "in_flight", 1, t, t)
    >>> SimulatedVoiceBot().send(account).retryable
    False
    """

    seed: int = 0
    odds: Mapping[str, tuple[float, float, float, float]] = field(default_factory=lambda: dict(_BOT_ODDS))
    calls: Counter[str] = field(default_factory=Counter)

    def send(self, action: Action) -> AdapterResult:
        kind = action.payload.get("victim_kind", "phone")
        if kind != "phone":
            # The orchestrator never asks this; a request from elsewhere must fail loudly, not dial an account.
            return AdapterResult.failure(
                f"voice_bot {action.idempotency_key}: victim {action.payload.get('victim')!r} is "
                f"{'an' if kind == 'account' else 'a'} {kind}, not a phone number; nothing to dial",
                retryable=False,
            )
        self.calls[action.idempotency_key] += 1
        typology = action.payload.get("typology") or "default"
        if action.payload.get("target") == "relatives":
            weights = self.odds.get("relatives", _RELATIVES_ODDS)
        else:
            weights = self.odds.get(typology, self.odds["default"])
        outcome = _rng(self.seed, action, "bot").choices(VOICE_BOT_OUTCOMES, weights=weights)[0]
        return AdapterResult.success(outcome, {"script": action.payload.get("script"), "simulated": True})


@dataclass
class SimulatedAgentQueue:
    """The call-center queue: accepting a case always succeeds; the disposition comes later.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> SimulatedAgentQueue().send(Action(1, 1, "agent_followup", "a1", {}, "in_flight", 1, t, t)).outcome
    'queued'
    """

    queued: Counter[str] = field(default_factory=Counter)

    def send(self, action: Action) -> AdapterResult:
        self.queued[action.idempotency_key] += 1
        return AdapterResult.success("queued", {"simulated": True})


@dataclass
class SimulatedBank:
    """A receiving bank answering emergency stop-payment requests with the amount it could hold.

    Most requests freeze the whole transfer; some find part of it already moved on by the mule,
    a few find nothing left. Repeats of one request answer the same (idempotent).

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> a = Action(1, 1, "stop_payment", "sp1", {"amount": 5000.0, "payee_account": "M1"}, "in_flight", 1, t, t)
    >>> r = SimulatedBank(seed=1).send(a)
    >>> r.outcome in ("held", "partially_held", "nothing_held") and 0 <= r.amount_held <= 5000
    True
    """

    seed: int = 0
    p_full: float = 0.75
    p_partial: float = 0.18
    hold_hours: float = 48.0
    requests: Counter[str] = field(default_factory=Counter)

    def send(self, action: Action) -> AdapterResult:
        amount = action.payload.get("amount")
        if amount is None or amount <= 0:
            return AdapterResult.failure(
                f"stop_payment {action.idempotency_key}: payload amount {amount!r} must be > 0",
                retryable=False,
            )
        self.requests[action.idempotency_key] += 1
        rng = _rng(self.seed, action, "bank")
        draw = rng.random()
        if draw < self.p_full:
            held, outcome = float(amount), "held"
        elif draw < self.p_full + self.p_partial:
            held, outcome = round(float(amount) * rng.uniform(0.1, 0.9), 2), "partially_held"
        else:
            held, outcome = 0.0, "nothing_held"
        detail = {"amount_held": held, "hold_hours": self.hold_hours, "simulated": True}
        return AdapterResult.success(outcome, detail, amount_held=held)


@dataclass
class SimulatedOfficerPager:
    """The community officer's phone: the alert is delivered.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> SimulatedOfficerPager().send(Action(1, 1, "officer_alert", "o1", {}, "in_flight", 1, t, t)).outcome
    'delivered'
    """

    delivered: Counter[str] = field(default_factory=Counter)

    def send(self, action: Action) -> AdapterResult:
        self.delivered[action.idempotency_key] += 1
        return AdapterResult.success("delivered", {"simulated": True})


@dataclass
class SimulatedNumberReview:
    """The telecom operator's desk that reviews suspect numbers for blocking: the request is queued.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> SimulatedNumberReview().send(Action(1, 1, "block_number_review", "n1", {}, "in_flight", 1, t, t)).outcome
    'queued_for_review'
    """

    queued: Counter[str] = field(default_factory=Counter)

    def send(self, action: Action) -> AdapterResult:
        self.queued[action.idempotency_key] += 1
        return AdapterResult.success("queued_for_review", {"simulated": True})


def simulated_adapters(seed: int = 0) -> dict[str, Adapter]:
    """One embedded simulator per action kind, all seeded from ``seed``.

    >>> sorted(simulated_adapters())
    ['agent_followup', 'block_number_review', 'officer_alert', 'stop_payment', 'voice_bot']
    """
    return {
        "voice_bot": SimulatedVoiceBot(seed=seed),
        "agent_followup": SimulatedAgentQueue(),
        "stop_payment": SimulatedBank(seed=seed),
        "officer_alert": SimulatedOfficerPager(),
        "block_number_review": SimulatedNumberReview(),
    }
