"""A card-payment world: customers paying at terminals, three fraud scenarios, late fraud reports.

It follows the transaction generator of the public fraud-detection handbook (Le Borgne et al.,
*Reproducible Machine Learning for Credit Card Fraud Detection*), vectorized: customers and
terminals live on a 100 × 100 grid; a customer pays at terminals within ``radius`` of home, a
Poisson number of times a day, around midday, amounts drawn around their own mean. Fraud comes
from three scenarios:

1. ``amount``: any payment above ``amount_threshold`` (a baseline rule should catch these);
2. ``terminal``: terminals compromised at random, every payment there is fraud for the next
   ``terminal_fraud_days`` days (found only through the terminal's reported fraud);
3. ``card``: cards compromised at random, for ``card_fraud_days`` days a share of the card's
   payments are fraud with amounts multiplied by ``card_fraud_multiplier`` (found by the
   customer's spending habits).

Frauds are reported after a delay of days (``fraud_reports``, with their terminal: what the
delayed terminal fraud-rate feature counts) and labelled (``labels``: the transaction, the
compromised card's customer, the compromised terminal once the bank has seen enough reports).
The files it writes are what the bundled ``card`` feature spec reads (``card_tx``,
``fraud_reports``, ``labels``), plus the ground truth (``truth_*``), used only to measure.

>>> world = simulate_cards(CardConfig(n_customers=100, n_terminals=200, days=14, seed=1))
>>> world.card_tx.columns
['tx_id', 'time', 'customer_id', 'terminal_id', 'amount']
>>> world.card_tx.equals(simulate_cards(CardConfig(n_customers=100, n_terminals=200, days=14, seed=1)).card_tx)
True
>>> 0 < world.prevalence < 0.1
True
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from fraud_brain.errors import InputError
from fraud_brain.schema.records import TIME
from fraud_brain.sim.config import DAY_MS
from fraud_brain.sim.events import expand

SCENARIOS = ("amount", "terminal", "card")
"""The fraud scenarios, in the order they are applied (a later one names a fraud it also covers)."""

LABEL_ENTITY_TYPES = ("tx", "customer", "terminal")
"""What the card world's labels name (the bundled card spec's ``[labels] entity_types``)."""

FILES = ("card_tx", "fraud_reports", "labels", "truth_tx", "truth_customers", "truth_terminals")
"""The frames of a card world, by file name (without suffix)."""

GRID = 100.0
"""Customers and terminals live on a GRID × GRID square."""


@dataclass(frozen=True)
class CardConfig:
    """Everything that shapes a card world; the same config gives the same world.

    Compromise rates default to the handbook's (2 terminals a day per 10,000 terminals, 3
    cards a day per 5,000 customers), so the fraud prevalence stays near 1% at any size.

    >>> CardConfig.preset("sample", seed=3).seed
    3
    >>> CardConfig(n_customers=5000).card_compromises_per_day
    3.0
    """

    seed: int = 7
    n_customers: int = 1_000
    n_terminals: int = 2_000
    days: int = 61
    start: date = date(2026, 4, 1)
    radius: float = 5.0
    """A customer pays at the terminals within this distance of home (grid units)."""
    amount_threshold: float = 220.0
    """Scenario 1: every payment above this amount is fraud."""
    terminal_rate: float | None = None
    """Terminals compromised per day (default: 2 per 10,000 terminals)."""
    card_rate: float | None = None
    """Cards compromised per day (default: 3 per 5,000 customers)."""
    terminal_fraud_days: int = 28
    card_fraud_days: int = 14
    card_fraud_share: float = 1 / 3
    """Share of a compromised card's payments that are the fraudster's."""
    card_fraud_multiplier: float = 5.0
    report_share: float = 0.9
    """Share of frauds that are ever reported."""
    report_delay_days: float = 3.0
    """Median delay from a fraud to its report (lognormal)."""
    terminal_label_reports: int = 3
    """The bank labels a terminal compromised at its this-many-th reported fraud."""
    cleared_share: float = 0.002
    """Share of legitimate payments checked by the bank and labelled legitimate."""

    @classmethod
    def preset(cls, name: str, **overrides: object) -> CardConfig:
        """A named size (``sample``, ``small`` or ``bench``) with optional overrides.

        >>> CardConfig.preset("drift")
        Traceback (most recent call last):
        ...
        fraud_brain.errors.InputError: unknown card-world preset 'drift'; expected one of bench, sample, small
        """
        try:
            base = CARD_PRESETS[name]
        except KeyError:
            raise InputError(
                f"unknown card-world preset {name!r}; expected one of {', '.join(sorted(CARD_PRESETS))}"
            ) from None
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"unknown CardConfig field(s) {unknown} in overrides of preset {name!r}")
        config = replace(base, **overrides)  # type: ignore[arg-type]
        config.check()
        return config

    def check(self) -> None:
        """Raise :class:`InputError` naming the first setting out of range."""
        if self.n_customers < 1 or self.n_terminals < 1:
            raise InputError(
                f"card world: needs customers and terminals, got {self.n_customers} and {self.n_terminals}"
            )
        if self.days < 1:
            raise InputError(f"card world: days must be >= 1, got {self.days}")
        if self.radius <= 0 or self.amount_threshold <= 0 or self.report_delay_days <= 0:
            raise InputError("card world: radius, amount_threshold and report_delay_days must be > 0")
        for name in ("card_fraud_share", "report_share", "cleared_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"card world: {name} must be between 0 and 1, got {getattr(self, name)}")

    @property
    def terminal_compromises_per_day(self) -> float:
        """Mean number of terminals compromised per day."""
        return self.terminal_rate if self.terminal_rate is not None else 2.0 * self.n_terminals / 10_000

    @property
    def card_compromises_per_day(self) -> float:
        """Mean number of cards compromised per day."""
        return self.card_rate if self.card_rate is not None else 3.0 * self.n_customers / 5_000

    @property
    def start_ms(self) -> int:
        """The window's first instant, in ms since the epoch (UTC midnight of ``start``)."""
        return int(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        """The first instant after the window."""
        return self.start_ms + self.days * DAY_MS


CARD_PRESETS = {
    "sample": CardConfig(),
    "small": CardConfig(n_customers=5_000, n_terminals=10_000, days=92),
    "bench": CardConfig(n_customers=50_000, n_terminals=100_000, days=183),
}
"""Named card-world sizes: ``sample`` (~120k payments), ``small`` (the handbook's population,
three months) and ``bench`` (ten times the handbook's population, six months)."""


@dataclass(frozen=True, eq=False)
class CardWorld:
    """A simulated card world: record frames and ground truth."""

    config: CardConfig
    card_tx: pl.DataFrame
    fraud_reports: pl.DataFrame
    labels: pl.DataFrame
    truth_tx: pl.DataFrame
    truth_customers: pl.DataFrame
    truth_terminals: pl.DataFrame

    def frames(self) -> dict[str, pl.DataFrame]:
        """Every frame by file name (``card_tx`` … ``truth_terminals``)."""
        return {name: getattr(self, name) for name in FILES}

    @property
    def prevalence(self) -> float:
        """The share of payments that are fraud (ground truth)."""
        return float(self.truth_tx["is_fraud"].sum()) / self.truth_tx.height if self.truth_tx.height else 0.0

    def scenario_counts(self) -> dict[str, int]:
        """Fraudulent payments per scenario (each fraud counted under its last scenario).

        >>> sorted(simulate_cards(CardConfig(n_customers=50, n_terminals=100, days=7)).scenario_counts())
        ['amount', 'card', 'terminal']
        """
        counts = self.truth_tx.filter(pl.col("is_fraud")).group_by("scenario").len()
        found = {str(row["scenario"]): int(row["len"]) for row in counts.iter_rows(named=True)}
        return {name: found.get(name, 0) for name in SCENARIOS}

    def write(self, directory: str | Path, fmt: str = "parquet") -> list[Path]:
        """Write one file per frame (``card_tx.parquet`` …) into a folder; returns the paths."""
        from fraud_brain.io import write_folder

        return write_folder(self.frames(), directory, fmt)


def _ids(prefix: str, n: int) -> pl.Series:
    width = max(5, len(str(max(n - 1, 0))))
    return pl.Series([f"{prefix}{i:0{width}d}" for i in range(n)], dtype=pl.String)


def _times(ms: np.ndarray) -> pl.Series:
    return pl.Series(ms.astype(np.int64)).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").cast(TIME)


def _reachable(config: CardConfig, cxy: np.ndarray, txy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Terminals within ``radius`` of each customer, as CSR (row starts, row lengths, terminal indices)."""
    # customer × terminal distances in blocks of about two million pairs (tens of MB)
    chunk = max(1, 2_000_000 // max(len(txy), 1))
    parts = []
    counts = np.zeros(len(cxy), dtype=np.int64)
    for lo in range(0, len(cxy), chunk):
        block = cxy[lo : lo + chunk]
        d2 = (block[:, 0, None] - txy[None, :, 0]) ** 2 + (block[:, 1, None] - txy[None, :, 1]) ** 2
        rows, cols = np.nonzero(d2 < config.radius**2)
        counts[lo : lo + chunk] = np.bincount(rows, minlength=min(chunk, len(cxy) - lo))
        parts.append(cols)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return starts, counts, np.concatenate(parts).astype(np.int64)


def _windows(rng: np.random.Generator, rate: float, n: int, days: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Random compromises: ``(entity × day)`` coverage of ``length``-day windows, and when each
    entity was first compromised (-1: never)."""
    per_day = rng.poisson(rate, days)
    day = np.repeat(np.arange(days), per_day)
    who = rng.integers(0, n, day.size)
    delta = np.zeros((n, days + 1), dtype=np.int32)
    np.add.at(delta, (who, day), 1)
    np.add.at(delta, (who, np.minimum(day + length, days)), -1)
    covered = np.cumsum(delta[:, :days], axis=1) > 0
    first = np.full(n, days, dtype=np.int64)
    np.minimum.at(first, who, day)
    first[first == days] = -1
    times = np.bincount(who, minlength=n)
    return covered, np.stack([first, times])


def simulate_cards(config: CardConfig | None = None) -> CardWorld:
    """Simulate a card world (vectorized; deterministic given ``config.seed``)."""
    config = config or CardConfig()
    config.check()
    rng = np.random.default_rng(config.seed)
    n_c, n_t, days = config.n_customers, config.n_terminals, config.days

    cxy = rng.uniform(0, GRID, (n_c, 2))
    mean_amount = rng.uniform(5, 100, n_c)
    std_amount = mean_amount / 2
    tx_per_day = rng.uniform(0, 4, n_c)
    txy = rng.uniform(0, GRID, (n_t, 2))
    starts, reach, reachable = _reachable(config, cxy, txy)

    # legitimate payments: a Poisson count per customer and day (none without a terminal in reach)
    counts = rng.poisson(np.repeat(tx_per_day, days)).reshape(n_c, days) * (reach > 0)[:, None]
    flat, _ = expand(counts.ravel())
    customer, day = flat // days, flat % days
    n = customer.size
    second = rng.normal(43_200, 20_000, n)
    bad = (second < 0) | (second >= 86_400)
    while bad.any():
        second[bad] = rng.normal(43_200, 20_000, int(bad.sum()))
        bad = (second < 0) | (second >= 86_400)
    amount = rng.normal(mean_amount[customer], std_amount[customer])
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean_amount[customer[negative]])
    terminal = reachable[starts[customer] + (rng.random(n) * reach[customer]).astype(np.int64)]

    # the three fraud scenarios, in the handbook's order
    scenario = np.zeros(n, dtype=np.int8)
    scenario[np.round(amount, 2) > config.amount_threshold] = 1
    hit_terminals, terminal_truth = _windows(rng, config.terminal_compromises_per_day, n_t, days,
                                             config.terminal_fraud_days)
    scenario[hit_terminals[terminal, day]] = 2
    hit_cards, card_truth = _windows(rng, config.card_compromises_per_day, n_c, days, config.card_fraud_days)
    stolen = hit_cards[customer, day] & (rng.random(n) < config.card_fraud_share)
    amount[stolen] *= config.card_fraud_multiplier
    scenario[stolen] = 3
    amount = np.maximum(np.round(amount, 2), 0.01)

    t = config.start_ms + day.astype(np.int64) * DAY_MS + (second * 1000).astype(np.int64)
    order = np.argsort(t, kind="stable")
    t, customer, terminal, amount, scenario = t[order], customer[order], terminal[order], amount[order], scenario[order]
    tx_ids = _ids("tx", n)
    customer_ids, terminal_ids = _ids("C", n_c), _ids("T", n_t)
    card_tx = pl.DataFrame({
        "tx_id": tx_ids,
        "time": _times(t),
        "customer_id": customer_ids.gather(customer),
        "terminal_id": terminal_ids.gather(terminal),
        "amount": amount,
    })

    # frauds reported after a lognormal delay; reports still to come at the window's end are unknown
    fraud = np.nonzero(scenario > 0)[0]
    delay = np.exp(rng.normal(np.log(config.report_delay_days), 0.5, fraud.size)) * DAY_MS
    known = t[fraud] + np.maximum(delay, 3_600_000).astype(np.int64)
    reported = (rng.random(fraud.size) < config.report_share) & (known < config.end_ms)
    fraud, known = fraud[reported], known[reported]
    by_time = np.argsort(known, kind="stable")
    fraud, known = fraud[by_time], known[by_time]
    fraud_reports = pl.DataFrame({
        "report_id": _ids("r", fraud.size),
        "known_at": _times(known),
        "tx_id": tx_ids.gather(fraud),
        "customer_id": customer_ids.gather(customer[fraud]),
        "terminal_id": terminal_ids.gather(terminal[fraud]),
    })
    labels = _labels(config, rng, fraud, known, scenario, t, customer, terminal, tx_ids, customer_ids, terminal_ids)

    is_reported = np.zeros(n, dtype=bool)
    is_reported[fraud] = True
    scenario_names = pl.Enum(list(SCENARIOS))
    truth_tx = pl.DataFrame({
        "tx_id": tx_ids,
        "is_fraud": scenario > 0,
        "scenario": pl.Series([None, *SCENARIOS]).gather(scenario.astype(np.int64)).cast(scenario_names),
        "reported": is_reported,
    })
    return CardWorld(
        config, card_tx, fraud_reports, labels, truth_tx,
        _entity_truth("customer_id", customer_ids, cxy, card_truth, config, mean_amount=mean_amount,
                      std_amount=std_amount, tx_per_day=tx_per_day, terminals_in_reach=reach),
        _entity_truth("terminal_id", terminal_ids, txy, terminal_truth, config),
    )


def _labels(
    config: CardConfig,
    rng: np.random.Generator,
    fraud: np.ndarray,
    known: np.ndarray,
    scenario: np.ndarray,
    t: np.ndarray,
    customer: np.ndarray,
    terminal: np.ndarray,
    tx_ids: pl.Series,
    customer_ids: pl.Series,
    terminal_ids: pl.Series,
) -> pl.DataFrame:
    """Labels: every reported fraud (the victim disputes a stolen card's payments, the bank finds
    the rest), the customer of a stolen card at its first report, a terminal at its
    ``terminal_label_reports``-th report, and a few legitimate payments the bank cleared."""
    card = scenario[fraud] == 3
    parts = [pl.DataFrame({
        "entity_type": "tx",
        "entity_id": tx_ids.gather(fraud),
        "is_fraud": True,
        "known_at": known,
        "source": np.where(card, "victim_report", "bank"),
    })]
    stolen = pl.DataFrame({"who": customer[fraud][card], "known": known[card]})
    first = stolen.group_by("who").agg(pl.col("known").min()).sort("who")
    parts.append(pl.DataFrame({
        "entity_type": "customer",
        "entity_id": customer_ids.gather(first["who"].to_numpy()),
        "is_fraud": True,
        "known_at": first["known"].to_numpy(),
        "source": "victim_report",
    }))
    at_terminal = pl.DataFrame({"who": terminal[fraud][scenario[fraud] == 2], "known": known[scenario[fraud] == 2]})
    nth = (
        at_terminal.sort("known", "who")
        .group_by("who", maintain_order=True)
        .agg(pl.col("known").slice(config.terminal_label_reports - 1, 1).first().alias("known"), pl.len())
        .filter(pl.col("len") >= config.terminal_label_reports)
        .sort("who")
    )
    parts.append(pl.DataFrame({
        "entity_type": "terminal",
        "entity_id": terminal_ids.gather(nth["who"].to_numpy()),
        "is_fraud": True,
        "known_at": nth["known"].to_numpy(),
        "source": "bank",
    }))
    legit = np.nonzero(scenario == 0)[0]
    cleared = legit[rng.random(legit.size) < config.cleared_share]
    cleared_at = t[cleared] + (rng.uniform(0.5, 5, cleared.size) * DAY_MS).astype(np.int64)
    cleared, cleared_at = cleared[cleared_at < config.end_ms], cleared_at[cleared_at < config.end_ms]
    parts.append(pl.DataFrame({
        "entity_type": "tx",
        "entity_id": tx_ids.gather(cleared),
        "is_fraud": False,
        "known_at": cleared_at,
        "source": "bank",
    }))
    typed = [
        p.with_columns(pl.col("entity_id").cast(pl.String), pl.col("is_fraud").cast(pl.Boolean),
                       pl.col("known_at").cast(pl.Int64), pl.col("source").cast(pl.String),
                       pl.col("entity_type").cast(pl.String))
        for p in parts
    ]
    labels = pl.concat(typed).sort("known_at", "entity_type", "entity_id")
    return labels.select(
        _ids("l", labels.height).alias("label_id"),
        "entity_type",
        "entity_id",
        "is_fraud",
        pl.lit(None, pl.String).alias("typology"),
        _times(labels["known_at"].to_numpy()).alias("known_at"),
        "source",
    )


def _entity_truth(
    name: str,
    ids: pl.Series, xy: np.ndarray, compromised: np.ndarray, config: CardConfig, **columns: np.ndarray
) -> pl.DataFrame:
    """One row per customer or terminal: where it is, its profile, and when it was first compromised."""
    first, times = compromised
    first_ms = np.where(first >= 0, config.start_ms + first * DAY_MS, 0)
    return pl.DataFrame({
        name: ids,
        "x": xy[:, 0],
        "y": xy[:, 1],
        **columns,
        "first_compromised": _times(first_ms),
        "times_compromised": times.astype(np.int32),
    }).with_columns(pl.when(pl.col("times_compromised") > 0).then(pl.col("first_compromised")))
