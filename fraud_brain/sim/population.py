"""The legitimate population: residents, their phones and accounts, and who they know.

Residents live in households and districts, work at workplaces, have friends, and (the
elderly) grown-up children; the city also has couriers, businesses, delivery privacy numbers
(virtual-operator ranges), telemarketers, service hotlines and relatives abroad. Every
relationship is a directed edge with a daily calling rate.

>>> import numpy as np
>>> from fraud_brain.sim.config import SimConfig
>>> from fraud_brain.sim.registry import Registry
>>> config = SimConfig(n_subscribers=300, days=2)
>>> population = build_population(config, Registry(np.random.default_rng(1)), np.random.default_rng(2))
>>> population.residents.size
300
>>> bool((population.edge_kind >= 0).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraud_brain.sim.config import SimConfig
from fraud_brain.sim.events import CALL_KINDS, expand
from fraud_brain.sim.registry import BANKS, DISTRICTS, Registry

AGE_SHARES = np.array([0.05, 0.11, 0.18, 0.17, 0.17, 0.14, 0.11, 0.07])
"""Share of residents per age band (<18 … 75+)."""

EDGE_RATES = {"family": 0.10, "kin": 0.16, "colleague": 0.05, "friend": 0.035}
"""Calls per day along one directed edge of each relationship."""


@dataclass
class Population:
    """The legitimate side of the world; arrays are indexed by resident position unless named."""

    residents: np.ndarray
    """Number index of each resident's phone."""
    age: np.ndarray
    district: np.ndarray
    account: np.ndarray
    """Account index of each resident's main account (-1: none)."""
    second_account: np.ndarray
    device: np.ndarray
    pc: np.ndarray
    """Device index of the resident's computer (-1: none), used for online banking."""
    workplace: np.ndarray
    """Workplace index (-1: not working)."""
    second_number: np.ndarray
    """Number index of a second SIM in the same phone (-1: none)."""
    couriers: np.ndarray
    courier_district: np.ndarray
    businesses: np.ndarray
    """Number index of each workplace / business fixed line."""
    business_account: np.ndarray
    business_pc: np.ndarray
    delivery_privacy: np.ndarray
    telemarketers: np.ndarray
    hotlines: np.ndarray
    ecommerce_service: np.ndarray
    relatives_abroad: np.ndarray
    relative_of: np.ndarray
    """Resident position each relative abroad belongs to."""
    edge_src: np.ndarray
    """Calling resident position of each relationship edge."""
    edge_dst: np.ndarray
    edge_kind: np.ndarray
    kin_parent: np.ndarray
    """Elderly resident position of each parent→child link."""
    kin_child: np.ndarray
    merchants: np.ndarray
    merchant_p: np.ndarray
    utilities: np.ndarray
    developers: np.ndarray
    landlord_of: np.ndarray
    """Landlord account index per resident (-1: owns their home)."""
    rent: np.ndarray
    external: np.ndarray
    """Accounts of people outside the city (occasional new payees)."""
    external_phone: np.ndarray
    """Phone number (unlisted: another operator) of each outside person."""
    activity: np.ndarray
    """Per-resident multiplier of everyday payment rates (heavy and light payers)."""
    settlement: np.ndarray
    """Each merchant's own settlement account, where takings are swept."""
    merchant_phone: np.ndarray
    """The number each merchant account is registered to."""

    def with_account(self) -> np.ndarray:
        """Positions of residents who have a bank account."""
        return np.flatnonzero(self.account >= 0)


def _group_pick(
    rng: np.random.Generator, members: np.ndarray, group: np.ndarray, per_member: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each member, ``per_member`` random partners from the same group (may repeat; no self)."""
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = np.searchsorted(sorted_group, group, side="left")
    ends = np.searchsorted(sorted_group, group, side="right")
    owner, _ = expand(per_member)
    size = (ends - starts)[owner]
    pick = starts[owner] + (rng.random(owner.size) * size).astype(np.int64)
    partner = members[order[pick]]
    source = members[owner]
    keep = partner != source
    return source[keep], partner[keep]


def build_population(config: SimConfig, registry: Registry, rng: np.random.Generator) -> Population:
    """Create residents, the city's other legitimate numbers, accounts and relationships."""
    n = config.n_subscribers
    start_day = config.start_epoch_day
    age = rng.choice(AGE_SHARES.size, size=n, p=AGE_SHARES)
    district = rng.choice(
        len(DISTRICTS),
        size=n,
        p=np.linspace(1.6, 0.6, len(DISTRICTS)) / np.linspace(1.6, 0.6, len(DISTRICTS)).sum(),
    )
    # Most SIMs are years old; a few residents got a new one recently (legitimate new SIMs).
    activation = start_day - np.where(rng.random(n) < 0.04, rng.integers(1, 45, n), rng.integers(60, 4000, n))
    device = registry.add_devices(n, "phone")
    home_cell = registry.cells_for(district)
    work_district = np.where(rng.random(n) < 0.6, district, rng.integers(0, len(DISTRICTS), n))
    work_cell = registry.cells_for(work_district)

    has_account = rng.random(n) < np.where(age == 0, 0.25, 0.95)
    account = np.full(n, -1, dtype=np.int64)
    account[has_account] = registry.add_accounts(int(has_account.sum()))
    has_second = has_account & (age >= 1) & (rng.random(n) < 0.15)
    second_account = np.full(n, -1, dtype=np.int64)
    second_account[has_second] = registry.add_accounts(int(has_second.sum()))
    has_pc = has_account & (rng.random(n) < 0.35)
    pc = np.full(n, -1, dtype=np.int64)
    pc[has_pc] = registry.add_devices(int(has_pc.sum()), "pc")

    residents = registry.add_numbers(
        n,
        "mobile",
        "resident",
        device=device,
        cell_home=home_cell,
        cell_work=work_cell,
        district=district,
        activation_day=activation,
        age=age,
        account=account,
    )
    dual = rng.random(n) < 0.03
    second_number = np.full(n, -1, dtype=np.int64)
    second_number[dual] = registry.add_numbers(
        int(dual.sum()),
        "mobile",
        "resident",
        device=device[dual],
        cell_home=home_cell[dual],
        cell_work=work_cell[dual],
        district=district[dual],
        activation_day=start_day - rng.integers(30, 2000, int(dual.sum())),
        age=age[dual],
    )

    # Workplaces: businesses with a fixed line, an account (salaries) and an office PC.
    n_business = max(n // 20, 5)
    business_district = rng.integers(0, len(DISTRICTS), n_business)
    business_account = registry.add_accounts(n_business)
    business_pc = registry.add_devices(n_business, "pc")
    businesses = registry.add_numbers(
        n_business, "fixed", "business", district=business_district, account=business_account
    )
    working = (age >= 1) & (age <= 5) & (rng.random(n) < np.where(age == 5, 0.45, 0.8))
    size_weight = rng.lognormal(0, 1.0, n_business)
    workplace = np.full(n, -1, dtype=np.int64)
    workplace[working] = rng.choice(n_business, size=int(working.sum()), p=size_weight / size_weight.sum())

    # A courier phones dozens of customers a day: as many distinct callees as a scam number.
    n_courier = max(n // 400, len(DISTRICTS))
    courier_district = np.arange(n_courier) % len(DISTRICTS)
    couriers = registry.add_numbers(
        n_courier,
        "mobile",
        "courier",
        device=registry.add_devices(n_courier, "phone"),
        cell_home=registry.cells_for(courier_district),
        cell_work=registry.cells_for(courier_district),
        district=courier_district,
        activation_day=start_day - rng.integers(30, 2500, n_courier),
        age=rng.integers(1, 5, n_courier),
    )
    delivery_privacy = registry.add_numbers(max(n // 400, 4), "voip", "delivery_privacy", listed=False)
    n_tele = max(n // 1000, 2)
    telemarketers = registry.add_numbers(
        n_tele, "fixed", "telemarketer", district=rng.integers(0, len(DISTRICTS), n_tele)
    )
    hotlines = registry.add_hotlines()
    ecommerce_service = registry.add_numbers(max(n // 5000, 2), "fixed", "ecommerce_service")

    abroad_owner = rng.choice(n, size=max(n // 150, 2), replace=False)
    relatives_abroad = registry.add_numbers(
        abroad_owner.size, "international", "relative_abroad", listed=False
    )

    # Relationships.
    household = np.cumsum(rng.random(n) < 0.4)  # a new household starts with p 0.4 → mean size 2.5
    household_order = rng.permutation(n)
    household_of = np.empty(n, dtype=np.int64)
    household_of[household_order] = household
    positions = np.arange(n)
    src_f, dst_f = _group_pick(rng, positions, household_of, np.full(n, 3))
    elderly = np.flatnonzero(age >= 6)
    adults = np.flatnonzero((age >= 2) & (age <= 4))
    n_children = rng.integers(1, 3, elderly.size)
    kin_parent, _ = expand(n_children)
    kin_parent = elderly[kin_parent]
    kin_child = adults[rng.integers(0, adults.size, kin_parent.size)] if adults.size else kin_parent.copy()
    workers = np.flatnonzero(workplace >= 0)
    src_c, dst_c = _group_pick(rng, workers, workplace[workers], rng.integers(2, 9, workers.size))
    local = rng.random(n) < 0.6
    src_l, dst_l = _group_pick(rng, positions[local], district[local], rng.integers(1, 6, int(local.sum())))
    far = rng.integers(1, 4, n)
    src_r, _ = expand(far)
    dst_r = rng.integers(0, n, src_r.size)
    keep_r = src_r != dst_r
    edge_src = np.concatenate(
        [src_f, kin_parent, kin_child, src_c, src_l, dst_l, src_r[keep_r], dst_r[keep_r]]
    )
    edge_dst = np.concatenate(
        [dst_f, kin_child, kin_parent, dst_c, dst_l, src_l, dst_r[keep_r], src_r[keep_r]]
    )
    kinds = np.concatenate(
        [
            np.full(src_f.size, CALL_KINDS.index("family")),
            np.full(2 * kin_parent.size, CALL_KINDS.index("kin")),
            np.full(src_c.size, CALL_KINDS.index("colleague")),
            np.full(2 * src_l.size + 2 * int(keep_r.sum()), CALL_KINDS.index("friend")),
        ]
    )

    # Payees of legitimate transfers.
    n_merchant = max(n // 15, 20)
    third_party = np.array([BANKS.index("ALIPAY"), BANKS.index("WECHATPAY")])
    merchant_banks = np.where(
        rng.random(n_merchant) < 0.5,
        third_party[rng.integers(0, 2, n_merchant)],
        registry.draw_banks(n_merchant),
    )
    merchants = registry.add_accounts(n_merchant, merchant_banks)
    popularity = 1.0 / np.arange(1, n_merchant + 1) ** 1.05
    utilities = registry.add_accounts(5)
    developers = registry.add_accounts(8)
    renter = has_account & (age >= 1) & (age <= 4) & (rng.random(n) < 0.3)
    n_landlord = max(int(renter.sum()) // 3, 1)
    landlord_accounts = registry.add_accounts(n_landlord)
    landlord_of = np.full(n, -1, dtype=np.int64)
    landlord_of[renter] = landlord_accounts[rng.integers(0, n_landlord, int(renter.sum()))]
    rent = np.round(rng.lognormal(np.log(2600), 0.35, n), -1)
    settlement = registry.add_accounts(n_merchant)
    # Every merchant account is registered to its owner's (listed) mobile number.
    merchant_phone = registry.add_numbers(
        n_merchant,
        "mobile",
        "business",
        device=registry.add_devices(n_merchant, "phone"),
        district=rng.integers(0, len(DISTRICTS), n_merchant),
        activation_day=start_day - rng.integers(60, 4000, n_merchant),
        age=rng.integers(2, 6, n_merchant),
        account=merchants,
    )
    external = registry.add_accounts(max(n // 2, 10))
    external_phone = registry.add_numbers(external.size, "mobile", "external_person", listed=False)
    # How much each resident pays by phone: heavy young payers, light elderly ones.
    activity = rng.lognormal(-0.3, 0.8, n) * np.where(
        (age >= 1) & (age <= 2), 1.5, np.where(age >= 6, 0.6, 1.0)
    )

    return Population(
        residents=residents,
        age=age,
        district=district,
        account=account,
        second_account=second_account,
        device=device,
        pc=pc,
        workplace=workplace,
        second_number=second_number,
        couriers=couriers,
        courier_district=courier_district,
        businesses=businesses,
        business_account=business_account,
        business_pc=business_pc,
        delivery_privacy=delivery_privacy,
        telemarketers=telemarketers,
        hotlines=hotlines,
        ecommerce_service=ecommerce_service,
        relatives_abroad=relatives_abroad,
        relative_of=abroad_owner,
        edge_src=edge_src,
        edge_dst=edge_dst,
        edge_kind=kinds.astype(np.int8),
        kin_parent=kin_parent,
        kin_child=kin_child,
        merchants=merchants,
        merchant_p=popularity / popularity.sum(),
        settlement=settlement,
        merchant_phone=merchant_phone,
        utilities=utilities,
        developers=developers,
        landlord_of=landlord_of,
        rent=rent,
        external=external,
        external_phone=external_phone,
        activity=activity,
    )
