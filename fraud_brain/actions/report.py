"""Report helpers: cases by typology and rule, actions by kind and outcome, money protected,
time from decision to first contact.

>>> from fraud_brain.store import SQLiteRepository
>>> summary = summarize(SQLiteRepository(":memory:"))
>>> summary.money_protected, summary.cases
(0.0, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import polars as pl

from fraud_brain.store.base import Repository

if TYPE_CHECKING:
    from rich.table import Table


def cases_by(store: Repository, column: str) -> pl.DataFrame:
    """Number of cases per value of ``column`` (``typology``, ``rule``, ``tier``, ``resolution``, ``status``).

    >>> from fraud_brain.store import SQLiteRepository
    >>> cases_by(SQLiteRepository(":memory:"), "typology").columns
    ['typology', 'cases']
    """
    allowed = ("typology", "rule", "tier", "resolution", "status")
    if column not in allowed:
        raise ValueError(f"cannot group cases by {column!r}; expected one of {list(allowed)}")
    cases = store.table("cases")
    if cases.height == 0:
        return pl.DataFrame(schema={column: pl.String, "cases": pl.UInt32})
    return (
        cases.group_by(column)
        .agg(pl.len().alias("cases"))
        .sort(["cases", column], descending=[True, False], nulls_last=True)
    )


def actions_by_kind_outcome(store: Repository) -> pl.DataFrame:
    """Number of actions per kind, outbox status and outcome.

    >>> from fraud_brain.store import SQLiteRepository
    >>> actions_by_kind_outcome(SQLiteRepository(":memory:")).columns
    ['kind', 'status', 'outcome', 'actions']
    """
    actions = store.table("actions")
    if actions.height == 0:
        return pl.DataFrame(
            schema={"kind": pl.String, "status": pl.String, "outcome": pl.String, "actions": pl.UInt32}
        )
    return (
        actions.group_by(["kind", "status", "outcome"])
        .agg(pl.len().alias("actions"))
        # group_by gives groups in no fixed order: status and outcome break ties, so reports repeat
        .sort(["kind", "actions", "status", "outcome"], descending=[False, True, False, False], nulls_last=True)
    )


def money_protected(store: Repository) -> float:
    """Yuan frozen by stop-payments (held for 48 h by the receiving banks).

    >>> from fraud_brain.store import SQLiteRepository
    >>> money_protected(SQLiteRepository(":memory:"))
    0.0
    """
    outcomes = store.table("outcomes")
    if outcomes.height == 0:
        return 0.0
    held = outcomes.filter(pl.col("source") == "stop_payment")["amount_held"].cast(pl.Float64).sum()
    return float(held or 0.0)


def time_to_first_contact(store: Repository) -> pl.DataFrame:
    """Minutes from a case's first decision to the first time the victim was reached (bot answered
    or agent spoke to them), per case; cases never reached are left out.

    >>> from fraud_brain.store import SQLiteRepository
    >>> time_to_first_contact(SQLiteRepository(":memory:")).height
    0
    """
    cases = store.table("cases")
    if cases.height == 0 or "first_contact_at" not in cases.columns:
        return pl.DataFrame(schema={"case_id": pl.Int64, "minutes": pl.Float64})
    return cases.filter(pl.col("first_contact_at").is_not_null()).select(
        pl.col("case_id").cast(pl.Int64),
        ((pl.col("first_contact_at") - pl.col("opened_at")).dt.total_milliseconds() / 60_000).alias(
            "minutes"
        ),
    )


@dataclass(frozen=True)
class ActionsSummary:
    """The headline figures of the action workflow (see :func:`summarize` for an example)."""

    cases: int
    alerts: int
    by_typology: pl.DataFrame
    by_rule: pl.DataFrame
    by_resolution: pl.DataFrame
    actions: pl.DataFrame
    money_protected: float
    contacted: int
    contact_minutes_median: float | None
    contact_minutes_p90: float | None
    labels: int


def summarize(store: Repository) -> ActionsSummary:
    """Every report figure at once.

    >>> from fraud_brain.store import SQLiteRepository
    >>> summarize(SQLiteRepository(":memory:")).contact_minutes_median is None
    True
    """
    contact = time_to_first_contact(store)["minutes"]
    return ActionsSummary(
        cases=store.table("cases").height,
        alerts=store.table("alerts").height,
        by_typology=cases_by(store, "typology"),
        by_rule=cases_by(store, "rule"),
        by_resolution=cases_by(store, "resolution"),
        actions=actions_by_kind_outcome(store),
        money_protected=money_protected(store),
        contacted=contact.len(),
        contact_minutes_median=None if contact.len() == 0 else float(cast(float, contact.median())),
        contact_minutes_p90=None if contact.len() == 0 else float(cast(float, contact.quantile(0.9, "nearest"))),
        labels=store.table("labels").height,
    )


def frame_table(title: str, frame: pl.DataFrame) -> Table:
    """A frame as a rich table: numbers right-aligned, nulls as ``-``.

    >>> frame_table("t", pl.DataFrame({"a": [1, None]})).row_count
    2
    """
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(column, justify="right" if frame[column].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*["-" if v is None else str(v) for v in row])
    return table


def render(summary: ActionsSummary) -> list[Table]:
    """Rich renderables (tables) of a summary, for the command line.

    >>> from fraud_brain.store import SQLiteRepository
    >>> [t.title for t in render(summarize(SQLiteRepository(":memory:")))][:2]
    ['Actions workflow', 'Cases by typology']
    """
    from rich.table import Table

    head = Table(title="Actions workflow")
    head.add_column("figure")
    head.add_column("value", justify="right")
    median = "-" if summary.contact_minutes_median is None else f"{summary.contact_minutes_median:.1f}"
    p90 = "-" if summary.contact_minutes_p90 is None else f"{summary.contact_minutes_p90:.1f}"
    for name, value in (
        ("alerts", f"{summary.alerts:,}"),
        ("cases", f"{summary.cases:,}"),
        ("money protected (yuan held)", f"{summary.money_protected:,.2f}"),
        ("cases with the victim reached", f"{summary.contacted:,}"),
        ("minutes to first contact, median", median),
        ("minutes to first contact, p90", p90),
        ("labels from outcomes", f"{summary.labels:,}"),
    ):
        head.add_row(name, value)
    return [
        head,
        frame_table("Cases by typology", summary.by_typology),
        frame_table("Cases by rule", summary.by_rule),
        frame_table("Cases by resolution", summary.by_resolution),
        frame_table("Actions by kind and outcome", summary.actions),
    ]
