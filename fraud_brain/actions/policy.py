"""The escalation policy: timers, limits and scripts of the workflow, loaded from TOML and validated.

A bad file raises :class:`PolicyError` naming the file, the line and the key; nothing of a
bad file is used.

>>> policy = EscalationPolicy()
>>> policy.redial_interval, policy.max_redials
(datetime.timedelta(seconds=300), 3)
>>> policy.script_for("impersonating_police")
'impersonating_police_safe_account'
>>> load_policy(DEFAULT_POLICY_PATH) == policy
True
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fraud_brain.errors import ConfigError
from fraud_brain.vocabulary import ACTION_KINDS, TIERS

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")
"""The packaged default policy."""


class PolicyError(ConfigError):
    """A policy file that cannot be used, with the file, line and key in the message.

    >>> isinstance(PolicyError("p.toml:3: [agent] ..."), ConfigError)
    True
    """


@dataclass(frozen=True)
class OutboxSettings:
    """How the dispatcher leases and retries outbox actions.

    >>> OutboxSettings().backoff(3, 0.0)
    datetime.timedelta(seconds=20)
    """

    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 8
    max_lease_expiries: int = 3
    backoff_base: timedelta = timedelta(seconds=5)
    backoff_cap: timedelta = timedelta(seconds=600)
    jitter: float = 0.25

    def backoff(self, attempt: int, unit_random: float) -> timedelta:
        """Delay before retry after failed attempt number ``attempt`` (1-based), with jitter in ``[0, 1)``."""
        base: timedelta = min(self.backoff_base * (2 ** max(attempt - 1, 0)), self.backoff_cap)
        return base * (1 + self.jitter * unit_random)


@dataclass(frozen=True)
class EscalationPolicy:
    """Every knob of the workflow; defaults are the packaged ``policy.toml``.

    >>> EscalationPolicy().fans_out("minute", 0.95), EscalationPolicy().sla_for("hour")
    (True, datetime.timedelta(seconds=3600))
    """

    episode_gap: timedelta = timedelta(hours=24)
    cooldown: timedelta = timedelta(minutes=30)
    redial_interval: timedelta = timedelta(minutes=5)
    max_redials: int = 3
    relatives_after_busy: int = 2
    agent_sla: dict[str, timedelta] = field(
        default_factory=lambda: {
            "minute": timedelta(minutes=10),
            "hour": timedelta(minutes=60),
            "same_day": timedelta(minutes=480),
        }
    )
    on_sla_breach: tuple[str, ...] = ("officer_alert",)
    officer_on_unreachable: bool = True
    fan_out_tiers: tuple[str, ...] = ("minute",)
    fan_out_min_score: float = 0.9
    stop_payment_max_per_account: int = 2
    stop_payment_hold: timedelta = timedelta(hours=48)
    scripts: dict[str, str] = field(
        default_factory=lambda: {
            "default": "generic_scam_warning",
            "order_brushing": "order_brushing_rebate",
            "fake_investment": "fake_investment_platform",
            "fake_loan": "fake_loan_fees",
            "fake_customer_service": "fake_customer_service_refund",
            "impersonating_police": "impersonating_police_safe_account",
        }
    )
    outbox: OutboxSettings = field(default_factory=OutboxSettings)

    def script_for(self, typology: str | None) -> str:
        """The voice-bot script for a suspected typology (the default script if unknown)."""
        return self.scripts.get(typology or "", self.scripts["default"])

    def fans_out(self, tier: str, score: float) -> bool:
        """Whether a decision is highest-risk: every action at once."""
        return tier in self.fan_out_tiers and score >= self.fan_out_min_score

    def sla_for(self, tier: str) -> timedelta:
        """The agent SLA of a tier (the slowest tier's if the tier is unknown)."""
        return self.agent_sla.get(tier, max(self.agent_sla.values()))


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "episode": {"gap_hours": (int, float), "cooldown_minutes": (int, float)},
    "voice_bot": {"redial_interval_minutes": (int, float), "max_redials": int, "relatives_after_busy": int},
    "agent": {"sla_minutes": dict, "on_sla_breach": list, "officer_on_unreachable": bool},
    "fan_out": {"tiers": list, "min_score": (int, float)},
    "stop_payment": {"max_per_account": int, "hold_hours": (int, float)},
    "scripts": {},
    "outbox": {
        "lease_seconds": (int, float),
        "max_attempts": int,
        "max_lease_expiries": int,
        "backoff_seconds": (int, float),
        "backoff_cap_seconds": (int, float),
        "jitter": (int, float),
    },
}


def _line_of(text: str, section: str, key: str | None) -> int:
    """The 1-based line of ``key`` in ``[section]`` (of the section header if no key), 0 if not found."""
    in_section = False
    header = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            in_section = match.group(1).strip() == section
            if in_section and key is None:
                return number
            continue
        if in_section and key is not None and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return 0


def parse_policy(text: str, source: str = "<policy>") -> EscalationPolicy:
    """Parse and validate policy TOML text; missing keys keep their defaults.

    >>> parse_policy("[voice_bot]\\nmax_redials = 5\\n").max_redials
    5
    >>> try:
    ...     parse_policy("[voice_bot]\\nmax_redial = 5\\n")
    ... except PolicyError as error:
    ...     print(error)
    <policy>:2: [voice_bot] unknown key 'max_redial'; expected one of
    ['max_redials', 'redial_interval_minutes', 'relatives_after_busy']
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None

    def fail(section: str, key: str | None, message: str) -> PolicyError:
        line = _line_of(text, section, key)
        where = f"{source}:{line}" if line else source
        return PolicyError(f"{where}: [{section}] {message}")

    for section, values in data.items():
        if section not in _SCHEMA:
            raise fail(section, None, f"unknown section; expected one of {sorted(_SCHEMA)}")
        if not isinstance(values, dict):
            raise fail(section, None, "must be a table")
        for key, value in values.items():
            expected = _SCHEMA[section].get(key, str if section == "scripts" else None)
            if expected is None:
                raise fail(section, key, f"unknown key {key!r}; expected one of {sorted(_SCHEMA[section])}")
            if isinstance(value, bool) and expected is not bool:
                raise fail(section, key, f"{key} must be {_type_name(expected)}, not a boolean")
            if not isinstance(value, expected):
                raise fail(section, key, f"{key} must be {_type_name(expected)}, not {type(value).__name__}")

    defaults = EscalationPolicy()
    def get(section: str, key: str, default: Any) -> Any:
        return data.get(section, {}).get(key, default)

    def positive(section: str, key: str, value: float, allow_zero: bool = False) -> float:
        if value < 0 or (value == 0 and not allow_zero):
            raise fail(section, key, f"{key} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
        return value

    sla = dict(defaults.agent_sla)
    for tier, sla_minutes in get("agent", "sla_minutes", {}).items():
        if tier not in TIERS:
            raise fail(
                "agent",
                "sla_minutes",
                f"sla_minutes has unknown tier {tier!r}; expected one of {list(TIERS)}",
            )
        if isinstance(sla_minutes, bool) or not isinstance(sla_minutes, (int, float)) or sla_minutes <= 0:
            raise fail("agent", "sla_minutes", f"sla_minutes.{tier} must be a number > 0, got {sla_minutes!r}")
        sla[tier] = timedelta(minutes=sla_minutes)
    on_breach = tuple(get("agent", "on_sla_breach", list(defaults.on_sla_breach)))
    for kind in on_breach:
        if kind not in ACTION_KINDS:
            raise fail(
                "agent",
                "on_sla_breach",
                f"on_sla_breach has unknown action {kind!r}; expected one of {list(ACTION_KINDS)}",
            )
    tiers = tuple(get("fan_out", "tiers", list(defaults.fan_out_tiers)))
    for tier in tiers:
        if tier not in TIERS:
            raise fail("fan_out", "tiers", f"tiers has unknown tier {tier!r}; expected one of {list(TIERS)}")
    min_score = float(get("fan_out", "min_score", defaults.fan_out_min_score))
    if not 0.0 <= min_score <= 1.0:
        raise fail("fan_out", "min_score", f"min_score must be within [0, 1], got {min_score}")
    jitter = float(get("outbox", "jitter", defaults.outbox.jitter))
    if not 0.0 <= jitter <= 1.0:
        raise fail("outbox", "jitter", f"jitter must be within [0, 1], got {jitter}")
    scripts = {**defaults.scripts, **data.get("scripts", {})}
    max_redials = int(get("voice_bot", "max_redials", defaults.max_redials))
    positive("voice_bot", "max_redials", max_redials, allow_zero=True)
    relatives_after_busy = int(get("voice_bot", "relatives_after_busy", defaults.relatives_after_busy))
    positive("voice_bot", "relatives_after_busy", relatives_after_busy, allow_zero=True)
    max_per_account = int(get("stop_payment", "max_per_account", defaults.stop_payment_max_per_account))
    positive("stop_payment", "max_per_account", max_per_account, allow_zero=True)
    max_attempts = int(get("outbox", "max_attempts", defaults.outbox.max_attempts))
    positive("outbox", "max_attempts", max_attempts)
    max_lease_expiries = int(get("outbox", "max_lease_expiries", defaults.outbox.max_lease_expiries))
    positive("outbox", "max_lease_expiries", max_lease_expiries, allow_zero=True)

    def minutes(section: str, key: str, default: timedelta, unit: str) -> timedelta:
        value = get(section, key, None)
        if value is None:
            return default
        return timedelta(
            **{unit: positive(section, key, float(value), allow_zero=(key == "cooldown_minutes"))}
        )

    return EscalationPolicy(
        episode_gap=minutes("episode", "gap_hours", defaults.episode_gap, "hours"),
        cooldown=minutes("episode", "cooldown_minutes", defaults.cooldown, "minutes"),
        redial_interval=minutes("voice_bot", "redial_interval_minutes", defaults.redial_interval, "minutes"),
        max_redials=max_redials,
        relatives_after_busy=relatives_after_busy,
        agent_sla=sla,
        on_sla_breach=on_breach,
        officer_on_unreachable=bool(get("agent", "officer_on_unreachable", defaults.officer_on_unreachable)),
        fan_out_tiers=tiers,
        fan_out_min_score=min_score,
        stop_payment_max_per_account=max_per_account,
        stop_payment_hold=minutes("stop_payment", "hold_hours", defaults.stop_payment_hold, "hours"),
        scripts=scripts,
        outbox=OutboxSettings(
            lease=minutes("outbox", "lease_seconds", defaults.outbox.lease, "seconds"),
            max_attempts=max_attempts,
            max_lease_expiries=max_lease_expiries,
            backoff_base=minutes("outbox", "backoff_seconds", defaults.outbox.backoff_base, "seconds"),
            backoff_cap=minutes("outbox", "backoff_cap_seconds", defaults.outbox.backoff_cap, "seconds"),
            jitter=jitter,
        ),
    )


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        bool: "true/false",
        dict: "a table",
        list: "a list",
        str: "a string",
    }
    if isinstance(expected, tuple):
        return "a number" if set(expected) == {int, float} else " or ".join(names[t] for t in expected)
    return names[expected]


def load_policy(path: str | Path | None = None) -> EscalationPolicy:
    """Load and validate a policy file (the packaged default when ``path`` is None).

    >>> load_policy().stop_payment_max_per_account
    2
    """
    path = Path(path) if path is not None else DEFAULT_POLICY_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PolicyError(f"{path}: cannot read policy file: {reason}") from None
    return parse_policy(text, source=str(path))
