"""``fraud-brain run``: the main job on a data folder."""

from __future__ import annotations

from pathlib import Path

import typer


def run(
    directory: Path = typer.Argument(Path("data/sample"), help="Data folder (calls, transfers, subscribers, labels)."),
) -> None:
    """Run the main job on a data folder and print its report."""
    from rich.console import Console

    from fraud_brain.cli.render import print_summary
    from fraud_brain.report.summary import load_folder, summarize

    console = Console()
    frames = load_folder(directory)
    print_summary(summarize(frames), title=f"Data in {directory}", console=console)
    console.print(
        "The scoring pipeline (features → models → rules → actions) is not built yet: "
        "this run summarizes the data only."
    )


def register(app: typer.Typer) -> None:
    """Add the ``run`` command."""
    app.command("run")(run)
