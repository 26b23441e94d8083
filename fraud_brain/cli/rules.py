"""``fraud-brain backtest`` and ``fraud-brain rules check``: try rule files before they go live."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import polars as pl

rules_app = typer.Typer(help="Validate and inspect rule files.", no_args_is_help=True)


def _schemas_of(frames: list[pl.DataFrame]) -> dict[str, pl.Schema]:
    """Scored-frame schemas per event type of telecom scored frames (told by their id column)."""
    from fraud_brain.schema import schema_for

    schemas: dict[str, pl.Schema] = {}
    for frame in frames:
        for event in ("call", "transfer"):
            if schema_for(event).id_field in frame.columns:
                schemas.setdefault(event, frame.schema)
    return schemas


def _scored_schemas(scored: Path | None, spec: str = "telecom") -> dict[str, pl.Schema]:
    """Scored-frame schemas per event type: from scored Parquet data, else what the spec's scored streams make."""
    from fraud_brain.rules.backtest import load_scored
    from fraud_brain.rules.defaults import spec_scored_schemas

    if scored is None:
        return spec_scored_schemas(spec)
    return _schemas_of(load_scored(scored))


@rules_app.command("check")
def check(
    rules_file: Path = typer.Argument(..., help="The TOML rule file to validate."),
    scored: Path | None = typer.Option(
        None, "--scored", help="Scored Parquet file or folder whose columns the rules must use "
                               "(default: the columns the spec's scored streams make).",
    ),
    spec: str = typer.Option("telecom", help="Feature spec the rules watch: a bundled name (telecom, card) or a "
                                             ".toml file; its scored streams are the events, its victims the victims."),
) -> None:
    """Validate a rule file: print every problem with file, rule and line; exit 1 if any (2 if there is no such
    file)."""
    from rich.console import Console
    from rich.table import Table

    from fraud_brain.features import resolve_spec
    from fraud_brain.rules import RuleFileError, RuleSet, event_facts
    from fraud_brain.rules.vocabulary import format_duration

    console = Console()
    events = event_facts(resolve_spec(spec))
    try:
        rules = RuleSet.load(rules_file, _scored_schemas(scored, spec), events)
    except RuleFileError as error:
        for problem in error.problems:
            console.print(f"[red]✗[/red] {problem}", highlight=False)
        console.print(f"{len(error.problems)} problem(s) in {rules_file}")
        raise typer.Exit(1) from None
    table = Table(title=f"{rules_file}: {len(rules)} rule(s) OK (version {rules.version})")
    for column in ("rule", "event", "mode", "priority", "tier", "actions", "victim", "cooldown"):
        table.add_column(column)
    for rule in sorted(rules.rules, key=lambda r: (r.event, -r.priority)):
        table.add_row(rule.name, rule.event, rule.mode, str(rule.priority), rule.tier, ", ".join(rule.actions),
                      " → ".join(rule.victims),
                      f"{format_duration(rule.cooldown_ms)} per {rule.cooldown_key or 'victim'}")
    console.print(table)


def backtest_command(
    rules_file: Path = typer.Argument(..., help="The TOML rule file to backtest."),
    data: Path = typer.Argument(..., help="History: a data folder of raw records (replayed and scored by the "
                                          "champion models) or scored Parquet frames."),
    labels: Path | None = typer.Option(
        None, help="Labels file (default: DATA/labels.parquet or .csv/.jsonl when present)."
    ),
    truth: Path | None = typer.Option(
        None, help="Ground truth (event_id/transfer_id/call_id + is_fraud/is_scam); default: DATA/truth*.parquet."
    ),
    window: str = typer.Option("24h", help="A firing protects the victim's scam transfers this long after it."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON here."),
    models: Path | None = typer.Option(None, "--models-dir", help="Model registry scoring a folder of raw records "
                                                                 "(default: the bundled registry, as run and serve)."),
) -> None:
    """Replay scored history through RULES and print per rule: hits, precision, money protected, alerts/day."""
    import orjson
    import polars as pl
    from rich.console import Console
    from rich.progress import Progress

    from fraud_brain.cli.paths import make_folder, require_files
    from fraud_brain.cli.scoring import models_dir
    from fraud_brain.io import read_frame
    from fraud_brain.pipeline.batch import raw_history_source
    from fraud_brain.rules import RuleSet
    from fraud_brain.rules.backtest import backtest, load_scored
    from fraud_brain.rules.vocabulary import parse_duration

    # Mistakes in the arguments fail now, not after a replay of the whole history.
    require_files({"RULES_FILE": rules_file, "--labels": labels, "--truth": truth})
    parse_duration(window)
    if json_out is not None:
        make_folder("--json", json_out.parent)
    registry = models_dir(models)
    console = Console()
    # A folder of raw records is replayed and scored by the champion models first.
    frames = raw_history_source(data, registry)
    if frames is None:
        frames = load_scored(data)
    rules = RuleSet.load(rules_file, _schemas_of(frames))
    if labels is None and data.is_dir():
        candidates = (data / "labels.parquet", data / "labels.csv", data / "labels.jsonl")
        labels = next((p for p in candidates if p.exists()), None)
    truth_files = [truth] if truth is not None else (
        sorted(p for p in data.glob("truth*.parquet") if p.stem in ("truth", "truth_transfers", "truth_calls"))
        if data.is_dir() else [])
    label_frame = read_frame(labels, "label") if labels is not None else None
    truth_frame = [pl.read_parquet(p) for p in truth_files] or None
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("backtesting", total=len(frames))

        def counted():
            for frame in frames:
                yield frame
                progress.advance(task)

        report = backtest(rules, counted(), labels=label_frame, truth=truth_frame, protect_window=window)
    console.print(report.rich_table())
    if json_out is not None:
        json_out.write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))


def register(app: typer.Typer) -> None:
    """Add ``backtest`` and the ``rules`` commands."""
    app.command("backtest")(backtest_command)
    app.add_typer(rules_app, name="rules")
