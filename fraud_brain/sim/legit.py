"""The legitimate world's calls and transfers, generated as whole arrays.

Calls follow the relationship edges and the city's service numbers; transfers are salaries,
rent, shopping, bills, family support, occasional new payees, elderly parents' large transfers
to their children and house purchases. Several legitimate patterns deliberately look like
scams (hard negatives): long calls from unknown numbers, relatives calling from abroad,
delivery privacy numbers in virtual-operator ranges, a service call followed by a payment,
an elderly parent's large transfer (sometimes to a never-seen account) after a call.

>>> import numpy as np
>>> from fraud_brain.sim.config import SimConfig
>>> from fraud_brain.sim.registry import Registry
>>> from fraud_brain.sim.population import build_population
>>> config = SimConfig(n_subscribers=300, days=3)
>>> registry = Registry(np.random.default_rng(1))
>>> population = build_population(config, registry, np.random.default_rng(2))
>>> calls, transfers = legit_events(config, population, np.random.default_rng(3))
>>> bool(calls["t"].size > 300 and transfers["t"].size > 30 and not calls["scam"].any())
True
"""

from __future__ import annotations

import numpy as np

from fraud_brain.schema.records import CHANNELS
from fraud_brain.sim.config import DAY_MS, LOCAL_OFFSET_MS, SimConfig
from fraud_brain.sim.events import (
    CALL_KINDS,
    call_batch,
    choice_codes,
    concat,
    expand,
    talk,
    transfer_batch,
)
from fraud_brain.sim.population import EDGE_RATES, Population
from fraud_brain.sim.rhythm import PROFILES, sample_times

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

TALK = {
    # kind: (answered share, median talk seconds, lognormal sigma)
    "family": (0.88, 150, 1.0),
    "kin": (0.90, 240, 0.9),
    "colleague": (0.85, 100, 0.9),
    "friend": (0.80, 200, 1.1),
    "stranger": (0.55, 60, 1.6),
    "hotline": (0.97, 240, 0.8),
    "hotline_callback": (0.70, 180, 0.8),
    "ecommerce_service": (0.65, 300, 0.8),
    "courier": (0.85, 30, 0.6),
    "delivery": (0.85, 25, 0.6),
    "business": (0.60, 120, 1.3),
    "telemarketing": (0.35, 20, 1.0),
    "abroad": (0.80, 900, 0.8),
}
"""How each kind of legitimate call is answered and how long it lasts."""

EDGE_PROFILE = {"family": "family", "kin": "family", "colleague": "work", "friend": "evening"}


def _calls(
    rng: np.random.Generator, t: np.ndarray, caller: np.ndarray, callee: np.ndarray, kind: str
) -> dict[str, np.ndarray]:
    answered, median, sigma = TALK[kind]
    disposition, duration = talk(rng, t.size, answered, median, sigma)
    return call_batch(t, caller, callee, kind, duration, disposition)


def _per_resident(rng: np.random.Generator, config: SimConfig, n: int, rate: float) -> np.ndarray:
    """Event counts per resident for a daily rate over the window."""
    return rng.poisson(rate * config.days * config.legit_call_scale, n)


def legit_calls(config: SimConfig, population: Population, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every legitimate call of the window (unsorted)."""
    pop = population
    res = pop.residents
    n = res.size
    batches = []
    rates = np.array([EDGE_RATES.get(kind, 0.0) for kind in CALL_KINDS])
    counts = rng.poisson(rates[pop.edge_kind] * config.days * config.legit_call_scale)
    edge, _ = expand(counts)
    for kind, profile in EDGE_PROFILE.items():
        mine = edge[pop.edge_kind[edge] == CALL_KINDS.index(kind)]
        t = sample_times(rng, mine.size, config.start_ms, config.days, PROFILES[profile])
        caller = res[pop.edge_src[mine]]
        if kind == "colleague":
            second = pop.second_number[pop.edge_src[mine]]
            use_second = (second >= 0) & (rng.random(mine.size) < 0.5)
            caller = np.where(use_second, second, caller)
        batches.append(_calls(rng, t, caller, res[pop.edge_dst[mine]], kind))

    def pool(rate: float, profile: str) -> tuple[np.ndarray, np.ndarray]:
        owner, _ = expand(_per_resident(rng, config, n, rate))
        return owner, sample_times(rng, owner.size, config.start_ms, config.days, PROFILES[profile])

    who, t = pool(0.035, "any")
    target = np.where(
        rng.random(who.size) < 0.75,
        res[rng.integers(0, n, who.size)],
        pop.businesses[rng.integers(0, pop.businesses.size, who.size)],
    )
    batches.append(_calls(rng, t, res[who], target, "stranger"))
    hotline_p = np.linspace(2.0, 0.5, pop.hotlines.size)
    who, t = pool(0.012, "business")
    batches.append(
        _calls(
            rng,
            t,
            res[who],
            pop.hotlines[rng.choice(pop.hotlines.size, who.size, p=hotline_p / hotline_p.sum())],
            "hotline",
        )
    )
    who, t = pool(0.003, "business")
    batches.append(
        _calls(
            rng, t, pop.hotlines[rng.integers(0, pop.hotlines.size, who.size)], res[who], "hotline_callback"
        )
    )
    who, t = pool(0.004, "business")
    batches.append(
        _calls(
            rng,
            t,
            pop.ecommerce_service[rng.integers(0, pop.ecommerce_service.size, who.size)],
            res[who],
            "ecommerce_service",
        )
    )
    who, t = pool(0.006, "shopping")
    batches.append(
        _calls(
            rng,
            t,
            res[who],
            pop.ecommerce_service[rng.integers(0, pop.ecommerce_service.size, who.size)],
            "ecommerce_service",
        )
    )
    who, t = pool(0.05, "business")
    per_district = max(pop.couriers.size // 12, 1)
    courier = pop.district[who] + 12 * rng.integers(0, per_district, who.size)
    batches.append(
        _calls(rng, t, pop.couriers[np.minimum(courier, pop.couriers.size - 1)], res[who], "courier")
    )
    who, t = pool(0.03, "shopping")
    batches.append(
        _calls(
            rng,
            t,
            pop.delivery_privacy[rng.integers(0, pop.delivery_privacy.size, who.size)],
            res[who],
            "delivery",
        )
    )
    who, t = pool(0.012, "business")
    batches.append(
        _calls(rng, t, pop.businesses[rng.integers(0, pop.businesses.size, who.size)], res[who], "business")
    )
    who, t = pool(0.01, "business")
    batches.append(
        _calls(rng, t, res[who], pop.businesses[rng.integers(0, pop.businesses.size, who.size)], "business")
    )
    who, t = pool(0.02, "business")
    batches.append(
        _calls(
            rng,
            t,
            pop.telemarketers[rng.integers(0, pop.telemarketers.size, who.size)],
            res[who],
            "telemarketing",
        )
    )

    rel_counts = rng.poisson(0.08 * config.days * config.legit_call_scale, (2, pop.relatives_abroad.size))
    for direction in (0, 1):
        rel, _ = expand(rel_counts[direction])
        t = sample_times(rng, rel.size, config.start_ms, config.days, PROFILES["evening"])
        abroad, home = pop.relatives_abroad[rel], res[pop.relative_of[rel]]
        caller, callee = (abroad, home) if direction == 0 else (home, abroad)
        batches.append(_calls(rng, t, caller, callee, "abroad"))
    return concat(batches)


def pay_on_delivery(
    population: Population, calls: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Small payments minutes after a courier's or delivery platform's call (busy, VoIP callers)."""
    pop = population
    delivery = (calls["kind"] == CALL_KINDS.index("courier")) | (
        calls["kind"] == CALL_KINDS.index("delivery")
    )
    picked = np.flatnonzero(delivery & (calls["duration"] > 0) & (rng.random(calls["t"].size) < 0.08))
    home = calls["callee"][picked] - pop.residents[0]
    ok = (home >= 0) & (home < pop.residents.size)
    picked, home = picked[ok], home[ok]
    ok = pop.account[home] >= 0
    picked, home = picked[ok], home[ok]
    t = (
        calls["t"][picked]
        + calls["duration"][picked] * 1000
        + rng.integers(MINUTE_MS, 30 * MINUTE_MS, home.size)
    )
    merchant = pop.merchants[rng.choice(pop.merchants.size, home.size, p=pop.merchant_p)]
    channel = choice_codes(rng, home.size, {"third_party_pay": 0.8, "mobile_app": 0.2}, CHANNELS)
    amount = np.round(rng.lognormal(np.log(80), 0.8, home.size), 2)
    return transfer_batch(
        t,
        pop.account[home],
        pop.residents[home],
        merchant,
        amount,
        channel,
        _device(pop, home, channel),
        "shopping",
    )


def abroad_support(
    config: SimConfig, population: Population, calls: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Money sent to relatives abroad after a long international call (a hard negative)."""
    pop = population
    long_abroad = np.flatnonzero(
        (calls["kind"] == CALL_KINDS.index("abroad"))
        & (calls["duration"] >= 300)
        & (rng.random(calls["t"].size) < 0.2)
    )
    relative = np.searchsorted(pop.relatives_abroad, calls["caller"][long_abroad])
    relative = np.minimum(relative, pop.relatives_abroad.size - 1)
    ok = pop.relatives_abroad[relative] == calls["caller"][long_abroad]
    long_abroad, relative = long_abroad[ok], relative[ok]
    home = pop.relative_of[relative]
    has = pop.account[home] >= 0
    long_abroad, relative, home = long_abroad[has], relative[has], home[has]
    t = (
        calls["t"][long_abroad]
        + calls["duration"][long_abroad] * 1000
        + rng.integers(10 * MINUTE_MS, 12 * HOUR_MS, home.size)
    )
    payee = pop.external[relative % pop.external.size]
    channel = choice_codes(
        rng, home.size, {"mobile_app": 0.5, "online_banking": 0.4, "counter": 0.1}, CHANNELS
    )
    amount = np.round(rng.lognormal(np.log(4000), 0.9, home.size), -2)
    return transfer_batch(
        t,
        pop.account[home],
        pop.residents[home],
        payee,
        amount,
        channel,
        _device(pop, home, channel),
        "family_support",
    )


def _monthly(
    rng: np.random.Generator,
    config: SimConfig,
    payers: np.ndarray,
    first_day: int,
    last_day: int,
    profile: str,
) -> tuple[np.ndarray, np.ndarray]:
    """One event per payer per calendar month, on a local day of month in [first_day, last_day]."""
    start = np.datetime64(config.start_ms - LOCAL_OFFSET_MS, "ms").astype("datetime64[M]")
    end = np.datetime64(config.end_ms, "ms").astype("datetime64[M]")
    months = np.arange(start, end + 1).astype("datetime64[D]").astype(np.int64)
    payer = np.repeat(payers, months.size)
    month = np.tile(months, payers.size)
    day = month + rng.integers(first_day - 1, last_day, payer.size)
    hour = rng.choice(24, size=payer.size, p=PROFILES[profile].hour_probabilities())
    t = day * DAY_MS - LOCAL_OFFSET_MS + hour * HOUR_MS + rng.integers(0, HOUR_MS, payer.size)
    inside = (t >= config.start_ms) & (t < config.end_ms)
    return payer[inside], t[inside]


def _device(population: Population, who: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """The payer's device for a channel: the PC for online banking when they have one, else the phone."""
    pc = population.pc[who]
    online = channel == CHANNELS.index("online_banking")
    return np.where(online & (pc >= 0), pc, population.device[who])


def legit_transfers(
    config: SimConfig, population: Population, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every legitimate transfer of the window, and the calls that lead up to some of them."""
    pop = population
    scale = config.legit_transfer_scale
    payers = pop.with_account()
    batches = []
    lead_calls = []

    def draw(
        rate: float, among: np.ndarray, profile: str, residents: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Events of a daily rate for each of ``among`` (resident positions scale by activity)."""
        per = rate * config.days * scale * (pop.activity[among] if residents else 1.0)
        owner, _ = expand(rng.poisson(per, among.size))
        return among[owner], sample_times(rng, owner.size, config.start_ms, config.days, PROFILES[profile])

    def send(
        t: np.ndarray,
        who: np.ndarray,
        payee: np.ndarray,
        amount: np.ndarray,
        channel_weights: dict[str, float],
        kind: str,
    ) -> None:
        channel = choice_codes(rng, who.size, channel_weights, CHANNELS)
        batches.append(
            transfer_batch(
                t,
                pop.account[who],
                pop.residents[who],
                payee,
                amount,
                channel,
                _device(pop, who, channel),
                kind,
            )
        )

    who, t = draw(0.06, payers, "shopping")
    send(
        t,
        who,
        pop.merchants[rng.choice(pop.merchants.size, who.size, p=pop.merchant_p)],
        rng.lognormal(np.log(60), 1.0, who.size),
        {"third_party_pay": 0.85, "mobile_app": 0.15},
        "shopping",
    )

    # Peer-to-peer: to someone the payer calls (family, friends, colleagues).
    with_edges = np.unique(pop.edge_src)
    with_edges = with_edges[pop.account[with_edges] >= 0]
    who, t = draw(0.015, with_edges, "evening")
    order = np.argsort(pop.edge_src, kind="stable")
    first = np.searchsorted(pop.edge_src[order], who, side="left")
    last = np.searchsorted(pop.edge_src[order], who, side="right")
    partner = pop.edge_dst[order[first + (rng.random(who.size) * (last - first)).astype(np.int64)]]
    ok = pop.account[partner] >= 0
    send(
        t[ok],
        who[ok],
        pop.account[partner[ok]],
        rng.lognormal(np.log(200), 1.0, int(ok.sum())),
        {"mobile_app": 0.6, "third_party_pay": 0.4},
        "p2p",
    )

    who, t = draw(0.004, payers, "any")
    send(
        t,
        who,
        pop.utilities[rng.integers(0, pop.utilities.size, who.size)],
        rng.lognormal(np.log(150), 0.6, who.size),
        {"third_party_pay": 0.5, "mobile_app": 0.35, "online_banking": 0.15},
        "bill",
    )

    renters = np.flatnonzero(pop.landlord_of >= 0)
    who, t = _monthly(rng, config, renters, 1, 5, "evening")
    send(t, who, pop.landlord_of[who], pop.rent[who], {"mobile_app": 0.6, "online_banking": 0.4}, "rent")

    workers = np.flatnonzero((pop.workplace >= 0) & (pop.account >= 0))
    who, t = _monthly(rng, config, workers, 10, 10, "work")
    employer = pop.workplace[who]
    amount = np.round(rng.lognormal(np.log(7000), 0.45, who.size), 0)
    batches.append(
        transfer_batch(
            t,
            pop.business_account[employer],
            pop.businesses[employer],
            pop.account[who],
            amount,
            CHANNELS.index("online_banking"),
            pop.business_pc[employer],
            "salary",
        )
    )

    kin = np.flatnonzero((pop.account[pop.kin_parent] >= 0) & (pop.account[pop.kin_child] >= 0))
    pair, t = _monthly(rng, config, kin, 1, 28, "evening")
    send(
        t,
        pop.kin_child[pair],
        pop.account[pop.kin_parent[pair]],
        np.round(rng.lognormal(np.log(1000), 0.6, pair.size), -1),
        {"mobile_app": 0.7, "third_party_pay": 0.3},
        "family_support",
    )

    # Hard negative: an elderly parent moves a large sum to a child, often right after the child's call,
    # sometimes to the child's other (never-paid-before) account.
    pair, t = draw(0.004, kin, "business", residents=False)
    parent, child = pop.kin_parent[pair], pop.kin_child[pair]
    other = pop.second_account[child]
    payee = np.where((other >= 0) & (rng.random(pair.size) < 0.5), other, pop.account[child])
    amount = np.minimum(np.round(rng.lognormal(np.log(40000), 0.9, pair.size), -2), 800_000)
    send(
        t,
        parent,
        payee,
        amount,
        {"counter": 0.35, "online_banking": 0.3, "mobile_app": 0.35},
        "elderly_large",
    )
    called = rng.random(pair.size) < 0.6
    lead_t = t[called] - rng.integers(10 * MINUTE_MS, 6 * HOUR_MS, int(called.sum()))
    disposition, duration = talk(rng, lead_t.size, 1.0, 900, 0.6)
    lead_calls.append(
        call_batch(
            lead_t, pop.residents[child[called]], pop.residents[parent[called]], "kin", duration, disposition
        )
    )

    who, t = draw(0.01, payers, "any")
    send(
        t,
        who,
        pop.external[rng.integers(0, pop.external.size, who.size)],
        rng.lognormal(np.log(800), 1.4, who.size),
        {"mobile_app": 0.5, "third_party_pay": 0.3, "online_banking": 0.2},
        "new_payee",
    )

    # Hard negative: a house deposit, after a long call with an agency, to a developer never paid before.
    buyers = payers[(pop.age[payers] >= 2) & (pop.age[payers] <= 4)]
    who, t = draw(0.0004, buyers, "business")
    send(
        t,
        who,
        pop.developers[rng.integers(0, pop.developers.size, who.size)],
        np.round(rng.lognormal(np.log(300_000), 0.6, who.size), -3),
        {"counter": 0.4, "online_banking": 0.6},
        "house_purchase",
    )
    called = rng.random(who.size) < 0.7
    lead_t = t[called] - rng.integers(30 * MINUTE_MS, 30 * HOUR_MS, int(called.sum()))
    disposition, duration = talk(rng, lead_t.size, 1.0, 1200, 0.5)
    agency = pop.businesses[rng.integers(0, pop.businesses.size, lead_t.size)]
    lead_calls.append(
        call_batch(lead_t, agency, pop.residents[who[called]], "business", duration, disposition)
    )

    # Hard negative: a real customer-service call, then a payment within minutes.
    who, t = draw(0.002, payers, "business")
    disposition, duration = talk(rng, who.size, 1.0, 360, 0.6)
    service = pop.ecommerce_service[rng.integers(0, pop.ecommerce_service.size, who.size)]
    lead_calls.append(call_batch(t, service, pop.residents[who], "ecommerce_service", duration, disposition))
    pay_t = t + duration * 1000 + rng.integers(MINUTE_MS, 20 * MINUTE_MS, who.size)
    send(
        pay_t,
        who,
        pop.merchants[rng.choice(pop.merchants.size, who.size, p=pop.merchant_p)],
        rng.lognormal(np.log(400), 0.9, who.size),
        {"third_party_pay": 0.7, "mobile_app": 0.3},
        "service_purchase",
    )

    savers = payers[pop.second_account[payers] >= 0]
    who, t = draw(0.004, savers, "business")
    send(
        t,
        who,
        pop.second_account[who],
        np.round(rng.lognormal(np.log(3000), 0.8, who.size), -2),
        {"atm": 0.3, "mobile_app": 0.5, "online_banking": 0.2},
        "own_account",
    )

    # Payees pay out too: merchants sweep takings to their own account (big ones daily), and
    # people outside the city send money on, so "the payee also sends" does not single out mules.
    merchant = np.arange(pop.merchants.size)
    rate = np.where(merchant < max(pop.merchants.size // 10, 1), 1.0, 0.15)
    owner, _ = expand(rng.poisson(rate * config.days * scale))
    t = sample_times(rng, owner.size, config.start_ms, config.days, PROFILES["business"])
    big = owner < max(pop.merchants.size // 10, 1)
    amount = np.round(rng.lognormal(np.where(big, np.log(6000), np.log(900)), 0.8), 2)
    batches.append(
        transfer_batch(
            t,
            pop.merchants[owner],
            pop.merchant_phone[owner],
            pop.settlement[owner],
            amount,
            CHANNELS.index("online_banking"),
            -1,
            "settlement",
        )
    )
    owner, t = draw(0.02, np.arange(pop.external.size), "any", residents=False)
    to_resident = rng.random(owner.size) < 0.2
    resident = payers[rng.integers(0, payers.size, owner.size)]
    payee = np.where(
        to_resident, pop.account[resident], pop.external[rng.integers(0, pop.external.size, owner.size)]
    )
    keep = payee != pop.external[owner]
    batches.append(
        transfer_batch(
            t[keep],
            pop.external[owner[keep]],
            pop.external_phone[owner[keep]],
            payee[keep],
            np.round(rng.lognormal(np.log(800), 1.2, int(keep.sum())), 2),
            choice_codes(
                rng,
                int(keep.sum()),
                {"mobile_app": 0.6, "third_party_pay": 0.3, "online_banking": 0.1},
                CHANNELS,
            ),
            -1,
            "payout",
        )
    )
    return concat(batches), concat(lead_calls)


def legit_events(
    config: SimConfig, population: Population, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """All legitimate calls and transfers (unsorted; some may fall outside the window)."""
    calls = legit_calls(config, population, rng)
    transfers, lead = legit_transfers(config, population, rng)
    transfers = concat(
        [transfers, abroad_support(config, population, calls, rng), pay_on_delivery(population, calls, rng)]
    )
    return concat([calls, lead]), transfers


__all__ = ["legit_calls", "legit_events", "legit_transfers"]
