"""``fraud-brain run``: the main job on a data folder."""

from __future__ import annotations

from pathlib import Path

import typer

CONFIG_HELP = "Configuration file (TOML; flags given here override it)."


def run(
    directory: Path | None = typer.Argument(None, help="Data folder (calls, transfers, subscribers, labels); "
                                                       "default: the sample data bundled with the package."),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    spec: str | None = typer.Option(None, help="Feature spec: a bundled name or a .toml file (default telecom)."),
    models: Path | None = typer.Option(None, "--models", "--models-dir",
                                       help="Model registry folder (champions are used; default: the bundled models)."),
    rules: Path | None = typer.Option(None, help="Rule file (default: the bundled rules)."),
    policy: Path | None = typer.Option(None, help="Escalation policy file (default: the bundled policy)."),
    subscribers: Path | None = typer.Option(
        None, help="Subscriber file for officers' districts (default: the folder's)."
    ),
    out: Path = typer.Option(Path("out/run"), help="Where the SQLite store and report.json are written."),
    seed: int | None = typer.Option(None, help="Seed of the embedded adapters' simulated outcomes (default 0)."),
) -> None:
    """Replay a data folder through features → models → rules → actions and print the report."""
    import orjson
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from fraud_brain import bundled
    from fraud_brain.cli.paths import make_folder, require_files, require_folder
    from fraud_brain.cli.render import print_summary
    from fraud_brain.io import load_folder
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig
    from fraud_brain.report.run import build_report, render
    from fraud_brain.report.summary import summarize

    if models is not None:
        require_folder("--models-dir", models)
    require_files({"--rules": rules, "--policy": policy, "--subscribers": subscribers, "--config": config})
    console = Console()
    directory = directory if directory is not None else bundled.sample_dir()
    settings = (AppConfig.load(config) if config else AppConfig()).with_overrides(
        spec=spec, models_dir=models, rules_path=rules, policy_path=policy, subscribers=subscribers, state_dir=out,
        seed=seed)
    assembly = Assembly(settings)
    print_summary(summarize(load_folder(directory)), title=f"Data in {directory}", console=console)
    make_folder("--out", out)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        tasks: dict[str, int] = {}

        def report_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = {"features": "replaying events", "actions": "running the action workflow"}[stage]
                tasks[stage] = progress.add_task(label, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        result = assembly.run(directory, progress=report_progress)
    report = build_report(result)
    for table in render(report):
        console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
    console.print(
        f"Cases, timelines and the outbox are in {out / 'brain.sqlite'}; the report in {out / 'report.json'}."
    )


def register(app: typer.Typer) -> None:
    """Add the ``run`` command."""
    app.command("run")(run)
