"""Simulation settings: one frozen dataclass, with named presets for the common sizes.

>>> SimConfig.preset("sample").days
7
>>> SimConfig.preset("small", seed=3).seed
3
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime

from fraud_brain.errors import InputError

DAY_MS = 86_400_000
"""Milliseconds in a day."""
LOCAL_OFFSET_MS = 8 * 3_600_000
"""Local time is UTC+8: daily rhythms (working hours, evenings) are drawn in local time."""

SCAM_TYPOLOGIES = (
    "order_brushing",
    "fake_investment",
    "fake_loan",
    "fake_customer_service",
    "impersonating_police",
)
"""The five call-then-transfer scam typologies the rings run (their sequences: :mod:`fraud_brain.sim.scams`)."""

TYPOLOGY_SHARES = (0.32, 0.18, 0.15, 0.20, 0.15)
"""Share of scam episodes by typology (order-brushing is about a third of cases)."""


@dataclass(frozen=True)
class SimConfig:
    """Everything that shapes a simulated world; the same config and seed give the same world.

    ``start`` is the UTC date at which the simulated window opens; the window lasts ``days``
    days. Rates are per subscriber per day, so size and length scale independently.

    >>> config = SimConfig(n_subscribers=500, days=2)
    >>> config.end_ms - config.start_ms == 2 * DAY_MS
    True
    >>> config.drift_start_day
    1
    """

    seed: int = 7
    n_subscribers: int = 3_000
    days: int = 7
    start: date = date(2026, 10, 5)
    scam_episodes_per_1000_subscriber_days: float = 0.5
    """Scam episodes (one victim, one typology) started per 1,000 subscriber-days."""
    min_episodes_per_typology: int = 0
    """Floor on episodes per typology, so a tiny world still shows every scam."""
    legit_call_scale: float = 1.0
    """Multiplies every legitimate calling rate (about 0.9 outgoing calls per subscriber-day at 1)."""
    legit_transfer_scale: float = 1.0
    """Multiplies every legitimate transfer rate (about 0.1 per subscriber-day at 1)."""
    cold_calls_per_ring_day: float = 40.0
    """Mean untargeted 'cold' calls a scam ring makes per day, besides calls to its victims."""
    wangiri_campaigns_per_100k_subscriber_days: float = 1.0
    simbox_share: float = 0.25
    """Share of rings that relay their calls through SIM-boxes."""
    drift: bool = True
    """Change ring tactics after ``drift_start_day`` (aged SIMs, mobile numbers, new banks...)."""
    drift_day: int | None = None
    """Day (0-based) at which tactics change; None means the midpoint."""
    drift_strength: float = 0.0
    """Share of episodes begun after the drift day that rings run over internet chat and voice
    apps instead of the phone network: no call reaches the victim's number, and the victim pays
    several "running-points" accounts (ordinary residents renting out their accounts) late at
    night. 0 keeps the phone-first tactics throughout (see :mod:`fraud_brain.sim.scams`)."""
    victim_report_rate: float = 0.6
    """Probability that a victim reports the scam (labels on the episode's transfers)."""
    number_label_rate: float = 0.4
    """Probability that the operator confirms a given scam number as fraudulent."""
    mule_label_rate: float = 0.5
    """Probability that a bank confirms a given mule account."""
    label_delay_median_hours: float = 48.0
    """Median delay between the scam and its victim report (lognormal; hours to weeks)."""
    cleared_label_rate: float = 0.02
    """Share of suspicious-looking legitimate transfers later confirmed legitimate by an agent."""
    label_horizon_days: int = 14
    """Labels known up to this many days after the window closes are kept."""

    @classmethod
    def preset(cls, name: str, **overrides: object) -> SimConfig:
        """A named configuration (``sample``, ``small``, ``drift`` or ``bench``) with optional overrides.

        >>> SimConfig.preset("bench").n_subscribers
        35000
        >>> SimConfig.preset("huge")
        Traceback (most recent call last):
        ...
        fraud_brain.errors.InputError: unknown simulator preset 'huge'; expected one of bench, drift, ...
        """
        try:
            base = PRESETS[name]
        except KeyError:
            raise InputError(
                f"unknown simulator preset {name!r}; expected one of {', '.join(sorted(PRESETS))}"
            ) from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InputError(f"unknown SimConfig field(s) {unknown} in overrides of preset {name!r}")
        config = replace(base, **overrides)  # type: ignore[arg-type]
        config.check()
        return config

    def check(self) -> None:
        """Raise :class:`~fraud_brain.errors.InputError` naming the field when a setting is out of range.

        >>> SimConfig(days=0).check()
        Traceback (most recent call last):
        ...
        fraud_brain.errors.InputError: SimConfig.days must be >= 1, got 0
        """
        for name, low in (("n_subscribers", 50), ("days", 1)):
            value = getattr(self, name)
            if value < low:
                raise InputError(f"SimConfig.{name} must be >= {low}, got {value}")
        for name in (
            "scam_episodes_per_1000_subscriber_days",
            "legit_call_scale",
            "legit_transfer_scale",
            "cold_calls_per_ring_day",
            "label_delay_median_hours",
        ):
            if getattr(self, name) < 0:
                raise InputError(f"SimConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in (
            "simbox_share",
            "victim_report_rate",
            "number_label_rate",
            "mule_label_rate",
            "cleared_label_rate",
            "drift_strength",
        ):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise InputError(f"SimConfig.{name} must be in [0, 1], got {value}")
        if self.drift_day is not None and not 0 <= self.drift_day <= self.days:
            raise InputError(f"SimConfig.drift_day must be in [0, days={self.days}], got {self.drift_day}")

    @property
    def start_ms(self) -> int:
        """The window's first instant, in ms since the Unix epoch (UTC)."""
        moment = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return int(moment.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        """The window's end (exclusive), in ms since the Unix epoch (UTC)."""
        return self.start_ms + self.days * DAY_MS

    @property
    def start_epoch_day(self) -> int:
        """The window's first day as days since 1970-01-01."""
        return self.start_ms // DAY_MS

    @property
    def drift_start_ms(self) -> int:
        """The instant tactics change, in ms since the Unix epoch (``end_ms`` when drift is off).

        >>> config = SimConfig(days=10, drift_day=4)
        >>> (config.drift_start_ms - config.start_ms) // DAY_MS
        4
        """
        return self.start_ms + self.drift_start_day * DAY_MS

    @property
    def drift_start_day(self) -> int:
        """The 0-based day at which ring tactics change (``days`` when drift is off)."""
        if not self.drift:
            return self.days
        return self.days // 2 if self.drift_day is None else self.drift_day


PRESETS: dict[str, SimConfig] = {
    "sample": SimConfig(
        n_subscribers=8_000,
        days=7,
        scam_episodes_per_1000_subscriber_days=2.6,
        min_episodes_per_typology=24,
        cold_calls_per_ring_day=25.0,
        wangiri_campaigns_per_100k_subscriber_days=3.0,
    ),
    "small": SimConfig(
        n_subscribers=20_000,
        days=30,
        scam_episodes_per_1000_subscriber_days=0.6,
        min_episodes_per_typology=20,
    ),
    "drift": SimConfig(
        n_subscribers=20_000,
        days=28,
        scam_episodes_per_1000_subscriber_days=1.2,
        min_episodes_per_typology=20,
        drift_day=19,
        drift_strength=0.85,
    ),
    "bench": SimConfig(n_subscribers=35_000, days=28, scam_episodes_per_1000_subscriber_days=0.5),
}
"""Named configurations: ``sample`` (committed demo data, <= 5 MB), ``small`` (notebooks,
training), ``drift`` (a strong tactics change late in the window, inside the default test
period, so a frozen model's decay shows) and ``bench`` (about a million records)."""
