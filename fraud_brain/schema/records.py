"""Record schemas: the typed shape of every feed that enters fraud_brain.

Each kind of record (call, transfer, subscriber, label) is a :class:`RecordSchema`: an
ordered list of :class:`Field` objects with a polars dtype and declarative checks (range,
allowed values, pattern). Validation (:mod:`fraud_brain.schema.validate`) reads these
checks; nothing else in the engine needs to know field rules.

Times are timezone-aware UTC (``pl.Datetime("ms", "UTC")``); the local time zone used for
hour-of-day features is a setting of the feature spec, not of the data.

>>> CALLS.column_names()[:4]
['call_id', 'start_time', 'caller', 'callee']
>>> CALLS.polars_schema()["duration_s"]
Int32
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType
from fraud_brain.errors import InputError

TIME = pl.Datetime("ms", "UTC")
"""The dtype of every event-time column."""

DISPOSITIONS = ("answered", "no_answer", "busy", "rejected", "failed")
NUMBER_TYPES = ("mobile", "fixed", "voip", "international")
CHANNELS = ("mobile_app", "online_banking", "third_party_pay", "atm", "counter")
AGE_BANDS = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
LABEL_ENTITIES = ("transfer", "number", "account")
LABEL_SOURCES = ("victim_report", "agent", "bank", "police", "telecom")
TYPOLOGIES = (
    "order_brushing",
    "fake_investment",
    "fake_loan",
    "fake_customer_service",
    "impersonating_police",
    "wangiri",
    "simbox",
    "other",
)

PHONE_PATTERN = r"^\+?[0-9]{3,20}$"
"""Phone numbers: digits with an optional leading ``+`` (E.164 or national form)."""
ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
"""Record ids and account ids: 1-64 characters of letters, digits and ``_.:-``."""


@dataclass(frozen=True)
class Field:
    """One column of a record, with the checks validation applies to it.

    >>> Field("amount", pl.Float64, gt=0).describe()
    'amount: Float64, required, > 0'
    """

    name: str
    dtype: PolarsDataType
    required: bool = True
    """A required field must be present as a column and non-null in every record."""
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    pattern: str | None = None
    description: str = ""

    def describe(self) -> str:
        """A one-line summary of the field and its checks."""
        head = [f"{self.name}: {self.dtype}", "required" if self.required else "optional"]
        return ", ".join(head + self.checks())

    def checks(self, code: str = "") -> list[str]:
        """The field's checks in words; ``code`` wraps values (e.g. a backtick for Markdown).

        >>> Field("channel", pl.Enum(["atm", "counter"])).checks(code="`")
        ['one of `atm`/`counter`']
        """
        parts = []
        if self.gt is not None:
            parts.append(f"> {self.gt:g}")
        if self.ge is not None:
            parts.append(f">= {self.ge:g}")
        if self.le is not None:
            parts.append(f"<= {self.le:g}")
        if isinstance(self.dtype, pl.Enum):
            parts.append("one of " + "/".join(f"{code}{c}{code}" for c in self.dtype.categories.to_list()))
        if self.pattern is not None:
            parts.append(f"matches {code}{self.pattern}{code}")
        return parts


@dataclass(frozen=True)
class RecordSchema:
    """The schema of one kind of record.

    >>> TRANSFERS.id_field, TRANSFERS.time_field
    ('transfer_id', 'time')
    """

    kind: str
    """The record kind: a built-in one (call, transfer, subscriber, label) or one a feature spec declares."""
    fields: tuple[Field, ...]
    id_field: str
    time_field: str | None
    description: str = ""
    _by_name: dict[str, Field] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    def column_names(self) -> list[str]:
        """The column names, in schema order."""
        return [f.name for f in self.fields]

    def polars_schema(self) -> pl.Schema:
        """The polars schema of a validated frame of these records."""
        return pl.Schema({f.name: f.dtype for f in self.fields})

    def __getitem__(self, name: str) -> Field:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def empty(self) -> pl.DataFrame:
        """An empty, correctly typed frame of these records.

        >>> CALLS.empty().height
        0
        """
        return pl.DataFrame(schema=self.polars_schema())


CALLS = RecordSchema(
    kind="call",
    id_field="call_id",
    time_field="start_time",
    description="A call detail record (CDR) from a telecom operator, one per call attempt.",
    fields=(
        Field("call_id", pl.String, pattern=ID_PATTERN, description="unique id of the call record"),
        Field("start_time", TIME, description="when the call was set up (UTC)"),
        Field("caller", pl.String, pattern=PHONE_PATTERN, description="calling number"),
        Field("callee", pl.String, pattern=PHONE_PATTERN, description="called number"),
        Field("duration_s", pl.Int32, ge=0, le=86_400, description="talk time in seconds, 0 if not answered"),
        Field("disposition", pl.Enum(DISPOSITIONS), description="how the call ended"),
        Field("caller_type", pl.Enum(NUMBER_TYPES), description="kind of calling number"),
        Field("device_id", pl.String, required=False, description="IMEI of the calling device"),
        Field("cell_id", pl.String, required=False, description="serving cell of the caller"),
        Field("region", pl.String, required=False, description="region (city/district) of the caller"),
        Field("sim_age_days", pl.Int32, required=False, ge=0, description="days since the calling SIM was activated"),
    ),
)

TRANSFERS = RecordSchema(
    kind="transfer",
    id_field="transfer_id",
    time_field="time",
    description="A money transfer reported by a bank or payment firm.",
    fields=(
        Field("transfer_id", pl.String, pattern=ID_PATTERN, description="unique id of the transfer"),
        Field("time", TIME, description="when the transfer was submitted (UTC)"),
        Field("payer_account", pl.String, pattern=ID_PATTERN, description="account the money leaves"),
        Field("payer_phone", pl.String, required=False, pattern=PHONE_PATTERN,
              description="payer's registered phone number"),
        Field("payee_account", pl.String, pattern=ID_PATTERN, description="account the money goes to"),
        Field("payee_bank", pl.String, description="bank (or payment firm) holding the payee account"),
        Field("amount", pl.Float64, gt=0, le=1e10, description="amount in yuan"),
        Field("channel", pl.Enum(CHANNELS), description="channel the transfer was made through"),
        Field("device_id", pl.String, required=False, description="device the transfer was made from"),
    ),
)

SUBSCRIBERS = RecordSchema(
    kind="subscriber",
    id_field="phone",
    time_field=None,
    description="Reference data: one row per known phone number.",
    fields=(
        Field("phone", pl.String, pattern=PHONE_PATTERN, description="the phone number"),
        Field("age_band", pl.Enum(AGE_BANDS), required=False, description="age band of the subscriber"),
        Field("district", pl.String, required=False, description="home district (for the community officer)"),
        Field("activation_date", pl.Date, required=False, description="when the SIM was activated"),
        Field("account", pl.String, required=False, pattern=ID_PATTERN,
              description="the subscriber's main bank account"),
    ),
)

LABELS = RecordSchema(
    kind="label",
    id_field="label_id",
    time_field="known_at",
    description="A confirmed outcome: a scam transfer, a fraud number, a mule account, or a cleared one.",
    fields=(
        Field("label_id", pl.String, pattern=ID_PATTERN, description="unique id of the label"),
        Field("entity_type", pl.Enum(LABEL_ENTITIES), description="what is labelled"),
        Field("entity_id", pl.String, description="transfer id, phone number or account id"),
        Field("is_fraud", pl.Boolean, description="true: confirmed fraud; false: confirmed legitimate"),
        Field("typology", pl.Enum(TYPOLOGIES), required=False, description="scam type where known"),
        Field("known_at", TIME, description="when the label became known (UTC)"),
        Field("source", pl.Enum(LABEL_SOURCES), description="who confirmed it"),
    ),
)

SCHEMAS: dict[str, RecordSchema] = {s.kind: s for s in (CALLS, TRANSFERS, SUBSCRIBERS, LABELS)}
"""Every record schema by kind."""


def schema_for(kind: str) -> RecordSchema:
    """The schema of a kind of record, with a readable error for an unknown kind.

    >>> schema_for("call").kind
    'call'
    """
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise InputError(f"unknown record kind {kind!r}; expected one of {sorted(SCHEMAS)}") from None
