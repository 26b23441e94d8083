"""``fraud-brain features``: check feature specs and replay history into training features."""

from __future__ import annotations

from pathlib import Path

import typer

features_app = typer.Typer(help="Feature specs and the streaming feature engine.", no_args_is_help=True)

SPEC_HELP = "A spec file (.toml) or the name of a bundled spec (telecom, card)."


def _load(spec: str):  # type: ignore[no-untyped-def]
    from fraud_brain.features import SpecError, resolve_spec

    try:
        return resolve_spec(spec)
    except SpecError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


@features_app.command("check")
def check(spec: str = typer.Argument("telecom", help=SPEC_HELP)) -> None:
    """Validate a spec and list every feature it emits, by stream and group, with state size per key."""
    from rich.console import Console
    from rich.table import Table

    loaded = _load(spec)
    from fraud_brain.features.plan import build_plan

    plan = build_plan(loaded)
    console = Console()
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
    from fraud_brain.io.files import DEFAULT_FILE_NAMES, find_record_file, load_kind

    loaded = _load(spec)
    console = Console()
    default_names = {"call": "calls", "transfer": "transfers", "label": "labels", "subscriber": "subscribers"}
    sources = {}
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
    reference = {}
    for join in loaded.joins:
        path = find_record_file(data_dir, join.table)
        if path is None:
            typer.echo(f"error: {data_dir}: reference table {join.table!r} (needed by {loaded.source}) not found",
                       err=True)
            raise typer.Exit(2)
        kind = next((k for k, v in default_names.items() if v == join.table), None)
        reference[join.table] = load_kind(data_dir, kind) if kind else path
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
        console.print(f"{stream}: {frame.height:,} events × {frame.width - 2} columns → {out / f'{stream}_features.parquet'}")
    console.print(f"{events:,} events in {seconds:.1f} s ({events / max(seconds, 1e-9):,.0f} events/s, incl. reading)")


def register(app: typer.Typer) -> None:
    """Add the ``features`` commands."""
    app.add_typer(features_app, name="features")
