"""Scam activity: the rings' cold calls, victim episodes by typology, Wangiri, and mule flows.

Each episode is one victim of one ring with the typology's call-then-transfer sequence:
order-brushing (a small rebate, then escalating top-ups over hours to days), fake
investment (grooming calls over days, a small deposit, a "profit" withdrawal, one large
deposit), fake loan (fee after fee), fake customer service (transfers during or minutes after
the call), impersonating police (a 20+ minute call, then many transfers to a "safe account",
sometimes from a new phone). Victims pay the ring's first-level mule with their own phone as
``payer_phone``, so the call to that phone joins to the transfer. Mules forward quickly.

After the drift day (``SimConfig.drift_start_day``) tactics change: fake customer-service
calls halve in length and payments more often come later, after the call; customer-service
and police amounts shrink (police victims make more, smaller payments) and move to
third-party payment; order-brushing starts smaller and escalates more slowly; rings call from
aged local SIMs and SIM-boxes rather than VoIP/overseas numbers (:mod:`.rings`), and open
mule accounts at digital-only banks.

With ``SimConfig.drift_strength`` > 0 a share of the episodes begun after the drift day move
off the phone network altogether (rings reach victims over internet chat and voice apps): no
ring call reaches the victim's number, the victim's payments (and the ring's rebates) move
into the small hours, in the same order, and go by third-party payment into "running-points"
accounts (ordinary residents' accounts rented out by a laundering platform all rings share,
so each is paid by many victims) instead of the ring's first-level mules. A model that
learned "a risky call, then a transfer to a fresh mule" sees neither.

>>> import numpy as np
>>> from fraud_brain.sim.config import SimConfig
>>> from fraud_brain.sim.registry import Registry
>>> from fraud_brain.sim.population import build_population
>>> config = SimConfig(n_subscribers=400, days=4, min_episodes_per_typology=2)
>>> registry = Registry(np.random.default_rng(0))
>>> population = build_population(config, registry, np.random.default_rng(1))
>>> scams = scam_events(config, registry, population, np.random.default_rng(2))
>>> bool(scams.transfers["scam"].any() and scams.calls["scam"].any())
True
>>> sorted(set(scams.episode_typology.tolist())) == [0, 1, 2, 3, 4]
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraud_brain.schema.records import CHANNELS, TYPOLOGIES
from fraud_brain.sim.config import DAY_MS, LOCAL_OFFSET_MS, SCAM_TYPOLOGIES, TYPOLOGY_SHARES, SimConfig
from fraud_brain.sim.events import (
    ANSWERED,
    TRANSFER_KINDS,
    call_batch,
    choice_codes,
    concat,
    expand,
    talk,
    transfer_batch,
)
from fraud_brain.sim.population import Population
from fraud_brain.sim.registry import Registry
from fraud_brain.sim.rhythm import PROFILES, sample_times
from fraud_brain.sim.rings import POINTS_SLOT_DAYS, Rings, build_rings

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
LEAD_DAYS = 1
"""Episodes may start this many days before the window (their tails fall inside it)."""
POINTS_PER_SLOT = 3
"""Running-points accounts the platform has in use at a time, for all rings (so each has many payers)."""
APP_HOURS = (23.0, 29.0)
"""Local hours (past midnight: > 24) into which an app-run episode's day is squeezed."""

VICTIM_AGES = {
    # age band weights (<18, 18-24, 25-34, 35-44, 45-54, 55-64, 65-74, 75+)
    "order_brushing": (0.05, 0.55, 0.35, 0.05, 0, 0, 0, 0),
    "fake_investment": (0, 0, 0.2, 0.3, 0.3, 0.2, 0, 0),
    "fake_loan": (0, 0.2, 0.4, 0.3, 0.1, 0, 0, 0),
    "fake_customer_service": (0, 0, 0, 0.05, 0.2, 0.35, 0.35, 0.05),
    "impersonating_police": (0, 0, 0.05, 0, 0.1, 0.25, 0.4, 0.2),
}
"""Who falls for each typology: young victims for order-brushing, elderly for police scams."""


@dataclass
class ScamEvents:
    """Scam calls and transfers (ground truth attached) and the episode table."""

    calls: dict[str, np.ndarray]
    transfers: dict[str, np.ndarray]
    rings: Rings
    episode_typology: np.ndarray
    episode_ring: np.ndarray
    episode_victim: np.ndarray
    """Resident position of each episode's victim."""
    episode_anchor: np.ndarray
    """Each episode's anchor time (first contact; for fake investment: the large deposit)."""
    wangiri_numbers: np.ndarray
    wangiri_campaign: np.ndarray


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(n))


def _uniform_ms(rng: np.random.Generator, low_min: float, high_min: float, n: int) -> np.ndarray:
    return (rng.uniform(low_min, high_min, n) * MINUTE_MS).astype(np.int64)


def _pick_victims(
    rng: np.random.Generator, population: Population, weights: tuple[float, ...], n: int
) -> np.ndarray:
    """``n`` residents with a bank account, drawn by the typology's age weights."""
    candidates = population.with_account()
    order = np.argsort(population.age[candidates], kind="stable")
    candidates = candidates[order]
    per_band = np.bincount(population.age[candidates], minlength=len(weights))
    # The weights are the victims' age mix, whatever the bands' sizes (empty bands are skipped).
    p = np.where(per_band > 0, np.asarray(weights, dtype=np.float64), 0.0)
    if p.sum() == 0:
        p = (per_band > 0).astype(np.float64)
    band = rng.choice(p.size, size=n, p=p / p.sum())
    first = np.cumsum(per_band) - per_band
    return candidates[first[band] + (rng.random(n) * per_band[band]).astype(np.int64)]


class _Builder:
    """Shared state while building one world's scam events."""

    def __init__(
        self,
        config: SimConfig,
        registry: Registry,
        population: Population,
        rings: Rings,
        rng: np.random.Generator,
        ring: np.ndarray,
        victim: np.ndarray,
        anchor: np.ndarray,
        first_id: int,
        over_apps: np.ndarray | None = None,
    ):
        self.config, self.registry, self.pop, self.rings, self.rng = config, registry, population, rings, rng
        self.ring, self.victim, self.anchor = ring, victim, anchor
        self.episode_id = first_id + np.arange(ring.size)
        self.after_drift = (anchor - config.start_ms) // DAY_MS >= config.drift_start_day
        self.over_apps = np.zeros(ring.size, dtype=bool) if over_apps is None else over_apps
        self.calls: list[dict[str, np.ndarray]] = []
        self.transfers: list[dict[str, np.ndarray]] = []

    def call(
        self, ep: np.ndarray, t: np.ndarray, duration: np.ndarray, disposition: np.ndarray | None = None
    ) -> None:
        """Ring → victim calls of episodes ``ep`` at times ``t`` (none for episodes run over apps)."""
        if disposition is None:
            disposition = np.full(ep.size, ANSWERED)
        by_phone = ~self.over_apps[ep]
        if not by_phone.all():
            ep, t, duration, disposition = ep[by_phone], t[by_phone], duration[by_phone], disposition[by_phone]
        ring = self.ring[ep]
        caller = self.rings.caller(self.rng, ring, t)
        self.calls.append(
            call_batch(
                t,
                caller,
                self.pop.residents[self.victim[ep]],
                "episode",
                np.where(disposition == ANSWERED, duration, 0),
                disposition,
                typology=self.rings.typology[ring],
                episode=self.episode_id[ep],
                ring=ring,
            )
        )

    def pay(
        self,
        ep: np.ndarray,
        t: np.ndarray,
        amount: np.ndarray,
        channels: dict[str, float],
        device: np.ndarray | None = None,
        channels_after_drift: dict[str, float] | None = None,
    ) -> None:
        """Victim → first-level mule transfers, from the victim's own account and phone.

        Episodes run over apps pay a running-points account by third-party payment instead.
        """
        victim = self.victim[ep]
        ring = self.ring[ep]
        channel = choice_codes(self.rng, ep.size, channels, CHANNELS)
        if channels_after_drift is not None:
            drifted = choice_codes(self.rng, ep.size, channels_after_drift, CHANNELS)
            channel = np.where(self.after_drift[ep], drifted, channel)
        payee = self.rings.first_mule(self.rng, ring, t)
        apps = self.over_apps[ep]
        if apps.any():
            t = np.where(apps, _late_night(t), t)
            payee[apps] = self.rings.points_account(self.rng, t[apps])
            channel = np.where(apps, CHANNELS.index("third_party_pay"), channel)
        if device is None:
            pc = self.pop.pc[victim]
            device = np.where(
                (channel == CHANNELS.index("online_banking")) & (pc >= 0), pc, self.pop.device[victim]
            )
        self.transfers.append(
            transfer_batch(
                t,
                self.pop.account[victim],
                self.pop.residents[victim],
                payee,
                np.maximum(amount, 1.0),
                channel,
                device,
                "victim",
                typology=self.rings.typology[ring],
                episode=self.episode_id[ep],
                ring=ring,
            )
        )

    def rebate(self, ep: np.ndarray, t: np.ndarray, amount: np.ndarray) -> None:
        """Mule → victim payments that build trust (order-brushing rebates, investment 'profits')."""
        ring = self.ring[ep]
        t = np.where(self.over_apps[ep], _late_night(t), t)
        mule = self.rings.first_mule(self.rng, ring, t)
        phone = np.array([self.rings.account_phone.get(int(m), -1) for m in mule], dtype=np.int64)
        self.transfers.append(
            transfer_batch(
                t,
                mule,
                phone,
                self.pop.account[self.victim[ep]],
                np.maximum(amount, 1.0),
                choice_codes(self.rng, ep.size, {"mobile_app": 0.5, "third_party_pay": 0.5}, CHANNELS),
                self.rings.operator_device[ring],
                "rebate",
                typology=self.rings.typology[ring],
                episode=self.episode_id[ep],
                ring=ring,
            )
        )

    def bank_hotline(self, ep: np.ndarray, t: np.ndarray) -> None:
        """Victims who call their bank's hotline after paying (often too late)."""
        t = np.where(self.over_apps[ep], _late_night(t), t)
        disposition, duration = talk(self.rng, ep.size, 1.0, 300, 0.6)
        hotline = self.pop.hotlines[self.rng.integers(0, 6, ep.size)]
        self.calls.append(
            call_batch(
                t,
                self.pop.residents[self.victim[ep]],
                hotline,
                "victim_hotline",
                duration,
                disposition,
                episode=self.episode_id[ep],
            )
        )


def _escalating(
    rng: np.random.Generator,
    first: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    steps: np.ndarray,
    cap: float,
) -> np.ndarray:
    """Amounts growing by a random factor in [low, high) at each step of each episode."""
    owner, position = expand(steps)
    factor = rng.uniform(low[owner], high[owner])
    factor[position == 0] = 1.0
    log_amount = np.log(first[owner]) + _segment_cumsum(np.log(factor), steps)
    return np.minimum(np.round(np.exp(log_amount), 0), cap)


def _segment_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each segment.

    >>> _segment_cumsum(np.array([1, 2, 3, 4.0]), np.array([2, 2])).tolist()
    [1.0, 3.0, 3.0, 7.0]
    """
    if values.size == 0:
        return np.zeros(0, dtype=np.float64)
    total = np.cumsum(values)
    starts = np.cumsum(counts) - counts
    offset = np.where(starts > 0, total[np.maximum(starts - 1, 0)], 0.0)
    owner = np.repeat(np.arange(counts.size), counts)
    return total - offset[owner]


def _customer_service(b: _Builder, eps: np.ndarray) -> None:
    rng, n = b.rng, eps.size
    post = b.after_drift[eps]
    t0 = b.anchor[eps]
    pre_n = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    owner, _ = expand(pre_n)
    b.call(
        eps[owner],
        t0[owner] - _uniform_ms(rng, 2, 120, owner.size),
        np.zeros(owner.size, np.int64),
        rng.choice([1, 3], owner.size, p=[0.7, 0.3]),
    )
    duration = np.clip(_lognormal(rng, np.where(post, 11 * 60, 22 * 60), 0.45, n), 240, 9000).astype(np.int64)
    b.call(eps, t0, duration)
    n_pay = rng.choice([1, 2, 3, 4], n, p=[0.35, 0.3, 0.2, 0.15])
    late = post & (rng.random(n) < 0.5)
    first = np.where(
        late,
        t0 + duration * 1000 + _uniform_ms(rng, 5, 60, n),
        t0 + (duration * 1000 * rng.uniform(0.35, 0.95, n)).astype(np.int64),
    )
    owner, position = expand(n_pay)
    gaps = np.where(position == 0, 0, _uniform_ms(rng, 1, 12, owner.size))
    t = first[owner] + _segment_cumsum(gaps.astype(np.float64), n_pay).astype(np.int64)
    amount = np.clip(_lognormal(rng, np.where(post[owner], 3000, 6000), 0.8, owner.size), 200, 200_000)
    amount = np.where(rng.random(owner.size) < 0.6, np.round(amount, -2), amount)
    weights = {"mobile_app": 0.55, "online_banking": 0.3, "third_party_pay": 0.15}
    drifted = {"third_party_pay": 0.45, "mobile_app": 0.4, "online_banking": 0.15}
    b.pay(eps[owner], t, amount, weights, channels_after_drift=drifted)
    last = np.zeros(n, np.int64)
    np.maximum.at(last, owner, t)
    calls_bank = rng.random(n) < 0.3
    b.bank_hotline(eps[calls_bank], last[calls_bank] + _uniform_ms(rng, 10, 120, int(calls_bank.sum())))


def _police(b: _Builder, eps: np.ndarray) -> None:
    rng, n = b.rng, eps.size
    post = b.after_drift[eps]
    t0 = b.anchor[eps]
    duration = np.clip(_lognormal(rng, 50 * 60, 0.4, n), 21 * 60, 3 * 3600).astype(np.int64)
    b.call(eps, t0, duration)
    n_follow = rng.integers(0, 4, n)
    owner, _ = expand(n_follow)
    follow_t = t0[owner] + _segment_cumsum(rng.uniform(3, 20, owner.size) * HOUR_MS, n_follow).astype(
        np.int64
    )
    b.call(
        eps[owner],
        follow_t,
        np.clip(_lognormal(rng, 30 * 60, 0.5, owner.size), 300, 3 * 3600).astype(np.int64),
    )
    n_pay = np.where(post, rng.integers(3, 10, n), rng.integers(2, 9, n))
    owner, position = expand(n_pay)
    first = t0 + (duration * 1000 * rng.uniform(0.6, 1.0, n)).astype(np.int64)
    gaps = np.where(position == 0, 0, rng.exponential(3 * HOUR_MS, owner.size) + 2 * MINUTE_MS)
    t = first[owner] + _segment_cumsum(gaps, n_pay).astype(np.int64)
    amount = np.clip(_lognormal(rng, np.where(post[owner], 15_000, 40_000), 0.7, owner.size), 1000, 500_000)
    amount = np.where(rng.random(owner.size) < 0.7, np.round(amount, -3), amount)
    # Told to buy a new phone "for secrecy": later payments come from a device never seen before.
    new_phone = rng.random(n) < 0.35
    device_of = b.pop.device[b.victim[eps]].copy()
    device_of[new_phone] = b.registry.add_devices(int(new_phone.sum()), "phone")
    b.pay(
        eps[owner],
        t,
        amount,
        {"online_banking": 0.4, "mobile_app": 0.4, "counter": 0.2},
        device=device_of[owner],
        channels_after_drift={
            "mobile_app": 0.5,
            "third_party_pay": 0.3,
            "online_banking": 0.15,
            "counter": 0.05,
        },
    )
    last = np.zeros(n, np.int64)
    np.maximum.at(last, owner, t)
    calls_bank = rng.random(n) < 0.2
    b.bank_hotline(eps[calls_bank], last[calls_bank] + _uniform_ms(rng, 30, 600, int(calls_bank.sum())))


def _order_brushing(b: _Builder, eps: np.ndarray) -> None:
    rng, n = b.rng, eps.size
    post = b.after_drift[eps]
    t0 = b.anchor[eps]
    duration = np.clip(_lognormal(rng, 6 * 60, 0.6, n), 60, 3600).astype(np.int64)
    b.call(eps, t0, duration)
    rebate_t = t0 + duration * 1000 + _uniform_ms(rng, 10, 90, n)
    b.rebate(eps, rebate_t, np.round(rng.uniform(10, 60, n), 2))
    n_pay = np.where(post, rng.integers(4, 9, n), rng.integers(3, 8, n))
    owner, position = expand(n_pay)
    first = rebate_t + _uniform_ms(rng, 20, 180, n)
    gaps = np.where(position == 0, 0, rng.exponential(4 * HOUR_MS, owner.size) + 10 * MINUTE_MS)
    t = first[owner] + _segment_cumsum(gaps, n_pay).astype(np.int64)
    start_amount = np.where(post, rng.uniform(50, 300, n), rng.uniform(100, 600, n))
    amount = _escalating(rng, start_amount, np.where(post, 1.4, 1.6), np.where(post, 2.2, 3.0), n_pay, 80_000)
    b.pay(eps[owner], t, amount, {"third_party_pay": 0.6, "mobile_app": 0.4})
    called = rng.random(owner.size) < 0.5
    b.call(
        eps[owner[called]],
        t[called] - _uniform_ms(rng, 2, 30, int(called.sum())),
        np.clip(_lognormal(rng, 180, 0.6, int(called.sum())), 30, 1800).astype(np.int64),
    )


def _fake_investment(b: _Builder, eps: np.ndarray) -> None:
    rng, n = b.rng, eps.size
    post = b.after_drift[eps]
    big_t = b.anchor[eps]
    groom_days = rng.uniform(2, 12, n)
    n_groom = rng.integers(3, 10, n)
    owner, position = expand(n_groom)
    # The first contact opens the grooming period; the rest fall anywhere inside it.
    share = np.where(position == 0, 1.0, rng.uniform(0.05, 1.0, owner.size))
    groom_t = big_t[owner] - (share * groom_days[owner] * DAY_MS).astype(np.int64)
    b.call(
        eps[owner], groom_t, np.clip(_lognormal(rng, 15 * 60, 0.7, owner.size), 60, 2 * 3600).astype(np.int64)
    )
    small_t = big_t - (rng.uniform(0.3, 0.6, n) * groom_days * DAY_MS).astype(np.int64)
    small = np.round(rng.uniform(1000, 5000, n), -2)
    weights = {"online_banking": 0.5, "mobile_app": 0.5}
    b.pay(eps, small_t, small, weights)
    profit_t = np.minimum(small_t + (rng.uniform(12, 48, n) * HOUR_MS).astype(np.int64), big_t - HOUR_MS)
    b.rebate(eps, profit_t, np.round(small * rng.uniform(0.1, 0.3, n), 2))
    big = np.round(np.clip(_lognormal(rng, np.where(post, 50_000, 80_000), 0.7, n), 10_000, 2_000_000), -3)
    b.pay(eps, big_t, big, weights)
    called = rng.random(n) < 0.6
    b.call(
        eps[called],
        big_t[called] - _uniform_ms(rng, 10, 180, int(called.sum())),
        np.clip(_lognormal(rng, 20 * 60, 0.5, int(called.sum())), 120, 3 * 3600).astype(np.int64),
    )


def _fake_loan(b: _Builder, eps: np.ndarray) -> None:
    rng, n = b.rng, eps.size
    t0 = b.anchor[eps]
    duration = np.clip(_lognormal(rng, 8 * 60, 0.5, n), 60, 3600).astype(np.int64)
    b.call(eps, t0, duration)
    again = rng.random(n) < 0.4
    b.call(
        eps[again],
        t0[again] + duration[again] * 1000 + _uniform_ms(rng, 5, 120, int(again.sum())),
        np.clip(_lognormal(rng, 5 * 60, 0.5, int(again.sum())), 30, 3600).astype(np.int64),
    )
    n_pay = rng.integers(1, 5, n)
    owner, position = expand(n_pay)
    first = t0 + duration * 1000 + _uniform_ms(rng, 5, 60, n)
    gaps = np.where(position == 0, 0, rng.uniform(20, 480, owner.size) * MINUTE_MS)
    t = first[owner] + _segment_cumsum(gaps, n_pay).astype(np.int64)
    amount = np.round(
        _escalating(rng, rng.uniform(300, 2000, n), np.full(n, 1.2), np.full(n, 2.5), n_pay, 50_000), -1
    )
    b.pay(eps[owner], t, amount, {"mobile_app": 0.6, "third_party_pay": 0.4})
    called = (position > 0) & (rng.random(owner.size) < 0.7)
    b.call(
        eps[owner[called]],
        t[called] - _uniform_ms(rng, 2, 20, int(called.sum())),
        np.clip(_lognormal(rng, 4 * 60, 0.5, int(called.sum())), 30, 1800).astype(np.int64),
    )


EPISODE_BUILDERS = {
    "order_brushing": _order_brushing,
    "fake_investment": _fake_investment,
    "fake_loan": _fake_loan,
    "fake_customer_service": _customer_service,
    "impersonating_police": _police,
}


def _cold_calls(
    config: SimConfig, population: Population, rings: Rings, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Untargeted calls from each ring to many residents: mostly unanswered or short."""
    per_ring = rng.poisson(config.cold_calls_per_ring_day * config.days, rings.n)
    ring, _ = expand(per_ring)
    t = sample_times(rng, ring.size, config.start_ms, config.days, PROFILES["scam"])
    callee = np.empty(ring.size, dtype=np.int64)
    for name in SCAM_TYPOLOGIES:
        mine = np.flatnonzero(rings.typology[ring] == TYPOLOGIES.index(name))
        callee[mine] = (
            _pick_victims(rng, population, VICTIM_AGES[name], mine.size) if mine.size else callee[mine]
        )
    disposition, duration = talk(rng, ring.size, 0.35, 40, 1.0, high_s=1800)
    return call_batch(
        t,
        rings.caller(rng, ring, t),
        population.residents[callee],
        "cold_call",
        duration,
        disposition,
        typology=rings.typology[ring],
        ring=ring,
    )


ATTEMPT_TALK_MINUTES = {
    "order_brushing": 5,
    "fake_investment": 10,
    "fake_loan": 6,
    "fake_customer_service": 9,
    "impersonating_police": 16,
}
"""Median length of a failed attempt's call: the target talks, then hangs up or grows suspicious."""


def _attempts(
    config: SimConfig, population: Population, rings: Rings, rng: np.random.Generator, n_episodes: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Failed scams: long ring calls that end without a scam payment.

    Most attempts fail. Some targets then make an ordinary payment within hours (a bill, a
    purchase) or, alarmed, move savings to their own other account, so "a long call from a
    risky number, then a transfer" is not proof of a scam on its own.
    """
    calls, transfers = [], []
    for code, name in enumerate(SCAM_TYPOLOGIES):
        n = int(rng.poisson(2.5 * n_episodes[code]))
        rings_of = np.flatnonzero(rings.typology == TYPOLOGIES.index(name))
        ring = rings_of[rng.integers(0, rings_of.size, n)]
        target = _pick_victims(rng, population, VICTIM_AGES[name], n)
        t = sample_times(rng, n, config.start_ms, config.days, PROFILES["scam"])
        duration = np.clip(_lognormal(rng, ATTEMPT_TALK_MINUTES[name] * 60, 0.8, n), 60, 3 * 3600).astype(
            np.int64
        )
        calls.append(
            call_batch(
                t,
                rings.caller(rng, ring, t),
                population.residents[target],
                "attempt",
                duration,
                np.full(n, ANSWERED),
                typology=rings.typology[ring],
                ring=ring,
            )
        )
        follow = rng.random(n) < 0.35
        who, after = target[follow], t[follow] + duration[follow] * 1000
        pay_t = after + _uniform_ms(rng, 3, 240, who.size)
        second = population.second_account[who]
        own = second >= 0
        merchant = population.merchants[
            rng.choice(population.merchants.size, who.size, p=population.merchant_p)
        ]
        payee = np.where(own, second, merchant)
        amount = np.where(
            own,
            np.round(_lognormal(rng, 8000, 0.9, who.size), -2),
            np.round(_lognormal(rng, 300, 1.0, who.size), 2),
        )
        channel = choice_codes(
            rng, who.size, {"mobile_app": 0.6, "online_banking": 0.2, "third_party_pay": 0.2}, CHANNELS
        )
        for kind, mask in (("own_account", own), ("shopping", ~own)):
            transfers.append(
                transfer_batch(
                    pay_t[mask],
                    population.account[who[mask]],
                    population.residents[who[mask]],
                    payee[mask],
                    amount[mask],
                    channel[mask],
                    population.device[who[mask]],
                    kind,
                )
            )
    return concat(calls), concat(transfers)


def _wangiri(
    config: SimConfig, registry: Registry, population: Population, rng: np.random.Generator, first_ring: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """One-ring call bursts from premium international numbers, and the residents who call back."""
    expected = (
        config.wangiri_campaigns_per_100k_subscriber_days * config.n_subscribers * config.days / 100_000
    )
    n_campaigns = max(2, int(rng.poisson(expected)))
    n_numbers = rng.integers(3, 9, n_campaigns)
    campaign, _ = expand(n_numbers)
    numbers = registry.add_numbers(campaign.size, "international", "wangiri", listed=False)
    burst_start = sample_times(
        rng,
        n_campaigns,
        config.start_ms,
        config.days,
        PROFILES["night"] if rng.random() < 0.6 else PROFILES["any"],
    )
    per_number = np.clip(rng.poisson(population.residents.size * 0.015, numbers.size), 20, 150)
    number_pos, _ = expand(per_number)
    gaps = rng.uniform(5, 40, number_pos.size) * 1000
    t = burst_start[campaign[number_pos]] + _segment_cumsum(gaps, per_number).astype(np.int64)
    callee = population.residents[rng.integers(0, population.residents.size, t.size)]
    disposition = rng.choice([1, 3, 4], t.size, p=[0.85, 0.1, 0.05])
    typology = TYPOLOGIES.index("wangiri")
    ring = first_ring + campaign[number_pos]
    rings_calls = call_batch(
        t,
        numbers[number_pos],
        callee,
        "wangiri",
        np.zeros(t.size, np.int64),
        disposition,
        typology=typology,
        ring=ring,
    )
    back = rng.random(t.size) < 0.04
    back_t = t[back] + np.maximum(_lognormal(rng, 30 * MINUTE_MS, 1.0, int(back.sum())), MINUTE_MS).astype(
        np.int64
    )
    back_duration = np.clip(_lognormal(rng, 90, 0.7, int(back.sum())), 10, 600).astype(np.int64)
    callbacks = call_batch(
        back_t,
        callee[back],
        numbers[number_pos[back]],
        "wangiri_callback",
        back_duration,
        np.full(back_t.size, ANSWERED),
        typology=typology,
        ring=ring[back],
    )
    return concat([rings_calls, callbacks]), numbers, first_ring + campaign


def _mule_flows(
    transfers: dict[str, np.ndarray], rings: Rings, number_device: np.ndarray, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """Fast onward transfers: first-level mule → second-level mule → cash-out."""
    victim = transfers["kind"] == TRANSFER_KINDS.index("victim")
    t, ring, mule, amount = (
        transfers["t"][victim],
        transfers["ring"][victim],
        transfers["payee"][victim],
        transfers["amount"][victim],
    )
    episode, typology = transfers["episode"][victim], transfers["typology"][victim]
    phone = np.array([rings.account_phone.get(int(m), -1) for m in mule], dtype=np.int64)
    own_device = np.where(phone >= 0, number_device[np.maximum(phone, 0)], -1)
    device = np.where((own_device >= 0) & (rng.random(t.size) < 0.5), own_device, rings.operator_device[ring])
    onward_t = t + np.clip(_lognormal(rng, 20 * MINUTE_MS, 0.8, t.size), 2 * MINUTE_MS, 12 * HOUR_MS).astype(
        np.int64
    )
    second = rings.mule2[ring, rng.integers(0, rings.mule2.shape[1], t.size)]
    onward_amount = np.round(amount * rng.uniform(0.9, 0.995, t.size), 2)
    onward = transfer_batch(
        onward_t,
        mule,
        phone,
        second,
        onward_amount,
        choice_codes(rng, t.size, {"online_banking": 0.6, "mobile_app": 0.4}, CHANNELS),
        device,
        "mule_onward",
        typology=typology,
        episode=episode,
        ring=ring,
    )
    out = rng.random(t.size) < 0.85
    out_t = onward_t[out] + np.clip(
        _lognormal(rng, 60 * MINUTE_MS, 0.8, int(out.sum())), 5 * MINUTE_MS, 24 * HOUR_MS
    ).astype(np.int64)
    second_phone = np.array([rings.account_phone.get(int(m), -1) for m in second[out]], dtype=np.int64)
    cash = transfer_batch(
        out_t,
        second[out],
        second_phone,
        rings.cash_out[ring[out], rng.integers(0, 2, int(out.sum()))],
        np.round(onward_amount[out] * rng.uniform(0.97, 0.999, int(out.sum())), 2),
        CHANNELS.index("online_banking"),
        rings.operator_device[ring[out]],
        "cash_out",
        typology=typology[out],
        episode=episode[out],
        ring=ring[out],
    )
    return [onward, cash]


def _rent_points_accounts(rings: Rings, population: Population, config: SimConfig, rng: np.random.Generator) -> None:
    """Give the laundering platform a few residents' accounts per slot, for app-run victims' money."""
    holders = population.with_account()
    n_slots = config.days // POINTS_SLOT_DAYS + 1
    chosen = rng.choice(holders, size=(n_slots, POINTS_PER_SLOT), replace=False)
    rings.points = population.account[chosen]
    rings.account_phone.update(
        zip(rings.points.ravel().tolist(), population.residents[chosen].ravel().tolist(), strict=True)
    )


def _late_night(t: np.ndarray) -> np.ndarray:
    """Squeeze each local day into its night: a monotone map of times into APP_HOURS.

    App-run episodes keep victims busy with chat-app "tasks" at night; the map keeps the order
    of an episode's steps (and so its escalation) while moving them into the small hours.

    >>> t = np.array([(3 * 24 - 8) * HOUR_MS, (3 * 24 + 4) * HOUR_MS])  # 00:00 and 12:00 local, day 3
    >>> ((_late_night(t) + LOCAL_OFFSET_MS) // HOUR_MS % 24).tolist()
    [23, 2]
    """
    local = np.asarray(t, dtype=np.int64) + LOCAL_OFFSET_MS
    day, into = local // DAY_MS, local % DAY_MS
    span = (APP_HOURS[1] - APP_HOURS[0]) / 24
    return day * DAY_MS - LOCAL_OFFSET_MS + int(APP_HOURS[0] * HOUR_MS) + (into * span).astype(np.int64)


def scam_events(
    config: SimConfig, registry: Registry, population: Population, rng: np.random.Generator
) -> ScamEvents:
    """Every scam call and transfer of the window (unsorted; may spill outside it)."""
    expected = (
        config.scam_episodes_per_1000_subscriber_days
        * config.n_subscribers
        * (config.days + LEAD_DAYS)
        / 1000
    )
    n_episodes = np.maximum(
        rng.poisson(expected * np.asarray(TYPOLOGY_SHARES)), config.min_episodes_per_typology
    )
    rings_per_typology = np.maximum(2, np.round(n_episodes / 20)).astype(np.int64)
    young = np.flatnonzero((population.account >= 0) & (population.age >= 1) & (population.age <= 2))
    recruits = rng.permutation(young)[: max(young.size // 50, 1)]
    rings = build_rings(
        config,
        registry,
        rng,
        rings_per_typology,
        population.account[recruits],
        population.residents[recruits],
    )
    ring_first = np.cumsum(rings_per_typology) - rings_per_typology
    if config.drift_strength > 0:
        _rent_points_accounts(rings, population, config, rng)

    calls = [_cold_calls(config, population, rings, rng)]
    transfers: list[dict[str, np.ndarray]] = []
    episode_typology, episode_ring, episode_victim, episode_anchor = [], [], [], []
    first_id = 0
    for code, name in enumerate(SCAM_TYPOLOGIES):
        n = int(n_episodes[code])
        ring = ring_first[code] + rng.integers(0, rings_per_typology[code], n)
        victim = _pick_victims(rng, population, VICTIM_AGES[name], n)
        # Episodes run on when the window opens: some started the day before, so the first hours
        # already hold their later payments (whose first calls fall before the window).
        anchor = sample_times(
            rng, n, config.start_ms - LEAD_DAYS * DAY_MS, config.days + LEAD_DAYS, PROFILES["scam"]
        )
        over_apps = None
        if config.drift_strength > 0:
            over_apps = (anchor >= config.drift_start_ms) & (rng.random(n) < config.drift_strength)
        builder = _Builder(config, registry, population, rings, rng, ring, victim, anchor, first_id, over_apps)
        EPISODE_BUILDERS[name](builder, np.arange(n))
        calls.extend(builder.calls)
        transfers.extend(builder.transfers)
        episode_typology.append(np.full(n, TYPOLOGIES.index(name)))
        episode_ring.append(ring)
        episode_victim.append(victim)
        episode_anchor.append(anchor)
        first_id += n
    wangiri_calls, wangiri_numbers, wangiri_campaign = _wangiri(config, registry, population, rng, rings.n)
    calls.append(wangiri_calls)
    attempt_calls, after_attempt = _attempts(config, population, rings, rng, n_episodes)
    calls.append(attempt_calls)
    scam_transfers = concat(transfers)
    transfers = [
        scam_transfers,
        *_mule_flows(scam_transfers, rings, registry.numbers()["device"], rng),
        after_attempt,
    ]
    return ScamEvents(
        calls=concat(calls),
        transfers=concat(transfers),
        rings=rings,
        episode_typology=np.concatenate(episode_typology),
        episode_ring=np.concatenate(episode_ring),
        episode_victim=np.concatenate(episode_victim),
        episode_anchor=np.concatenate(episode_anchor),
        wangiri_numbers=wangiri_numbers,
        wangiri_campaign=wangiri_campaign,
    )
