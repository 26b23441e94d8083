"""The adapter interface: how one kind of action reaches the world, and what came back.

>>> AdapterResult.success("delivered").ok
True
>>> AdapterResult.failure("HTTP 500", retryable=True).outcome
'error'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from fraud_brain.store.models import Action


@dataclass(frozen=True)
class AdapterResult:
    """The answer to one dispatch: success with an outcome, or a failure that may be retried.

    ``amount_held`` is set by stop-payment answers (yuan frozen by the receiving bank).

    >>> AdapterResult.success("held", amount_held=500.0).amount_held
    500.0
    """

    ok: bool
    outcome: str
    detail: dict[str, Any] = field(default_factory=dict)
    retryable: bool = True
    error: str | None = None
    amount_held: float | None = None

    @classmethod
    def success(
        cls, outcome: str, detail: dict[str, Any] | None = None, amount_held: float | None = None
    ) -> AdapterResult:
        """A delivered action and what the receiver answered."""
        return cls(ok=True, outcome=outcome, detail=detail or {}, amount_held=amount_held)

    @classmethod
    def failure(
        cls, error: str, *, retryable: bool = True, detail: dict[str, Any] | None = None
    ) -> AdapterResult:
        """An action that did not get through (``retryable=False``: retrying cannot help)."""
        return cls(ok=False, outcome="error", detail=detail or {}, retryable=retryable, error=error)


@runtime_checkable
class Adapter(Protocol):
    """Delivers actions of one kind. ``send`` must be safe to repeat with the same action:
    receivers deduplicate on ``action.idempotency_key``.

    >>> from fraud_brain.actions.adapters.simulators import SimulatedOfficerPager
    >>> isinstance(SimulatedOfficerPager(), Adapter)
    True
    """

    def send(self, action: Action) -> AdapterResult:
        """Deliver one action and return the receiver's answer."""
        ...
