"""``fraud-brain simulate``: generate a scam world (records plus ground truth) into a folder."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer


class Preset(str, Enum):
    """Named simulator sizes."""

    sample = "sample"
    small = "small"
    drift = "drift"
    bench = "bench"


class WorldKind(str, Enum):
    """Which world to simulate."""

    telecom = "telecom"
    card = "card"


class Format(str, Enum):
    """Output file formats."""

    parquet = "parquet"
    csv = "csv"
    jsonl = "jsonl"


def simulate_command(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder to write calls/transfers/subscribers/labels and truth_* files."
    ),
    world_kind: WorldKind = typer.Option(
        WorldKind.telecom,
        "--world",
        help="telecom (calls and transfers with scam rings) or card (card payments at terminals, "
        "read by the bundled card feature spec: card_tx, fraud_reports, labels files).",
    ),
    preset: Preset = typer.Option(
        Preset.sample,
        help="sample (demo, a few MB), small (~30 days, 20k subscribers), drift (28 days, 20k "
        "subscribers, rings move to chat apps on day 19) or bench (~1M records). Card world: "
        "sample (1,000 customers, 61 days), small (5,000 customers, 92 days) or bench.",
    ),
    seed: int | None = typer.Option(
        None, help="Random seed (default: the preset's, 7). Same seed, same world."
    ),
    days: int | None = typer.Option(None, min=1, help="Days to simulate (default: the preset's)."),
    subscribers: int | None = typer.Option(
        None, min=50, help="Number of resident subscribers (default: the preset's)."
    ),
    customers: int | None = typer.Option(None, min=1, help="Card world: number of card holders."),
    terminals: int | None = typer.Option(None, min=1, help="Card world: number of payment terminals."),
    fmt: Format = typer.Option(Format.parquet, "--format", "-f", help="Output file format."),
    no_drift: bool = typer.Option(False, "--no-drift", help="Keep scam tactics fixed over the whole window."),
    drift_day: int | None = typer.Option(
        None, min=0, help="Day (0-based) on which ring tactics change (default: the preset's, or the midpoint)."
    ),
    drift_strength: float | None = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="Share of episodes after the drift day run over chat apps: no call to the victim, "
        "late-night payments to rented accounts (default: the preset's; 0 for all but drift).",
    ),
) -> None:
    """Simulate a city's calls and transfers with scam rings (or, with --world card, card payments
    with compromised terminals and cards), and write them with their ground truth."""
    import time
    from datetime import timedelta

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from fraud_brain.sim import SimConfig, simulate

    if world_kind is WorldKind.card:
        telecom_only = {"--subscribers": subscribers, "--drift-day": drift_day, "--drift-strength": drift_strength,
                        "--no-drift": no_drift or None}
        given = [name for name, value in telecom_only.items() if value is not None]
        if given:
            raise typer.BadParameter(f"{', '.join(given)} only apply to the telecom world", param_hint="--world")
        _simulate_cards(out, preset.value, seed, days, customers, terminals, fmt.value)
        return
    if customers is not None or terminals is not None:
        raise typer.BadParameter("--customers and --terminals only apply to --world card", param_hint="--world")
    overrides: dict[str, object] = {}
    if seed is not None:
        overrides["seed"] = seed
    if days is not None:
        overrides["days"] = days
    if subscribers is not None:
        overrides["n_subscribers"] = subscribers
    if no_drift:
        overrides["drift"] = False
    if drift_day is not None:
        overrides["drift_day"] = drift_day
    if drift_strength is not None:
        overrides["drift_strength"] = drift_strength
    try:
        config = SimConfig.preset(preset.value, **overrides)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None

    console = Console()
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("simulating", total=100)

        def report(stage: str, done: float) -> None:
            progress.update(task, description=stage, completed=90 * done)

        world = simulate(config, progress=report)
        progress.update(task, description="writing files", completed=90)
        paths = world.write(out, fmt=fmt.value)
        progress.update(task, completed=100)
    elapsed = time.perf_counter() - started

    table = Table(
        title=f"Simulated world → {out}  (preset {preset.value}, seed {config.seed}, "
        f"{config.n_subscribers:,} subscribers, {config.days} days from {config.start})"
    )
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("size", justify="right")
    table.add_column("note")
    notes = _notes(world)
    for path in paths:
        name = path.stem
        table.add_row(
            path.name,
            f"{world.frames()[name].height:,}",
            f"{path.stat().st_size / 1e6:.2f} MB",
            notes.get(name, ""),
        )
    console.print(table)
    if config.drift and config.drift_start_day < config.days:
        drift_date = config.start + timedelta(days=config.drift_start_day)
        console.print(
            f"Ring tactics change on {drift_date} (day {config.drift_start_day}, "
            f"{config.drift_strength:.0%} of later episodes over chat apps); "
            f"compare before and after with: fraud-brain evaluate --data {out} --drift-day {drift_date}",
            highlight=False,
        )
    console.print(
        f"{world.n_records:,} call and transfer records in {elapsed:.1f} s "
        f"({world.n_records / max(elapsed, 1e-9):,.0f} records/s including writing)"
    )


def _simulate_cards(
    out: Path, preset: str, seed: int | None, days: int | None, customers: int | None, terminals: int | None, fmt: str
) -> None:
    """``simulate --world card``: a card-payment world, its files and its fraud prevalence."""
    import time

    from rich.console import Console
    from rich.table import Table

    from fraud_brain.errors import InputError
    from fraud_brain.sim.cards import CardConfig, simulate_cards

    overrides: dict[str, object] = {
        name: value
        for name, value in (("seed", seed), ("days", days), ("n_customers", customers), ("n_terminals", terminals))
        if value is not None
    }
    try:
        config = CardConfig.preset(preset, **overrides)
    except InputError as error:
        raise typer.BadParameter(str(error), param_hint="--preset") from None
    console = Console()
    started = time.perf_counter()
    world = simulate_cards(config)
    paths = world.write(out, fmt=fmt)
    elapsed = time.perf_counter() - started
    scenarios = world.scenario_counts()
    labels = world.labels.group_by("entity_type").len().sort("entity_type")
    frauds = int(world.truth_tx["is_fraud"].sum())
    notes = {
        "card_tx": f"{frauds:,} fraudulent ({world.prevalence:.2%}): "
        + ", ".join(f"{name} {count:,}" for name, count in scenarios.items()),
        "fraud_reports": f"{world.fraud_reports.height / max(frauds, 1):.0%} of frauds reported, "
        f"median {config.report_delay_days:g} days later",
        "labels": ", ".join(f"{row['entity_type']} {row['len']:,}" for row in labels.iter_rows(named=True)),
    }
    table = Table(
        title=f"Simulated card world → {out}  (preset {preset}, seed {config.seed}, {config.n_customers:,} "
        f"customers, {config.n_terminals:,} terminals, {config.days} days from {config.start})"
    )
    for column, justify in (("file", "left"), ("rows", "right"), ("size", "right"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    frames = world.frames()
    for path in paths:
        table.add_row(path.name, f"{frames[path.stem].height:,}", f"{path.stat().st_size / 1e6:.2f} MB",
                      notes.get(path.stem, ""))
    console.print(table)
    console.print(
        f"Fraud prevalence {world.prevalence:.3%} ({frauds:,} of {world.card_tx.height:,} payments); "
        f"train with: fraud-brain train --data {out} --spec card",
        highlight=False,
    )
    console.print(f"{world.card_tx.height:,} card payments in {elapsed:.1f} s")


def _notes(world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One line per frame: how much of it is scam, by typology."""
    import polars as pl

    calls = world.truth_calls
    transfers = world.truth_transfers
    episodes = world.truth_episodes.group_by("typology").len().sort("typology")
    per_typology = ", ".join(f"{row['typology']} {row['len']}" for row in episodes.iter_rows(named=True))
    labels = world.labels
    return {
        "calls": f"{calls['is_scam'].sum():,} scam calls ({calls['is_scam'].mean():.1%})",
        "transfers": f"{transfers['is_scam'].sum():,} scam transfers "
        f"({transfers.filter(pl.col('kind') == 'victim').height:,} paid by victims)",
        "labels": f"{labels['is_fraud'].sum():,} fraud, {(~labels['is_fraud']).sum():,} cleared",
        "truth_episodes": f"episodes: {per_typology}",
        "truth_entities": ", ".join(
            f"{r['role']} {r['len']}"
            for r in world.truth_entities.group_by("role").len().sort("role").iter_rows(named=True)
        ),
    }


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command."""
    app.command("simulate")(simulate_command)
