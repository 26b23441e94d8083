"""The world's directory: every phone number, bank account and device, as integer indices.

Generators work with integer indices into this registry (fast numpy arrays); the strings
(``13812345678``, ``6222…``, IMEIs) are made once per entity and gathered into the record
frames at the very end.

>>> import numpy as np
>>> registry = Registry(np.random.default_rng(0))
>>> idx = registry.add_numbers(3, "mobile", category="resident")
>>> registry.add_numbers(1, "international", category="relative_abroad").tolist()
[3]
>>> phones = registry.phone_strings()
>>> [len(p) for p in phones.to_list()[:3]]
[11, 11, 11]
>>> phones[3].startswith("+")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fraud_brain.schema.records import AGE_BANDS, NUMBER_TYPES

MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        134,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        155,
        156,
        157,
        158,
        159,
        166,
        176,
        177,
        178,
        180,
        181,
        182,
        183,
        185,
        186,
        187,
        188,
        189,
        198,
        199,
    ]
)
VOIP_PREFIXES = np.array([170, 171])
"""Virtual-operator ranges: legitimate privacy numbers of delivery platforms, and scammers."""
AREA_CODES = np.array([591, 592, 595, 10, 21, 20, 571, 755])
"""Fixed-line area codes; the first is the simulated city's own."""
SCAM_COUNTRY_CODES = np.array([855, 63, 95, 856, 60, 66])
"""Origins of overseas scam calls (Cambodia, Philippines, Myanmar, Laos, Malaysia, Thailand)."""
RELATIVE_COUNTRY_CODES = np.array([1, 44, 61, 81, 65, 49, 33, 60, 66, 852])
"""Where legitimate relatives abroad call from (some overlap with scam origins on purpose)."""
PREMIUM_COUNTRY_CODES = np.array([882, 881, 216, 222, 373, 247, 675])
"""International premium and satellite ranges used by Wangiri."""

DISTRICTS = (
    "Gulou",
    "Taijiang",
    "Cangshan",
    "Jinan",
    "Mawei",
    "Changle",
    "Minhou",
    "Lianjiang",
    "Luoyuan",
    "Minqing",
    "Yongtai",
    "Pingtan",
)
"""Districts of the simulated city (each has a community officer)."""

BANKS = (
    "ICBC",
    "CCB",
    "ABC",
    "BOC",
    "BOCOM",
    "CMB",
    "PSBC",
    "CIB",
    "SPDB",
    "CITIC",
    "FJRCU",
    "ALIPAY",
    "WECHATPAY",
    "WEBANK",
    "MYBANK",
    "XWBANK",
)
"""Banks and payment firms; the last three are digital-only banks that mules drift to."""
BANK_WEIGHTS = np.array([16, 15, 13, 11, 6, 8, 7, 5, 4, 4, 5, 2, 2, 0.8, 0.8, 0.4])
BANK_BINS = np.array(
    [6222, 6217, 6228, 6216, 6222, 6225, 6210, 6229, 6225, 6226, 6230, 2088, 2100, 6236, 6236, 6237]
)
HOTLINES = ("95588", "95533", "95599", "95566", "95555", "95559", "10086", "10010", "10000")
"""Bank and operator service numbers residents call (and which call back)."""

NUMBER_CATEGORIES = (
    "resident",
    "courier",
    "business",
    "delivery_privacy",
    "telemarketer",
    "hotline",
    "ecommerce_service",
    "relative_abroad",
    "scam_sim",
    "scam_voip",
    "scam_international",
    "simbox_sim",
    "wangiri",
    "mule_phone",
    "external_person",
)
"""What each number is, for ground truth and for tests; never part of the records."""


@dataclass
class Registry:
    """Every entity of the world, added in bulk; strings are made by :meth:`phone_strings` & co.

    Numbers carry: type (NUMBER_TYPES code), category, device, home/work cell, district,
    activation day (days since epoch; -1 unknown), age band code (-1 unknown), main account
    (-1 none) and whether the operator lists it (appears in the subscriber table).
    """

    rng: np.random.Generator
    _number_parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    _n_numbers: int = 0
    _used_numbers: set[tuple[str, int]] = field(default_factory=set)
    _account_banks: list[np.ndarray] = field(default_factory=list)
    _n_accounts: int = 0
    _device_kinds: list[np.ndarray] = field(default_factory=list)
    _n_devices: int = 0
    cells_per_district: int = 40
    _drawn: dict[str, np.ndarray] = field(default_factory=dict)

    # -- numbers -----------------------------------------------------------------------------

    def _unique_draw(self, space: str, n: int, high: int) -> np.ndarray:
        """``n`` distinct integers in ``[0, high)``, never repeating an earlier draw of ``space``."""
        used = self._drawn.get(space, np.empty(0, dtype=np.int64))
        out = np.empty(0, dtype=np.int64)
        while out.size < n:
            want = int((n - out.size) * 1.2) + 16
            candidates = self.rng.integers(0, high, size=want, dtype=np.int64)
            _, first = np.unique(candidates, return_index=True)
            candidates = candidates[np.sort(first)]
            taken = np.concatenate([used, out])
            candidates = candidates[~np.isin(candidates, taken)]
            out = np.concatenate([out, candidates[: n - out.size]])
        self._drawn[space] = np.concatenate([used, out])
        return out

    def _make_digits(self, n: int, number_type: str, category: str) -> np.ndarray:
        """Numeric bodies of new numbers; sign/prefix conventions are applied in phone_strings."""
        if number_type in ("mobile", "voip"):
            prefixes = MOBILE_PREFIXES if number_type == "mobile" else VOIP_PREFIXES
            body = self._unique_draw(number_type, n, prefixes.size * 10**8)
            return prefixes[body // 10**8] * 10**8 + body % 10**8
        if number_type == "fixed":
            # Local parts are distinct on their own, so any area code keeps numbers distinct.
            area = AREA_CODES[
                np.where(self.rng.random(n) < 0.85, 0, self.rng.integers(0, AREA_CODES.size, n))
            ]
            body = self._unique_draw("fixed", n, 8 * 10**7)
            return area * 10**8 + 2 * 10**7 + body
        codes = {"wangiri": PREMIUM_COUNTRY_CODES, "relative_abroad": RELATIVE_COUNTRY_CODES}.get(
            category, SCAM_COUNTRY_CODES
        )
        body = self._unique_draw("international", n, codes.size * 10**9)
        return codes[body // 10**9] * 10**10 + 10**9 + body % 10**9

    def add_numbers(
        self,
        n: int,
        number_type: str,
        category: str,
        *,
        device: np.ndarray | int = -1,
        cell_home: np.ndarray | int = -1,
        cell_work: np.ndarray | int = -1,
        district: np.ndarray | int = -1,
        activation_day: np.ndarray | int = -1,
        age: np.ndarray | int = -1,
        account: np.ndarray | int = -1,
        listed: bool = True,
    ) -> np.ndarray:
        """Add ``n`` new distinct numbers of a type; returns their indices."""
        digits = self._make_digits(n, number_type, category)
        part = {
            "digits": digits.astype(np.int64),
            "type": np.full(n, NUMBER_TYPES.index(number_type), dtype=np.int8),
            "category": np.full(n, NUMBER_CATEGORIES.index(category), dtype=np.int8),
            "device": np.broadcast_to(np.asarray(device, dtype=np.int64), n).copy(),
            "cell_home": np.broadcast_to(np.asarray(cell_home, dtype=np.int64), n).copy(),
            "cell_work": np.broadcast_to(np.asarray(cell_work, dtype=np.int64), n).copy(),
            "district": np.broadcast_to(np.asarray(district, dtype=np.int64), n).copy(),
            "activation_day": np.broadcast_to(np.asarray(activation_day, dtype=np.int64), n).copy(),
            "age": np.broadcast_to(np.asarray(age, dtype=np.int64), n).copy(),
            "account": np.broadcast_to(np.asarray(account, dtype=np.int64), n).copy(),
            "listed": np.full(n, listed and number_type in ("mobile", "fixed")),
        }
        self._number_parts.append(part)
        first = self._n_numbers
        self._n_numbers += n
        return np.arange(first, first + n, dtype=np.int64)

    def add_hotlines(self) -> np.ndarray:
        """The fixed service numbers (``95588`` …), as numbers of type fixed."""
        n = len(HOTLINES)
        self._number_parts.append(
            {
                "digits": np.array([int(h) for h in HOTLINES], dtype=np.int64),
                "type": np.full(n, NUMBER_TYPES.index("fixed"), dtype=np.int8),
                "category": np.full(n, NUMBER_CATEGORIES.index("hotline"), dtype=np.int8),
                "device": np.full(n, -1),
                "cell_home": np.full(n, -1),
                "cell_work": np.full(n, -1),
                "district": np.full(n, -1),
                "activation_day": np.full(n, -1),
                "age": np.full(n, -1),
                "account": np.full(n, -1),
                "listed": np.zeros(n, dtype=bool),
            }
        )
        first = self._n_numbers
        self._n_numbers += n
        return np.arange(first, first + n, dtype=np.int64)

    def numbers(self) -> dict[str, np.ndarray]:
        """Every number attribute as one array over all numbers so far."""
        return {key: np.concatenate([p[key] for p in self._number_parts]) for key in self._number_parts[0]}

    def set_number_attribute(self, key: str, index: np.ndarray, values: np.ndarray | int) -> None:
        """Change an attribute of existing numbers (e.g. link a resident to an account)."""
        starts = np.cumsum([0] + [p["digits"].size for p in self._number_parts])
        index = np.asarray(index)
        values = np.broadcast_to(np.asarray(values), index.shape)
        for k, part in enumerate(self._number_parts):
            inside = (index >= starts[k]) & (index < starts[k + 1])
            part[key][index[inside] - starts[k]] = values[inside]

    def phone_strings(self) -> pl.Series:
        """The phone number of every number, in index order."""
        attrs = self.numbers()
        digits = pl.Series(attrs["digits"]).cast(pl.String)
        kind = pl.Series(attrs["type"])
        category = pl.Series(attrs["category"])
        international = NUMBER_TYPES.index("international")
        fixed = NUMBER_TYPES.index("fixed")
        hotline = NUMBER_CATEGORIES.index("hotline")
        frame = pl.DataFrame({"d": digits, "k": kind, "c": category})
        return frame.select(
            pl.when(pl.col("k") == international)
            .then(pl.lit("+") + pl.col("d"))
            .when((pl.col("k") == fixed) & (pl.col("c") != hotline))
            .then(pl.lit("0") + pl.col("d"))
            .otherwise(pl.col("d"))
            .alias("phone")
        ).to_series()

    @property
    def n_numbers(self) -> int:
        """How many numbers exist."""
        return self._n_numbers

    # -- accounts ------------------------------------------------------------------------------

    def add_accounts(self, n: int, banks: np.ndarray | None = None) -> np.ndarray:
        """Add ``n`` bank accounts (banks drawn by market share unless given); returns indices."""
        if banks is None:
            banks = self.draw_banks(n)
        self._account_banks.append(np.broadcast_to(np.asarray(banks, dtype=np.int64), n).copy())
        first = self._n_accounts
        self._n_accounts += n
        return np.arange(first, first + n, dtype=np.int64)

    def draw_banks(self, n: int) -> np.ndarray:
        """``n`` bank codes drawn by market share."""
        return self.rng.choice(len(BANKS), size=n, p=BANK_WEIGHTS / BANK_WEIGHTS.sum())

    def account_banks(self) -> np.ndarray:
        """The bank code (index into BANKS) of every account."""
        return np.concatenate(self._account_banks) if self._account_banks else np.empty(0, np.int64)

    def account_strings(self) -> pl.Series:
        """The id of every account: the bank's 4-digit prefix and 12 distinct digits."""
        banks = self.account_banks()
        body = self._unique_draw("account", banks.size, 9 * 10**11) + 10**11
        return (pl.Series(BANK_BINS[banks]).cast(pl.String) + pl.Series(body).cast(pl.String)).alias(
            "account"
        )

    # -- devices and cells ---------------------------------------------------------------------

    def add_devices(self, n: int, kind: str = "phone") -> np.ndarray:
        """Add ``n`` devices (``phone`` IMEIs, ``pc`` browsers, ``simbox`` gateways)."""
        self._device_kinds.append(np.full(n, ("phone", "pc", "simbox").index(kind), dtype=np.int8))
        first = self._n_devices
        self._n_devices += n
        return np.arange(first, first + n, dtype=np.int64)

    def device_strings(self) -> pl.Series:
        """The id of every device: 15-digit IMEIs for phones and SIM-boxes, ``pc…`` for browsers."""
        kinds = np.concatenate(self._device_kinds)
        body = self._unique_draw("device", kinds.size, 9 * 10**12) + 10**12
        text = pl.Series(body).cast(pl.String)
        prefix = pl.Series(np.array(["86", "pc", "35"])[kinds])
        return (prefix + text).alias("device")

    def cell_strings(self) -> pl.Series:
        """The id of every cell: district index and cell number (``C03-0017``)."""
        per = self.cells_per_district
        idx = np.arange(len(DISTRICTS) * per)
        return pl.Series(
            [f"C{d:02d}-{c:04d}" for d, c in zip(idx // per, idx % per, strict=True)], dtype=pl.String
        )

    def cells_for(self, district: np.ndarray) -> np.ndarray:
        """A random cell of each given district."""
        return np.asarray(district) * self.cells_per_district + self.rng.integers(
            0, self.cells_per_district, size=np.shape(district)
        )


AGE_INDEX = {band: i for i, band in enumerate(AGE_BANDS)}
"""Age band → code."""
