"""``fraud-brain features``: check feature specs and replay history into training features."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from fraud_brain.features import Spec

features_app = typer.Typer(help="Feature specs and the streaming feature engine.", no_args_is_help=True)

SPEC_HELP = "A spec file (.toml) or the name of a bundled spec (telecom, card)."


def _load(spec: str) -> Spec:
    from fraud_brain.features import SpecError, resolve_spec

    try:
        return resolve_spec(spec)
    except SpecError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


@features_app.command("check")
def check(
    spec: str = typer.Argument("telecom", help=SPEC_HELP),
    data: Path | None = typer.Option(
        None, "--data", help="A record file or a folder of them: every column the spec names must be in it."),
    data_stream: str | None = typer.Option(None, "--stream",
                                           help="The stream a --data file holds (default: by its name)."),
) -> None:
    """Validate a spec and list every feature it emits, by stream and group, with state size per key."""
    from rich.console import Console
    from rich.table import Table

    from fraud_brain.errors import InputError
    from fraud_brain.features import kernel as K
    from fraud_brain.features.check import check_data
    from fraud_brain.features.plan import build_plan

    loaded = _load(spec)
    plan = build_plan(loaded)
    console = Console()
    if data is not None:
        try:
            found = check_data(loaded, data, data_stream)
        except InputError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        for problem in found.problems:
            typer.echo(f"error: {problem}", err=True)
        if not found.ok:
            raise typer.Exit(2)
        for name, path in found.files.items():
            typer.echo(f"✓ {name}: {path} has every column the spec names")
    for stream in loaded.stream_names():
        table = Table(title=f"stream {stream}: features")
        table.add_column("feature")
        table.add_column("group")
        for output in loaded.outputs(stream):
            if output.emit:
                table.add_row(output.name, output.group)
        if table.row_count:
            console.print(table)
    sizes = Table(title="state per key")
    sizes.add_column("entity")
    sizes.add_column("bytes/key", justify="right")
    for name, layout in plan.entity_layouts.items():
        sizes.add_row(name, str(8 * (layout.float_cols + layout.int_cols) + 32))
    console.print(sizes)
    if any(row[K.I_WIN] in (K.EXACT, K.PEND) for row in plan.instructions.tolist()):
        console.print("plus 24 B per event kept by an exact or delayed lifetime window (its width and delay)")
    console.print(f"[green]✓[/green] {loaded.source}: {sum(len(loaded.feature_groups(s)) for s in loaded.streams)} "
                  f"features over {len(loaded.streams)} stream(s)")


@features_app.command("replay")
def replay_command(
    data_dir: Path = typer.Argument(..., help="Folder of record files (calls, transfers, labels, subscribers, ...)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for <stream>_features.parquet files."),
    spec: str = typer.Option("telecom", "--spec", "-s", help=SPEC_HELP),
    batch_size: int = typer.Option(100_000, help="Events per micro-batch (features do not depend on it)."),
) -> None:
    """Replay history through the streaming engine and write the feature frame of every event."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from fraud_brain.features import replay
    from fraud_brain.features.replay import Source
    from fraud_brain.io.files import DEFAULT_FILE_NAMES, find_record_file, load_kind

    loaded = _load(spec)
    console = Console()
    default_names = {"call": "calls", "transfer": "transfers", "label": "labels", "subscriber": "subscribers"}
    sources: dict[str, Source] = {}
    for stream, meta in loaded.streams.items():
        if meta.schema is not None:
            schema = loaded.record_schema(meta.schema)
            frame = load_kind(data_dir, schema)
            if frame is None and meta.schema not in DEFAULT_FILE_NAMES:
                frame = load_kind(data_dir, schema, stream)
            if frame is not None:
                sources[stream] = frame
        else:
            path = find_record_file(data_dir, stream) or find_record_file(data_dir, stream + "s")
            if path is not None:
                sources[stream] = path
    if not sources:
        typer.echo(f"error: {data_dir}: no record files for the streams {loaded.stream_names()} of {loaded.source}",
                   err=True)
        raise typer.Exit(2)
    reference: dict[str, Source] = {}
    for join in loaded.joins:
        path = find_record_file(data_dir, join.table)
        if path is None:
            typer.echo(f"error: {data_dir}: reference table {join.table!r} (needed by {loaded.source}) not found",
                       err=True)
            raise typer.Exit(2)
        kind = next((k for k, v in default_names.items() if v == join.table), None)
        table = load_kind(data_dir, kind) if kind else None
        reference[join.table] = path if table is None else table
    started = time.perf_counter()
    with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        task = progress.add_task("replay", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = replay(loaded, sources, batch_size=batch_size, reference=reference, progress=tick)
        except ValueError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
    seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    events = 0
    for stream, frame in result.items():
        frame.write_parquet(out / f"{stream}_features.parquet")
        events += frame.height
        target = out / f"{stream}_features.parquet"
        console.print(f"{stream}: {frame.height:,} events × {frame.width - 2} columns → {target}")
    console.print(f"{events:,} events in {seconds:.1f} s ({events / max(seconds, 1e-9):,.0f} events/s, incl. reading)")


def register(app: typer.Typer) -> None:
    """Add the ``features`` commands."""
    app.add_typer(features_app, name="features")
