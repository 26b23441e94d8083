"""The fixed words of a rule file: event types, actions, tiers, modes, and durations.

>>> parse_duration("30m")
1800000
>>> ACTIONS[:2]
('voice_bot', 'agent_followup')
"""

from __future__ import annotations

import re

from fraud_brain.errors import InputError
from fraud_brain.vocabulary import ACTION_KINDS, MODES, TIERS, TRANSFER_ONLY_ACTIONS, VICTIM_KINDS

__all__ = [
    "ACCOUNT_COLUMNS", "ACTIONS", "ACTION_KINDS", "EVENTS", "MODES", "PHONE_COLUMNS", "TIERS",
    "TRANSFER_ONLY_ACTIONS", "VICTIM_KINDS", "format_duration", "parse_duration", "victim_kind",
]

EVENTS = ("call", "transfer")
"""Event types a rule can watch; a scored batch holds one of them."""
ACTIONS = ACTION_KINDS
"""Actions a rule may ask for; the actions layer turns them into calls, queues and requests."""
PHONE_COLUMNS = ("caller", "callee", "payer_phone", "phone")
"""Record columns holding phone numbers; a column named ``*_phone`` is one too."""
ACCOUNT_COLUMNS = ("payer_account", "payee_account", "account")
"""Record columns holding bank accounts; a column named ``*_account`` is one too."""

_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: object) -> int:
    """A duration (``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or whole seconds) in milliseconds.

    >>> parse_duration("2h"), parse_duration(45), parse_duration("0s")
    (7200000, 45000, 0)
    >>> parse_duration("-5m")
    Traceback (most recent call last):
    ...
    fraud_brain.errors.InputError: duration '-5m' must be a number with a unit ms/s/m/h/d (e.g. '30m') or ...
    """
    if isinstance(value, bool):
        pass
    elif isinstance(value, int) and value >= 0:
        return value * 1_000
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return round(float(match.group(1)) * _UNITS_MS[match.group(2)])
    raise InputError(
        f"duration {value!r} must be a number with a unit ms/s/m/h/d (e.g. '30m') or whole seconds >= 0"
    )


def victim_kind(column: str) -> str | None:
    """The kind of key a victim column holds (``"phone"``/``"account"``), ``None`` if neither.

    The actions layer calls a phone victim and only acts around an account victim, so a rule's
    victim column must say which it is; the record schemas' names tell.

    >>> victim_kind("payer_phone"), victim_kind("payer_account"), victim_kind("device_id")
    ('phone', 'account', None)
    """
    if column in PHONE_COLUMNS or column.endswith("_phone"):
        return "phone"
    if column in ACCOUNT_COLUMNS or column.endswith("_account"):
        return "account"
    return None


def format_duration(ms: int) -> str:
    """A duration in milliseconds in the largest whole unit, as a rule file would write it.

    >>> format_duration(86_400_000), format_duration(5_400_000), format_duration(0)
    ('1d', '90m', '0s')
    """
    for unit in ("d", "h", "m", "s"):
        size = _UNITS_MS[unit]
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms" if ms else "0s"
