"""Rich rendering shared by the commands."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fraud_brain.report.summary import KindSummary


def print_summary(summaries: list[KindSummary], title: str, console: Console | None = None) -> None:
    """Print data summaries as one table."""
    console = console or Console()
    table = Table(title=title)
    for column in ("records", "count", "from", "to", "breakdown"):
        table.add_column(column, overflow="fold")
    for item in summaries:
        parts = [
            f"{name}: " + ", ".join(f"{k} {v:,}" for k, v in list(counts.items())[:6])
            for name, counts in item.breakdowns.items()
        ]
        parts += [f"{k}: {v}" for k, v in item.extra.items()]
        table.add_row(
            item.kind,
            f"{item.records:,}",
            f"{item.first:%Y-%m-%d %H:%M}" if item.first else "",
            f"{item.last:%Y-%m-%d %H:%M}" if item.last else "",
            "\n".join(parts),
        )
    console.print(table)
