"""Small synthetic event frames in the record schemas, for tests, doctests and benchmarks.

These are not the simulator (``fraud_brain.sim``): no scams, only the shape of the data.

>>> frames = synthetic_telecom(n_calls=50, n_transfers=20, n_phones=10, seed=1)
>>> sorted(frames), frames["call"].height
(['call', 'label', 'subscribers', 'transfer'], 50)
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fraud_brain.schema.records import (
    AGE_BANDS,
    CALLS,
    CHANNELS,
    DISPOSITIONS,
    LABELS,
    NUMBER_TYPES,
    SUBSCRIBERS,
    TRANSFERS,
)

_START_MS = 1_793_520_000_000  # 2026-11-01T08:00:00Z


def _times(rng: np.random.Generator, n: int, span_ms: int) -> pl.Series:
    ms = np.sort(rng.integers(0, span_ms, n)) + _START_MS
    return pl.Series(ms).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def synthetic_telecom(n_calls: int = 1000, n_transfers: int = 200, n_phones: int = 100, seed: int = 0,
                      span_days: float = 7.0) -> dict[str, pl.DataFrame]:
    """Random calls, transfers, labels and subscribers over ``n_phones`` numbers, sorted by time."""
    rng = np.random.default_rng(seed)
    span = int(span_days * 86_400_000)
    phones = np.array([f"1380000{i:05d}" for i in range(n_phones)])
    accounts = np.array([f"ACC{i:06d}" for i in range(n_phones)])
    caller = rng.integers(0, n_phones, n_calls)
    callee = rng.integers(0, n_phones, n_calls)
    answered = rng.random(n_calls) < 0.7
    calls = pl.DataFrame({
        "call_id": [f"c{i}" for i in range(n_calls)],
        "start_time": _times(rng, n_calls, span),
        "caller": phones[caller],
        "callee": phones[callee],
        "duration_s": np.where(answered, rng.exponential(180, n_calls).astype(np.int32) % 86_400, 0).astype(np.int32),
        "disposition": np.where(answered, "answered", np.array(DISPOSITIONS[1:])[rng.integers(0, 4, n_calls)]),
        "caller_type": np.array(NUMBER_TYPES)[rng.choice(4, n_calls, p=[0.8, 0.1, 0.06, 0.04])],
        "device_id": [f"IMEI{d}" for d in (caller // 3)],
        "cell_id": [f"CELL{d}" for d in rng.integers(0, 50, n_calls)],
        "region": [f"R{d}" for d in rng.integers(0, 10, n_calls)],
        "sim_age_days": rng.integers(0, 3000, n_calls).astype(np.int32),
    }).cast(CALLS.polars_schema())  # type: ignore[arg-type]
    payer = rng.integers(0, n_phones, n_transfers)
    transfers = pl.DataFrame({
        "transfer_id": [f"t{i}" for i in range(n_transfers)],
        "time": _times(rng, n_transfers, span),
        "payer_account": accounts[payer],
        "payer_phone": phones[payer],
        "payee_account": accounts[rng.integers(0, n_phones, n_transfers)],
        "payee_bank": "BANK",
        "amount": np.round(rng.lognormal(6, 1.2, n_transfers), 2) + 0.01,
        "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n_transfers)],
        "device_id": None,
    }).cast(TRANSFERS.polars_schema())  # type: ignore[arg-type]
    n_labels = max(1, n_phones // 20)
    is_number = rng.random(n_labels) < 0.5
    labels = pl.DataFrame({
        "label_id": [f"l{i}" for i in range(n_labels)],
        "entity_type": np.where(is_number, "number", "account"),
        "entity_id": np.where(is_number, phones[rng.integers(0, n_phones, n_labels)],
                              accounts[rng.integers(0, n_phones, n_labels)]),
        "is_fraud": rng.random(n_labels) < 0.8,
        "typology": None,
        "known_at": _times(rng, n_labels, span),
        "source": "police",
    }).cast(LABELS.polars_schema())  # type: ignore[arg-type]
    subscribers = pl.DataFrame({
        "phone": phones,
        "age_band": np.array(AGE_BANDS)[rng.integers(0, len(AGE_BANDS), n_phones)],
        "district": [f"D{d}" for d in rng.integers(0, 12, n_phones)],
        "activation_date": None,
        "account": accounts,
    }).cast(SUBSCRIBERS.polars_schema())  # type: ignore[arg-type]
    return {"call": calls, "transfer": transfers, "label": labels, "subscribers": subscribers}


def synthetic_card(n: int = 1000, n_customers: int = 100, n_terminals: int = 50, seed: int = 0,
                   span_days: float = 30.0) -> dict[str, pl.DataFrame]:
    """Random card transactions (``tx``) and fraud reports (``fraud_report``) for ``card.toml``.

    >>> synthetic_card(n=10)["tx"].columns
    ['tx_id', 'time', 'customer_id', 'terminal_id', 'amount']
    """
    rng = np.random.default_rng(seed)
    span = int(span_days * 86_400_000)
    tx = pl.DataFrame({
        "tx_id": np.arange(n).astype(str),
        "time": _times(rng, n, span),
        "customer_id": rng.integers(0, n_customers, n),
        "terminal_id": rng.integers(0, n_terminals, n),
        "amount": np.round(rng.gamma(2.0, 30.0, n), 2),
    })
    k = max(1, n // 50)
    reports = pl.DataFrame({
        "report_id": [f"r{i}" for i in range(k)],
        "known_at": _times(rng, k, span),
        "tx_id": rng.integers(0, n, k).astype(str),
        "terminal_id": rng.integers(0, n_terminals, k),
    })
    return {"tx": tx, "fraud_report": reports}
