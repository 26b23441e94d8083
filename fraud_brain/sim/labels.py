"""Labels: late, partial confirmations of what really happened.

Victims report some episodes (hours to weeks later; a few are caught fast by agents), the
operator confirms some scam numbers, banks confirm some mule accounts, and agents clear some
suspicious-looking legitimate transfers and numbers (``is_fraud`` false). Every label is known
strictly after the event it is about.

>>> import numpy as np
>>> delays = label_delay_ms(np.random.default_rng(0), 1000, 48.0)
>>> bool((delays >= 3_600_000).all()) and bool(np.median(delays) > 24 * 3_600_000)
True
"""

from __future__ import annotations

import numpy as np

from fraud_brain.schema.records import LABEL_ENTITIES, LABEL_SOURCES, TYPOLOGIES
from fraud_brain.sim.config import DAY_MS, SimConfig
from fraud_brain.sim.events import CALL_KINDS, TRANSFER_KINDS
from fraud_brain.sim.registry import NUMBER_CATEGORIES

HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def label_delay_ms(rng: np.random.Generator, n: int, median_hours: float, sigma: float = 1.1) -> np.ndarray:
    """Lognormal reporting delays (at least an hour) with the given median."""
    hours = median_hours * np.exp(sigma * rng.standard_normal(n))
    return (np.maximum(hours, 1.0) * HOUR_MS).astype(np.int64)


def _first_seen(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and the position where each first appears (events sorted by time)."""
    return np.unique(keys, return_index=True)


def _batch(
    entity: str,
    target: np.ndarray,
    is_fraud: bool | np.ndarray,
    typology: np.ndarray | int,
    known_at: np.ndarray,
    source: np.ndarray | str,
) -> dict[str, np.ndarray]:
    n = target.size
    source_codes = np.full(n, LABEL_SOURCES.index(source)) if isinstance(source, str) else source
    return {
        "entity": np.full(n, LABEL_ENTITIES.index(entity), dtype=np.int8),
        "target": target.astype(np.int64),
        "is_fraud": np.broadcast_to(np.asarray(is_fraud), n).copy(),
        "typology": np.broadcast_to(np.asarray(typology, dtype=np.int64), n).copy(),
        "known_at": known_at.astype(np.int64),
        "source": source_codes.astype(np.int8),
    }


def make_labels(
    config: SimConfig,
    calls: dict[str, np.ndarray],
    transfers: dict[str, np.ndarray],
    number_category: np.ndarray,
    ring_typology: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Labels for a world's (sorted, in-window) calls and transfers.

    ``target`` is the transfer's row for transfer labels, the number index for number labels
    and the account index for account labels.
    """
    out = []
    kind = transfers["kind"]
    victim_rows = np.flatnonzero(kind == TRANSFER_KINDS.index("victim"))
    episode = transfers["episode"][victim_rows]
    episodes = np.unique(episode)
    last = np.zeros(episodes.size, dtype=np.int64)
    np.maximum.at(last, np.searchsorted(episodes, episode), transfers["t"][victim_rows])
    reported = rng.random(episodes.size) < config.victim_report_rate
    fast = rng.random(episodes.size) < 0.15
    delay = np.where(
        fast,
        (rng.uniform(10, 360, episodes.size) * MINUTE_MS).astype(np.int64),
        label_delay_ms(rng, episodes.size, config.label_delay_median_hours),
    )
    source = np.where(
        fast,
        LABEL_SOURCES.index("agent"),
        np.where(
            rng.random(episodes.size) < 0.75,
            LABEL_SOURCES.index("victim_report"),
            LABEL_SOURCES.index("police"),
        ),
    )
    known_typology = rng.random(episodes.size) < 0.85
    pos = np.searchsorted(episodes, episode)
    keep = reported[pos]
    rows = victim_rows[keep]
    # Fast (agent) labels come per transfer; reports cover the whole episode after its last payment.
    known = np.where(
        fast[pos[keep]], transfers["t"][rows] + delay[pos[keep]], last[pos[keep]] + delay[pos[keep]]
    )
    typology = np.where(known_typology[pos[keep]], transfers["typology"][rows], -1)
    out.append(_batch("transfer", rows, True, typology, known, source[pos[keep]]))

    # The operator confirms scam numbers (from their first call), banks confirm mule accounts.
    # A Wangiri call-back is made by the victim, so its caller is not a scam number.
    scam_calls = np.flatnonzero(calls["scam"] & (calls["kind"] != CALL_KINDS.index("wangiri_callback")))
    numbers, at = _first_seen(calls["caller"][scam_calls])
    first, ring_of = calls["t"][scam_calls][at], calls["ring"][scam_calls][at]
    category = number_category[numbers]
    typology = np.where(
        category == NUMBER_CATEGORIES.index("simbox_sim"),
        TYPOLOGIES.index("simbox"),
        np.where(
            category == NUMBER_CATEGORIES.index("wangiri"),
            TYPOLOGIES.index("wangiri"),
            ring_typology[np.minimum(ring_of, ring_typology.size - 1)],
        ),
    )
    confirmed = rng.random(numbers.size) < config.number_label_rate
    known = first + label_delay_ms(rng, numbers.size, 5 * 24, 0.8) + 2 * HOUR_MS
    out.append(_batch("number", numbers[confirmed], True, typology[confirmed], known[confirmed], "telecom"))

    into_mule = np.flatnonzero(
        (kind == TRANSFER_KINDS.index("victim")) | (kind == TRANSFER_KINDS.index("mule_onward"))
    )
    accounts, at = _first_seen(transfers["payee"][into_mule])
    first, typology = transfers["t"][into_mule][at], transfers["typology"][into_mule][at]
    confirmed = rng.random(accounts.size) < config.mule_label_rate
    known = first + label_delay_ms(rng, accounts.size, 7 * 24, 0.7)
    out.append(_batch("account", accounts[confirmed], True, typology[confirmed], known[confirmed], "bank"))

    # Cleared: suspicious-looking legitimate transfers and busy legitimate numbers.
    suspicious = np.isin(
        kind, [TRANSFER_KINDS.index(k) for k in ("elderly_large", "house_purchase", "service_purchase")]
    )
    suspicious |= (kind == TRANSFER_KINDS.index("new_payee")) & (transfers["amount"] > 3000)
    rows = np.flatnonzero(suspicious & (rng.random(kind.size) < config.cleared_label_rate * 5))
    known = transfers["t"][rows] + (rng.uniform(10, 720, rows.size) * MINUTE_MS).astype(np.int64)
    out.append(_batch("transfer", rows, False, -1, known, "agent"))
    busy = np.isin(
        number_category[calls["caller"]],
        [NUMBER_CATEGORIES.index(c) for c in ("courier", "telemarketer", "delivery_privacy")],
    )
    numbers, at = _first_seen(calls["caller"][busy])
    first = calls["t"][busy][at]
    cleared = rng.random(numbers.size) < 0.15
    known = first + (rng.uniform(1, 10, numbers.size) * DAY_MS).astype(np.int64)
    out.append(_batch("number", numbers[cleared], False, -1, known[cleared], "telecom"))

    labels = {key: np.concatenate([b[key] for b in out]) for key in out[0]}
    horizon = config.end_ms + config.label_horizon_days * DAY_MS
    keep = labels["known_at"] < horizon
    return {key: value[keep] for key, value in labels.items()}
