"""Event batches as plain numpy arrays, before they become record frames.

A batch is a dict of equal-length arrays. Calls carry integer number indices (see
:mod:`fraud_brain.sim.registry`), transfers integer account indices; ``kind`` says what made
the event (a family call, a cold call from a ring, a salary, a mule's onward transfer…) and is
kept as ground truth.

>>> import numpy as np
>>> a = call_batch(np.array([5]), np.array([0]), np.array([1]), "family", np.array([60]), np.array([0]))
>>> b = call_batch(np.array([1]), np.array([1]), np.array([0]), "cold_call", np.array([0]), np.array([1]),
...                typology=0)
>>> both = concat([a, b])
>>> both["t"].tolist(), both["scam"].tolist()
([5, 1], [False, True])
"""

from __future__ import annotations

import numpy as np

from fraud_brain.schema.records import CHANNELS, DISPOSITIONS

CALL_KINDS = (
    "family",
    "kin",
    "colleague",
    "friend",
    "stranger",
    "hotline",
    "hotline_callback",
    "ecommerce_service",
    "courier",
    "delivery",
    "business",
    "telemarketing",
    "abroad",
    "cold_call",
    "episode",
    "wangiri",
    "wangiri_callback",
    "victim_hotline",
    "attempt",
)
"""What made a call; the first thirteen are legitimate."""
SCAM_CALL_KINDS = ("cold_call", "episode", "wangiri", "wangiri_callback", "attempt")
TRANSFER_KINDS = (
    "shopping",
    "p2p",
    "bill",
    "rent",
    "salary",
    "family_support",
    "elderly_large",
    "new_payee",
    "house_purchase",
    "service_purchase",
    "own_account",
    "settlement",
    "payout",
    "victim",
    "rebate",
    "mule_onward",
    "cash_out",
)
"""What made a transfer; the first thirteen are legitimate."""
SCAM_TRANSFER_KINDS = ("victim", "rebate", "mule_onward", "cash_out")

ANSWERED = DISPOSITIONS.index("answered")


def call_batch(
    t: np.ndarray,
    caller: np.ndarray,
    callee: np.ndarray,
    kind: str,
    duration: np.ndarray,
    disposition: np.ndarray,
    *,
    typology: int | np.ndarray = -1,
    episode: int | np.ndarray = -1,
    ring: int | np.ndarray = -1,
) -> dict[str, np.ndarray]:
    """A batch of calls of one kind; scam kinds are flagged as scam in the ground truth."""
    n = len(t)
    return {
        "t": np.asarray(t, dtype=np.int64),
        "caller": np.asarray(caller, dtype=np.int64),
        "callee": np.asarray(callee, dtype=np.int64),
        "duration": np.asarray(duration, dtype=np.int64),
        "disposition": np.asarray(disposition, dtype=np.int8),
        "kind": np.full(n, CALL_KINDS.index(kind), dtype=np.int8),
        "scam": np.full(n, kind in SCAM_CALL_KINDS),
        "typology": np.broadcast_to(np.asarray(typology, dtype=np.int64), n).copy(),
        "episode": np.broadcast_to(np.asarray(episode, dtype=np.int64), n).copy(),
        "ring": np.broadcast_to(np.asarray(ring, dtype=np.int64), n).copy(),
    }


def transfer_batch(
    t: np.ndarray,
    payer: np.ndarray,
    payer_phone: np.ndarray | int,
    payee: np.ndarray,
    amount: np.ndarray,
    channel: np.ndarray,
    device: np.ndarray | int,
    kind: str,
    *,
    typology: int | np.ndarray = -1,
    episode: int | np.ndarray = -1,
    ring: int | np.ndarray = -1,
) -> dict[str, np.ndarray]:
    """A batch of transfers of one kind (accounts, phone and device as registry indices; -1 none)."""
    n = len(t)
    channel = np.broadcast_to(np.asarray(channel, dtype=np.int8), n).copy()
    device = np.broadcast_to(np.asarray(device, dtype=np.int64), n).copy()
    # Cash at an ATM or a bank counter is not made from the payer's own device.
    device[(channel == CHANNELS.index("atm")) | (channel == CHANNELS.index("counter"))] = -1
    return {
        "t": np.asarray(t, dtype=np.int64),
        "payer": np.asarray(payer, dtype=np.int64),
        "payer_phone": np.broadcast_to(np.asarray(payer_phone, dtype=np.int64), n).copy(),
        "payee": np.asarray(payee, dtype=np.int64),
        "amount": np.round(np.asarray(amount, dtype=np.float64), 2),
        "channel": channel,
        "device": device,
        "kind": np.full(n, TRANSFER_KINDS.index(kind), dtype=np.int8),
        "scam": np.full(n, kind in SCAM_TRANSFER_KINDS),
        "typology": np.broadcast_to(np.asarray(typology, dtype=np.int64), n).copy(),
        "episode": np.broadcast_to(np.asarray(episode, dtype=np.int64), n).copy(),
        "ring": np.broadcast_to(np.asarray(ring, dtype=np.int64), n).copy(),
    }


def concat(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join batches of the same kind of event, in order."""
    if not batches:
        raise ValueError("no batches to concatenate")
    # Empty batches still fix the keys and dtypes, so a quiet world yields empty arrays.
    return {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}


def select(batch: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """The events of a batch where ``mask`` is true (or at the given positions)."""
    return {key: value[mask] for key, value in batch.items()}


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner and position of each item when owner ``i`` has ``counts[i]`` items.

    >>> owner, position = expand(np.array([2, 0, 3]))
    >>> owner.tolist(), position.tolist()
    ([0, 0, 2, 2, 2], [0, 1, 0, 1, 2])
    """
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def talk(
    rng: np.random.Generator,
    n: int,
    answered_share: float,
    median_s: float,
    sigma: float,
    low_s: int = 3,
    high_s: int = 4 * 3600,
) -> tuple[np.ndarray, np.ndarray]:
    """Dispositions and talk times of ``n`` calls: lognormal talk time when answered, else 0.

    >>> d, s = talk(np.random.default_rng(1), 200, 1.0, 60, 0.5)
    >>> bool((d == ANSWERED).all() and (s > 0).all())
    True
    """
    answered = rng.random(n) < answered_share
    other = rng.choice([1, 2, 3, 4], size=n, p=[0.55, 0.12, 0.28, 0.05])
    disposition = np.where(answered, ANSWERED, other).astype(np.int8)
    seconds = np.clip(np.round(median_s * np.exp(sigma * rng.standard_normal(n))), low_s, high_s)
    return disposition, np.where(answered, seconds, 0).astype(np.int64)


def choice_codes(
    rng: np.random.Generator, n: int, weights: dict[str, float], names: tuple[str, ...]
) -> np.ndarray:
    """``n`` codes (indices into ``names``) drawn with the given weights by name.

    >>> choice_codes(np.random.default_rng(0), 3, {"atm": 1.0}, CHANNELS).tolist()
    [3, 3, 3]
    """
    codes = np.array([names.index(k) for k in weights], dtype=np.int64)
    p = np.array(list(weights.values()), dtype=np.float64)
    return codes[rng.choice(codes.size, size=n, p=p / p.sum())]
