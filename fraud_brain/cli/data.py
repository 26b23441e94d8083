"""``fraud-brain data``: look at and check record files."""

from __future__ import annotations

from pathlib import Path

import typer

data_app = typer.Typer(help="Inspect and validate record files (CSV, JSON lines, Parquet).", no_args_is_help=True)


@data_app.command("summary")
def summary(directory: Path = typer.Argument(..., help="Folder holding calls/transfers/subscribers/labels files.")) -> None:
    """Print a summary of every record file in a data folder."""
    from fraud_brain.cli.render import print_summary
    from fraud_brain.io import load_folder
    from fraud_brain.report.summary import summarize

    print_summary(summarize(load_folder(directory)), title=f"Data in {directory}")


@data_app.command("validate")
def validate_file(
    path: Path = typer.Argument(..., help="A record file (.csv, .jsonl or .parquet)."),
    kind: str = typer.Option(..., "--kind", "-k", help="call, transfer, subscriber or label."),
    dead_letters: Path | None = typer.Option(None, help="Folder of the dead-letter store for bad records."),
    out: Path | None = typer.Option(None, help="Write the valid records here (format by suffix)."),
) -> None:
    """Validate a record file: print every bad record's reasons; exit 1 if any."""
    from rich.console import Console

    from fraud_brain.io import DeadLetterStore, read_records, write_frame

    console = Console()
    result = read_records(path, kind)
    for message in result.messages()[:50]:
        console.print(f"[red]✗[/red] {message}", highlight=False)
    if result.errors.height > 50:
        console.print(f"… and {result.errors.height - 50} more problems")
    if dead_letters is not None:
        stored = DeadLetterStore(dead_letters).put(result, source=str(path))
        console.print(f"{stored} bad record(s) stored in {dead_letters}")
    if out is not None:
        write_frame(result.valid, out)
    console.print(f"{result.valid.height:,} valid, {result.rejected.height:,} rejected")
    raise typer.Exit(0 if result.ok else 1)


@data_app.command("schema")
def schema(kind: str | None = typer.Argument(None, help="call, transfer, subscriber or label (default: all).")) -> None:
    """Print the record schemas as Markdown tables (as in the README)."""
    from fraud_brain.report.schema_doc import schema_markdown
    from fraud_brain.schema import SCHEMAS, schema_for

    kinds = [schema_for(kind).kind] if kind else list(SCHEMAS)
    for name in kinds:
        typer.echo(f"### {name}\n\n{schema_markdown(name)}\n")


def register(app: typer.Typer) -> None:
    """Add the ``data`` commands."""
    app.add_typer(data_app, name="data")
