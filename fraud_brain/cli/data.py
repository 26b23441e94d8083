"""``fraud-brain data``: look at and check record files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

data_app = typer.Typer(help="Inspect and validate record files (CSV, JSON lines, Parquet).", no_args_is_help=True)

SPEC_HELP = "Feature spec (a bundled name such as card, or a .toml file) whose declared record kinds to know too."


def _records(spec: str | None) -> dict[str, Any]:
    """The record kinds known: the built-in ones, plus those ``spec`` declares."""
    from fraud_brain.schema import SCHEMAS

    if spec is None:
        return dict(SCHEMAS)
    from fraud_brain.features import resolve_spec

    return dict(resolve_spec(spec).records)


def _schema(kind: str, spec: str | None) -> Any:
    """A record kind's schema, or an :class:`InputError` listing the kinds known."""
    from fraud_brain.errors import InputError

    records = _records(spec)
    if kind not in records:
        hint = "" if spec is not None else " (a kind a feature spec declares needs --spec)"
        raise InputError(f"unknown record kind {kind!r}; expected one of {', '.join(sorted(records))}{hint}")
    return records[kind]


@data_app.command("summary")
def summary(
    directory: Path = typer.Argument(..., help="Folder holding calls/transfers/subscribers/labels files."),
    spec: str | None = typer.Option(None, "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Print a summary of every record file in a data folder."""
    from fraud_brain.cli.render import print_summary
    from fraud_brain.errors import InputError, MissingInputError
    from fraud_brain.io import load_folder
    from fraud_brain.report.summary import summarize

    if spec is None:
        try:
            frames = load_folder(directory)
        except MissingInputError:
            raise
        except InputError as error:
            # e.g. a card world's labels name entity types only its spec knows
            raise InputError(
                f"{error}\nrecords of the kinds a feature spec declares need --spec (e.g. --spec card)"
            ) from None
        print_summary(summarize(frames), title=f"Data in {directory}")
        return
    from fraud_brain.features import resolve_spec
    from fraud_brain.io.files import DEFAULT_FILE_NAMES, load_kind

    loaded = resolve_spec(spec)
    if not directory.is_dir():
        raise MissingInputError(f"data folder {directory} does not exist")
    frames = {}
    for kind, schema in loaded.records.items():
        frame = load_kind(directory, schema)
        if frame is None and kind not in DEFAULT_FILE_NAMES:
            for stream in (name for name, meta in loaded.streams.items() if meta.schema == kind):
                frame = load_kind(directory, schema, stream)
                if frame is not None:
                    break
        if frame is not None:
            frames[kind] = frame
    if not frames:
        raise MissingInputError(
            f"{directory}: no record files of spec {loaded.name!r} (kinds {', '.join(loaded.records)}; "
            "a kind K is read from K.parquet/.csv/.jsonl or Ks.*)"
        )
    print_summary(summarize(frames, loaded.records), title=f"Data in {directory} (spec {loaded.name})")


@data_app.command("validate")
def validate_file(
    path: Path = typer.Argument(..., help="A record file (.csv, .jsonl or .parquet)."),
    kind: str = typer.Option(..., "--kind", "-k", help="call, transfer, subscriber, label, or a kind --spec declares."),
    spec: str | None = typer.Option(None, "--spec", "-s", help=SPEC_HELP),
    dead_letters: Path | None = typer.Option(None, help="Folder of the dead-letter store for bad records."),
    out: Path | None = typer.Option(None, help="Write the valid records here (format by suffix)."),
) -> None:
    """Validate a record file: print every bad record's reasons; exit 1 if any."""
    from rich.console import Console

    from fraud_brain.errors import MissingInputError
    from fraud_brain.io import DeadLetterStore, read_records, write_frame

    schema = _schema(kind, spec)
    if not path.is_file():
        raise MissingInputError(f"record file {path} does not exist")
    console = Console()
    result = read_records(path, schema)
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
def schema(
    kind: str | None = typer.Argument(
        None, help="call, transfer, subscriber, label, or a kind --spec declares (default: all)."
    ),
    spec: str | None = typer.Option(None, "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Print the record schemas as Markdown tables (as in the README)."""
    from fraud_brain.report.schema_doc import schema_markdown

    schemas = [_schema(kind, spec)] if kind else list(_records(spec).values())
    for item in schemas:
        typer.echo(f"### {item.kind}\n\n{schema_markdown(item if spec is not None else item.kind)}\n")


def register(app: typer.Typer) -> None:
    """Add the ``data`` commands."""
    app.add_typer(data_app, name="data")
