"""Scam rings: their rotating numbers, SIM-boxes, phones and mule accounts.

A ring runs one typology. Its numbers rotate every few days (brand-new SIMs, aged SIMs bought
in bulk, virtual-operator VoIP numbers, overseas numbers); some rings relay calls through a
SIM-box (dozens of local SIMs in one device). Victims pay first-level mules, which forward
the money quickly to second-level mules and then out. Tactics drift: after the drift day the
rings favour aged local SIMs and SIM-boxes, and open mules at digital-only banks.

>>> import numpy as np
>>> from fraud_brain.sim.config import SimConfig
>>> from fraud_brain.sim.registry import Registry
>>> config = SimConfig(n_subscribers=500, days=4)
>>> rings = build_rings(config, Registry(np.random.default_rng(0)), np.random.default_rng(1),
...                     np.array([1, 1, 1, 1, 1]), mule_recruits=np.empty(0, dtype=np.int64))
>>> rings.n
5
>>> callers = rings.caller(np.random.default_rng(2), np.zeros(3, dtype=np.int64), np.full(3, config.start_ms))
>>> bool((callers >= 0).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fraud_brain.schema.records import TYPOLOGIES
from fraud_brain.sim.config import DAY_MS, SCAM_TYPOLOGIES, SimConfig
from fraud_brain.sim.registry import BANKS, DISTRICTS, Registry

SIM_KINDS = ("new_mobile", "aged_mobile", "voip", "international")
BEFORE_DRIFT = np.array([0.30, 0.12, 0.33, 0.25])
AFTER_DRIFT = np.array([0.22, 0.58, 0.12, 0.08])
"""Mix of number kinds a ring uses before and after tactics drift."""
TRADITIONAL_MULE_BANKS = ("ICBC", "CCB", "ABC", "BOC", "CMB", "PSBC", "CIB", "FJRCU", "CITIC")
DIGITAL_MULE_BANKS = ("WEBANK", "MYBANK", "XWBANK")
MULE_SLOT_DAYS = 4
"""First-level mule accounts are replaced every few days."""
POINTS_SLOT_DAYS = MULE_SLOT_DAYS
"""Running-points accounts are replaced as often as first-level mules."""


@dataclass
class Rings:
    """Every ring's numbers and accounts, as arrays indexed by ring (and slot)."""

    typology: np.ndarray
    """Typology code (index into TYPOLOGIES) of each ring."""
    rotation_days: np.ndarray
    slot_numbers: np.ndarray
    """Number index per (ring, rotation slot, k); slots count from the window's first day."""
    slot_width: np.ndarray
    """How many numbers each ring uses per slot."""
    box_sims: np.ndarray
    """All SIM-box SIM number indices, grouped by ring (see box_start / box_len)."""
    box_start: np.ndarray
    box_len: np.ndarray
    mule1: np.ndarray
    """First-level mule account per (ring, mule slot, k)."""
    mule2: np.ndarray
    """Second-level mule accounts per (ring, k)."""
    cash_out: np.ndarray
    """Final accounts per (ring, k)."""
    operator_device: np.ndarray
    """The PC each ring moves mule money from."""
    account_phone: dict[int, int]
    """Phone number index of each mule account that has one."""
    start_ms: int
    drift_day: int
    points: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.int64))
    """Running-points accounts per (slot of POINTS_SLOT_DAYS days, k): residents' accounts a
    laundering platform rents and every ring shares, for app-run episodes (empty unless
    ``SimConfig.drift_strength`` > 0)."""

    @property
    def n(self) -> int:
        """How many rings there are."""
        return int(self.typology.size)

    def caller(self, rng: np.random.Generator, ring: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The number each ring calls from at each time: a SIM-box SIM or a number of the current slot."""
        day = np.maximum((t - self.start_ms) // DAY_MS, 0)
        slot = np.minimum(day // self.rotation_days[ring], self.slot_numbers.shape[1] - 1)
        k = (rng.random(ring.size) * self.slot_width[ring]).astype(np.int64)
        direct = self.slot_numbers[ring, slot, k]
        box_share = np.where(day >= self.drift_day, 0.8, 0.6)
        has_box = self.box_len[ring] > 0
        use_box = has_box & (rng.random(ring.size) < box_share)
        box = (
            self.box_sims[
                np.minimum(
                    self.box_start[ring] + (rng.random(ring.size) * self.box_len[ring]).astype(np.int64),
                    max(self.box_sims.size - 1, 0),
                )
            ]
            if self.box_sims.size
            else direct
        )
        return np.where(use_box, box, direct)

    def points_account(self, rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
        """The running-points account an app-run victim is told to pay at each time."""
        day = np.maximum((t - self.start_ms) // DAY_MS, 0)
        slot = np.minimum(day // POINTS_SLOT_DAYS, self.points.shape[0] - 1)
        return self.points[slot, rng.integers(0, self.points.shape[1], t.size)]

    def first_mule(self, rng: np.random.Generator, ring: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The first-level mule account a victim is told to pay at each time."""
        day = np.maximum((t - self.start_ms) // DAY_MS, 0)
        slot = np.minimum(day // MULE_SLOT_DAYS, self.mule1.shape[1] - 1)
        k = rng.integers(0, self.mule1.shape[2], ring.size)
        return self.mule1[ring, slot, k]


def _identity_accounts(registry: Registry, rng: np.random.Generator, n: int) -> np.ndarray:
    """Accounts of the (bought or stolen) identities scam SIMs are registered to: most have one."""
    accounts = np.full(n, -1, dtype=np.int64)
    has = rng.random(n) < 0.85
    accounts[has] = registry.add_accounts(int(has.sum()))
    return accounts


def build_rings(
    config: SimConfig,
    registry: Registry,
    rng: np.random.Generator,
    rings_per_typology: np.ndarray,
    mule_recruits: np.ndarray,
    recruit_phone: np.ndarray | None = None,
) -> Rings:
    """Create the rings: ``rings_per_typology[i]`` rings for each of the five scam typologies.

    ``mule_recruits`` are accounts of local residents who rent out their account (first-level
    mules with an otherwise ordinary history); ``recruit_phone`` their phone numbers.
    """
    typology = np.repeat([TYPOLOGIES.index(t) for t in SCAM_TYPOLOGIES], rings_per_typology)
    n_rings = typology.size
    days = config.days
    drift_day = config.drift_start_day
    rotation = rng.integers(1, 4, n_rings)
    width = rng.integers(2, 6, n_rings)
    n_slots = days // 1 + 1
    k_max = 5

    # One row per (ring, slot, k) number; kinds drawn from the ring's mix for the slot's day.
    ring_of = np.repeat(np.arange(n_rings), n_slots * k_max)
    slot_of = np.tile(np.repeat(np.arange(n_slots), k_max), n_rings)
    slot_day = slot_of * rotation[ring_of]
    mix_noise = rng.dirichlet(np.full(4, 4.0), n_rings)
    before = 0.75 * BEFORE_DRIFT + 0.25 * mix_noise
    after = 0.75 * AFTER_DRIFT + 0.25 * mix_noise
    probs = np.where((slot_day >= drift_day)[:, None], after[ring_of], before[ring_of])
    kind = (rng.random(ring_of.size)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    kind = np.minimum(kind, 3)
    # Only slots inside the window and the ring's own width get numbers (unused SIMs would leak).
    k_of = np.tile(np.arange(k_max), n_rings * n_slots)
    kind[(slot_day > days) | (k_of >= width[ring_of])] = -1
    numbers = np.full(ring_of.size, -1, dtype=np.int64)
    ring_phones = registry.add_devices(3 * n_rings, "phone")
    first_day = config.start_epoch_day
    for code, name in enumerate(SIM_KINDS):
        mine = np.flatnonzero(kind == code)
        if mine.size == 0:
            continue
        if name in ("new_mobile", "aged_mobile"):
            age_days = (
                rng.integers(0, 7, mine.size) if name == "new_mobile" else rng.integers(120, 1500, mine.size)
            )
            district = rng.integers(0, len(DISTRICTS), mine.size)
            numbers[mine] = registry.add_numbers(
                mine.size,
                "mobile",
                "scam_sim",
                device=ring_phones[3 * ring_of[mine] + rng.integers(0, 3, mine.size)],
                cell_home=registry.cells_for(district),
                cell_work=registry.cells_for(district),
                district=district,
                activation_day=first_day + slot_day[mine] - age_days,
                age=rng.integers(1, 6, mine.size),
                account=_identity_accounts(registry, rng, mine.size),
            )
            # After the drift, most SIMs get a phone of their own, so "many SIMs on one phone" fades.
            own_phone = (slot_day[mine] >= drift_day) & (rng.random(mine.size) < 0.7)
            registry.set_number_attribute(
                "device", numbers[mine][own_phone], registry.add_devices(int(own_phone.sum()), "phone")
            )
        elif name == "voip":
            numbers[mine] = registry.add_numbers(mine.size, "voip", "scam_voip", listed=False)
        else:
            numbers[mine] = registry.add_numbers(
                mine.size, "international", "scam_international", listed=False
            )
    slot_numbers = numbers.reshape(n_rings, n_slots, k_max)

    # SIM-boxes: one per SIM-box ring, dozens of SIMs activated in a few batches, in one cell.
    uses_box = rng.random(n_rings) < config.simbox_share
    if n_rings >= 3 and not uses_box.any():
        uses_box[rng.integers(0, n_rings)] = True
    box_len = np.where(uses_box, rng.integers(32, 120, n_rings), 0)
    box_start = np.cumsum(box_len) - box_len
    total = int(box_len.sum())
    box_sims = np.empty(0, dtype=np.int64)
    if total:
        owner = np.repeat(np.arange(n_rings), box_len)
        box_device = registry.add_devices(n_rings, "simbox")
        box_district = rng.integers(0, len(DISTRICTS), n_rings)
        box_cell = registry.cells_for(box_district)
        batch_day = first_day - rng.integers(0, 40, n_rings * 3).reshape(n_rings, 3)
        activation = batch_day[owner, rng.integers(0, 3, total)]
        box_sims = registry.add_numbers(
            total,
            "mobile",
            "simbox_sim",
            device=box_device[owner],
            cell_home=box_cell[owner],
            cell_work=box_cell[owner],
            district=box_district[owner],
            activation_day=activation,
            age=rng.integers(1, 6, total),
            account=_identity_accounts(registry, rng, total),
        )

    # Mules: first level rotates every few days; digital-only banks after the drift.
    n_mule_slots = days // MULE_SLOT_DAYS + 1
    per_slot = 3
    n_mule1 = n_rings * n_mule_slots * per_slot
    slot_day = np.repeat(np.arange(n_mule_slots) * MULE_SLOT_DAYS, per_slot)
    slot_day = np.tile(slot_day, n_rings)
    digital = (slot_day >= drift_day) & (rng.random(n_mule1) < 0.7)
    trad = np.array([BANKS.index(b) for b in TRADITIONAL_MULE_BANKS])
    digi = np.array([BANKS.index(b) for b in DIGITAL_MULE_BANKS])
    banks = np.where(
        digital, digi[rng.integers(0, digi.size, n_mule1)], trad[rng.integers(0, trad.size, n_mule1)]
    )
    mule1 = registry.add_accounts(n_mule1, banks)
    account_phone: dict[int, int] = {}
    mule_phones = registry.add_numbers(n_mule1, "mobile", "mule_phone", listed=False)
    recruited = (rng.random(n_mule1) < 0.4) & ~digital
    take = min(int(recruited.sum()), mule_recruits.size)
    spots = np.flatnonzero(recruited)[:take]
    mule1[spots] = mule_recruits[:take]
    phones = mule_phones.copy()
    if recruit_phone is not None:
        phones[spots] = recruit_phone[:take]
    account_phone.update(zip(mule1.tolist(), phones.tolist(), strict=True))
    mule2 = registry.add_accounts(n_rings * 2, trad[rng.integers(0, trad.size, n_rings * 2)]).reshape(
        n_rings, 2
    )
    mule2_phones = registry.add_numbers(mule2.size, "mobile", "mule_phone", listed=False)
    account_phone.update(zip(mule2.ravel().tolist(), mule2_phones.tolist(), strict=True))
    cash_out = registry.add_accounts(n_rings * 2).reshape(n_rings, 2)
    operator_device = registry.add_devices(n_rings, "pc")

    return Rings(
        typology=typology,
        rotation_days=rotation,
        slot_numbers=slot_numbers,
        slot_width=width,
        box_sims=box_sims,
        box_start=box_start,
        box_len=box_len,
        mule1=mule1.reshape(n_rings, n_mule_slots, per_slot),
        mule2=mule2,
        cash_out=cash_out,
        operator_device=operator_device,
        account_phone=account_phone,
        start_ms=config.start_ms,
        drift_day=drift_day,
    )
