"""Assemble a simulated world into record frames that match the schemas exactly.

>>> from fraud_brain.schema import CALLS
>>> world = simulate(SimConfig(n_subscribers=300, days=2, min_episodes_per_typology=1))
>>> world.calls.schema == CALLS.polars_schema()
True
>>> world.calls["start_time"].is_sorted()
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import polars as pl

from fraud_brain.schema.records import (
    AGE_BANDS,
    CHANNELS,
    DISPOSITIONS,
    LABEL_ENTITIES,
    LABEL_SOURCES,
    NUMBER_TYPES,
    TIME,
    TYPOLOGIES,
)
from fraud_brain.sim.config import DAY_MS, SimConfig
from fraud_brain.sim.events import CALL_KINDS, TRANSFER_KINDS, concat, select
from fraud_brain.sim.labels import make_labels
from fraud_brain.sim.legit import legit_events
from fraud_brain.sim.population import build_population
from fraud_brain.sim.registry import BANKS, DISTRICTS, Registry
from fraud_brain.sim.rhythm import local_hour, weekday_of
from fraud_brain.sim.scams import ScamEvents, scam_events

ProgressCallback = Callable[[str, float], None]
"""Called as ``progress(stage, fraction_done)`` while a world is built."""

TYPOLOGY_ENUM = pl.Enum(TYPOLOGIES)
CALL_KIND_ENUM = pl.Enum(CALL_KINDS)
TRANSFER_KIND_ENUM = pl.Enum(TRANSFER_KINDS)
ROLES = ("scammer", "simbox", "wangiri", "mule", "mule_l2", "cash_out")
"""Roles of scam entities in the ground truth."""

TRUTH_CALLS = pl.Schema(
    {
        "call_id": pl.String,
        "is_scam": pl.Boolean,
        "typology": TYPOLOGY_ENUM,
        "episode_id": pl.Int64,
        "ring_id": pl.Int64,
        "kind": CALL_KIND_ENUM,
    }
)
TRUTH_TRANSFERS = pl.Schema(
    {
        "transfer_id": pl.String,
        "is_scam": pl.Boolean,
        "typology": TYPOLOGY_ENUM,
        "episode_id": pl.Int64,
        "first_scam_call_time": TIME,
        "ring_id": pl.Int64,
        "kind": TRANSFER_KIND_ENUM,
    }
)
TRUTH_ENTITIES = pl.Schema(
    {
        "entity_type": pl.Enum(("number", "account")),
        "entity_id": pl.String,
        "role": pl.Enum(ROLES),
        "typology": TYPOLOGY_ENUM,
        "ring_id": pl.Int64,
    }
)
TRUTH_EPISODES = pl.Schema(
    {
        "episode_id": pl.Int64,
        "typology": TYPOLOGY_ENUM,
        "ring_id": pl.Int64,
        "victim_phone": pl.String,
        "victim_account": pl.String,
        "victim_age_band": pl.Enum(AGE_BANDS),
        "anchor_time": TIME,
    }
)
"""Ground-truth schemas (for evaluation only; never fed to the engine)."""

FRAMES = (
    "calls",
    "transfers",
    "subscribers",
    "labels",
    "truth_calls",
    "truth_transfers",
    "truth_entities",
    "truth_episodes",
)
"""The frames of a world, in the order they are written."""


@dataclass(frozen=True)
class World:
    """A simulated world: the four record frames the engine sees, and the ground truth it must not.

    ``truth_transfers.kind`` and ``truth_calls.kind`` say what made each event (``victim``,
    ``mule_onward``, ``elderly_large``, ``cold_call``, ``abroad``…); ``is_scam`` on transfers is true
    for victims' payments, rebates and mule movements.

    >>> world = simulate(SimConfig(n_subscribers=300, days=2, min_episodes_per_typology=1))
    >>> world.truth_transfers.filter(pl.col("kind") == "victim")["is_scam"].all()
    True
    >>> world.n_records == world.calls.height + world.transfers.height
    True
    """

    config: SimConfig
    calls: pl.DataFrame
    transfers: pl.DataFrame
    subscribers: pl.DataFrame
    labels: pl.DataFrame
    truth_calls: pl.DataFrame
    truth_transfers: pl.DataFrame
    truth_entities: pl.DataFrame
    truth_episodes: pl.DataFrame

    def frames(self) -> dict[str, pl.DataFrame]:
        """Every frame by name (``calls`` … ``truth_episodes``)."""
        return {name: getattr(self, name) for name in FRAMES}

    @property
    def n_records(self) -> int:
        """Calls plus transfers: the event records a feed would carry."""
        return self.calls.height + self.transfers.height

    def write(self, directory: str | Path, fmt: str = "parquet") -> list[Path]:
        """Write one file per frame (``calls.parquet`` …) into a folder; returns the paths.

        >>> import tempfile
        >>> world = simulate(SimConfig(n_subscribers=200, days=1))
        >>> [p.name for p in world.write(tempfile.mkdtemp(), fmt="csv")][:2]
        ['calls.csv', 'transfers.csv']
        """
        from fraud_brain.io import write_folder

        return write_folder(self.frames(), directory, fmt)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, World):
            return NotImplemented
        return self.config == other.config and all(
            getattr(self, f.name).equals(getattr(other, f.name)) for f in fields(self) if f.name != "config"
        )

    __hash__ = None  # type: ignore[assignment]


TRUTH_SCHEMAS = {
    "truth_calls": TRUTH_CALLS,
    "truth_transfers": TRUTH_TRANSFERS,
    "truth_entities": TRUTH_ENTITIES,
    "truth_episodes": TRUTH_EPISODES,
}
RECORD_KINDS = {"calls": "call", "transfers": "transfer", "subscribers": "subscriber", "labels": "label"}


def read_world(directory: str | Path) -> dict[str, pl.DataFrame]:
    """Read a written world back (any format): records validated, ground truth typed.

    >>> import tempfile
    >>> world = simulate(SimConfig(n_subscribers=200, days=1))
    >>> folder = tempfile.mkdtemp()
    >>> _ = world.write(folder, fmt="jsonl")
    >>> read_world(folder)["truth_transfers"].equals(world.truth_transfers)
    True
    """
    from fraud_brain.io import find_record_file, read_frame, read_raw

    folder = Path(directory)
    frames: dict[str, pl.DataFrame] = {}
    for name in FRAMES:
        path = find_record_file(folder, name)
        if path is None:
            raise FileNotFoundError(f"{folder}: no {name}.parquet/.jsonl/.csv file (not a written world?)")
        if name in RECORD_KINDS:
            frames[name] = read_frame(path, RECORD_KINDS[name])
        else:
            frames[name] = _typed_truth(read_raw(path)[0], TRUTH_SCHEMAS[name], path)
    return frames


def _typed_truth(raw: pl.DataFrame, schema: pl.Schema, path: Path) -> pl.DataFrame:
    """Cast a ground-truth frame read from any format to its schema."""
    missing = [name for name in schema if name not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    columns = []
    for name, dtype in schema.items():
        column = pl.col(name)
        source = raw.schema[name]
        if dtype == pl.Boolean and source == pl.String:
            column = column.str.to_lowercase() == "true"
        elif isinstance(dtype, pl.Datetime) and source == pl.String:
            column = column.str.to_datetime(time_unit="ms", time_zone="UTC")
        columns.append(column.cast(dtype).alias(name))
    return raw.select(columns)


def _gather(values: pl.Series, index: np.ndarray) -> pl.Series:
    """``values[index]`` with -1 meaning null."""
    idx = pl.Series(index, dtype=pl.Int64)
    idx = pl.select(pl.when(idx >= 0).then(idx)).to_series()
    return values.gather(idx)


def _enum(names: tuple[str, ...], codes: np.ndarray) -> pl.Series:
    """Enum values from codes (-1 meaning null)."""
    return _gather(pl.Series(names, dtype=pl.Enum(names)), np.asarray(codes, dtype=np.int64))


def _times(t: np.ndarray) -> pl.Series:
    return pl.Series(t, dtype=pl.Int64).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def _ids(prefix: str, n: int) -> pl.Series:
    width = max(len(str(max(n - 1, 0))), 6)
    return pl.lit(prefix) + pl.Series(np.arange(n)).cast(pl.String).str.zfill(width)


def _sorted_in_window(batch: dict[str, np.ndarray], config: SimConfig) -> dict[str, np.ndarray]:
    inside = (batch["t"] >= config.start_ms) & (batch["t"] < config.end_ms)
    batch = select(batch, inside)
    return select(batch, np.argsort(batch["t"], kind="stable"))


def _opt_int(index: np.ndarray) -> pl.Series:
    return pl.select(pl.when(pl.lit(pl.Series(index)) >= 0).then(pl.lit(pl.Series(index)))).to_series()


def simulate(config: SimConfig, progress: ProgressCallback | None = None) -> World:
    """Build a whole world for a config; the same config always gives an identical world.

    >>> a = simulate(SimConfig(n_subscribers=200, days=1, seed=1))
    >>> b = simulate(SimConfig(n_subscribers=200, days=1, seed=1))
    >>> a == b
    True
    """
    config.check()
    report = progress or (lambda stage, done: None)
    seeds = np.random.SeedSequence(config.seed).spawn(6)
    rng = [np.random.default_rng(s) for s in seeds]
    registry = Registry(rng[0])

    report("population", 0.0)
    population = build_population(config, registry, rng[1])
    report("legitimate activity", 0.1)
    legit_calls, legit_transfers = legit_events(config, population, rng[2])
    report("scam rings", 0.35)
    scams = scam_events(config, registry, population, rng[3])
    report("assembling records", 0.5)

    calls = _sorted_in_window(concat([legit_calls, scams.calls]), config)
    transfers = _sorted_in_window(concat([legit_transfers, scams.transfers]), config)
    numbers = registry.numbers()
    phones = registry.phone_strings()
    accounts = registry.account_strings()
    devices = registry.device_strings()
    cells = registry.cell_strings()
    districts = pl.Series(DISTRICTS, dtype=pl.String)

    # Calls: caller attributes come from the registry; office hours on weekdays use the work cell.
    caller = calls["caller"]
    hour = local_hour(calls["t"])
    weekday = weekday_of((calls["t"] + 8 * 3_600_000) // DAY_MS)
    at_work = (hour >= 9) & (hour < 18) & (weekday < 5)
    cell = np.where(at_work, numbers["cell_work"][caller], numbers["cell_home"][caller])
    activation = numbers["activation_day"][caller]
    sim_age = np.where((activation >= 0) & numbers["listed"][caller], calls["t"] // DAY_MS - activation, -1)
    n_calls = calls["t"].size
    call_ids = _ids("c", n_calls)
    report("assembling records", 0.6)
    calls_frame = pl.DataFrame(
        {
            "call_id": pl.select(call_ids).to_series(),
            "start_time": _times(calls["t"]),
            "caller": phones.gather(caller),
            "callee": phones.gather(calls["callee"]),
            "duration_s": pl.Series(calls["duration"], dtype=pl.Int32),
            "disposition": _enum(DISPOSITIONS, calls["disposition"]),
            "caller_type": _enum(NUMBER_TYPES, numbers["type"][caller]),
            "device_id": _gather(devices, numbers["device"][caller]),
            "cell_id": _gather(cells, cell),
            "region": _gather(districts, numbers["district"][caller]),
            "sim_age_days": _opt_int(sim_age).cast(pl.Int32),
        }
    )

    first_call = _first_scam_call(calls, scams.episode_typology.size)
    n_transfers = transfers["t"].size
    bank_names = pl.Series(BANKS, dtype=pl.String)
    banks = registry.account_banks()
    transfers_frame = pl.DataFrame(
        {
            "transfer_id": pl.select(_ids("t", n_transfers)).to_series(),
            "time": _times(transfers["t"]),
            "payer_account": accounts.gather(transfers["payer"]),
            "payer_phone": _gather(phones, transfers["payer_phone"]),
            "payee_account": accounts.gather(transfers["payee"]),
            "payee_bank": bank_names.gather(banks[transfers["payee"]]),
            "amount": pl.Series(transfers["amount"], dtype=pl.Float64),
            "channel": _enum(CHANNELS, transfers["channel"]),
            "device_id": _gather(devices, transfers["device"]),
        }
    )
    report("subscribers and labels", 0.75)

    listed = np.flatnonzero(numbers["listed"])
    subscribers = pl.DataFrame(
        {
            "phone": phones.gather(listed),
            "age_band": _enum(AGE_BANDS, numbers["age"][listed]),
            "district": _gather(districts, numbers["district"][listed]),
            "activation_date": _opt_int(numbers["activation_day"][listed]).cast(pl.Int32).cast(pl.Date),
            "account": _gather(accounts, numbers["account"][listed]),
        }
    ).sort("phone")

    labels = make_labels(config, calls, transfers, numbers["category"], scams.rings.typology, rng[4])
    order = np.argsort(labels["known_at"], kind="stable")
    labels = {k: v[order] for k, v in labels.items()}
    transfer_ids = transfers_frame["transfer_id"]
    entity = labels["entity"]
    target = labels["target"]
    entity_id = (
        pl.DataFrame(
            {
                "transfer": _gather(
                    transfer_ids, np.where(entity == LABEL_ENTITIES.index("transfer"), target, -1)
                ),
                "number": _gather(phones, np.where(entity == LABEL_ENTITIES.index("number"), target, -1)),
                "account": _gather(accounts, np.where(entity == LABEL_ENTITIES.index("account"), target, -1)),
            }
        )
        .select(pl.coalesce("transfer", "number", "account"))
        .to_series()
    )
    labels_frame = pl.DataFrame(
        {
            "label_id": pl.select(_ids("l", order.size)).to_series(),
            "entity_type": _enum(LABEL_ENTITIES, entity),
            "entity_id": entity_id,
            "is_fraud": pl.Series(labels["is_fraud"], dtype=pl.Boolean),
            "typology": _enum(TYPOLOGIES, labels["typology"]),
            "known_at": _times(labels["known_at"]),
            "source": _enum(LABEL_SOURCES, labels["source"]),
        }
    )
    report("ground truth", 0.9)

    truth_calls = pl.DataFrame(
        {
            "call_id": calls_frame["call_id"],
            "is_scam": pl.Series(calls["scam"]),
            "typology": _enum(TYPOLOGIES, calls["typology"]),
            "episode_id": _opt_int(calls["episode"]),
            "ring_id": _opt_int(calls["ring"]),
            "kind": _enum(CALL_KINDS, calls["kind"]),
        },
        schema=TRUTH_CALLS,
    )
    padded = np.append(first_call, -1)  # episode -1 (legitimate) reads the trailing -1
    first = padded[np.where(transfers["episode"] >= 0, transfers["episode"], first_call.size)]
    truth_transfers = pl.DataFrame(
        {
            "transfer_id": transfer_ids,
            "is_scam": pl.Series(transfers["scam"]),
            "typology": _enum(TYPOLOGIES, transfers["typology"]),
            "episode_id": _opt_int(transfers["episode"]),
            "first_scam_call_time": pl.select(
                pl.when(pl.lit(pl.Series(first)) >= 0).then(pl.lit(pl.Series(first)))
            )
            .to_series()
            .cast(pl.Datetime("ms"))
            .dt.replace_time_zone("UTC"),
            "ring_id": _opt_int(transfers["ring"]),
            "kind": _enum(TRANSFER_KINDS, transfers["kind"]),
        },
        schema=TRUTH_TRANSFERS,
    )
    truth_entities = _truth_entities(scams, phones, accounts)
    victim = scams.episode_victim
    truth_episodes = pl.DataFrame(
        {
            "episode_id": np.arange(victim.size),
            "typology": _enum(TYPOLOGIES, scams.episode_typology),
            "ring_id": scams.episode_ring,
            "victim_phone": phones.gather(population.residents[victim]),
            "victim_account": accounts.gather(population.account[victim]),
            "victim_age_band": _enum(AGE_BANDS, population.age[victim]),
            "anchor_time": _times(scams.episode_anchor),
        },
        schema=TRUTH_EPISODES,
    )
    report("done", 1.0)
    return World(
        config,
        calls_frame,
        transfers_frame,
        subscribers,
        labels_frame,
        truth_calls,
        truth_transfers,
        truth_entities,
        truth_episodes,
    )


def _first_scam_call(calls: dict[str, np.ndarray], n_episodes: int) -> np.ndarray:
    """Time of each episode's first ring → victim call inside the window (-1: none)."""
    first = np.full(n_episodes, np.iinfo(np.int64).max, dtype=np.int64)
    mine = (calls["episode"] >= 0) & calls["scam"]
    np.minimum.at(first, calls["episode"][mine], calls["t"][mine])
    return np.where(first == np.iinfo(np.int64).max, -1, first)


def _truth_entities(scams: ScamEvents, phones: pl.Series, accounts: pl.Series) -> pl.DataFrame:
    """Every scam number and mule account with its role, typology and ring."""
    rings = scams.rings
    slot = rings.slot_numbers
    ring_of_slot = np.broadcast_to(np.arange(rings.n)[:, None, None], slot.shape)
    used = slot >= 0
    direct, direct_ring = slot[used], ring_of_slot[used]
    box_ring = np.repeat(np.arange(rings.n), rings.box_len)
    mule1_ring = np.broadcast_to(np.arange(rings.n)[:, None, None], rings.mule1.shape).ravel()
    parts = [
        ("number", direct, "scammer", rings.typology[direct_ring], direct_ring),
        ("number", rings.box_sims, "simbox", rings.typology[box_ring], box_ring),
        (
            "number",
            scams.wangiri_numbers,
            "wangiri",
            np.full(scams.wangiri_numbers.size, TYPOLOGIES.index("wangiri")),
            scams.wangiri_campaign,
        ),
        ("account", rings.mule1.ravel(), "mule", rings.typology[mule1_ring], mule1_ring),
        # running-points accounts serve every ring: no typology or ring of their own
        ("account", rings.points.ravel(), "mule", np.full(rings.points.size, -1), np.full(rings.points.size, -1)),
        (
            "account",
            rings.mule2.ravel(),
            "mule_l2",
            np.repeat(rings.typology, rings.mule2.shape[1]),
            np.repeat(np.arange(rings.n), rings.mule2.shape[1]),
        ),
        (
            "account",
            rings.cash_out.ravel(),
            "cash_out",
            np.repeat(rings.typology, rings.cash_out.shape[1]),
            np.repeat(np.arange(rings.n), rings.cash_out.shape[1]),
        ),
    ]
    frames = []
    for entity_type, index, role, typology, ring in parts:
        strings = phones if entity_type == "number" else accounts
        frames.append(
            pl.DataFrame(
                {
                    "entity_type": pl.Series(
                        [entity_type] * index.size, dtype=pl.Enum(("number", "account"))
                    ),
                    "entity_id": strings.gather(index),
                    "role": pl.Series([role] * index.size, dtype=pl.Enum(ROLES)),
                    "typology": _enum(TYPOLOGIES, typology),
                    "ring_id": _opt_int(np.asarray(ring, dtype=np.int64)).cast(pl.Int64),
                },
                schema=TRUTH_ENTITIES,
            )
        )
    return pl.concat(frames).unique(subset=["entity_type", "entity_id"], keep="first", maintain_order=True)


__all__ = ["FRAMES", "TRUTH_SCHEMAS", "World", "read_world", "simulate"]
