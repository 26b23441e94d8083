"""``fraud-brain actions``: replay decisions through the workflow, run the outbox, report, inspect cases."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from fraud_brain.actions import EscalationPolicy
    from fraud_brain.store import SQLiteRepository

actions_app = typer.Typer(
    help="Cases, escalations and the durable action outbox (voice-bot, agent, stop-payment, officer alert).",
    no_args_is_help=True,
)

DB_OPTION = typer.Option(
    Path("out/actions.db"), "--db", help="The SQLite store of alerts, cases and actions."
)


def _policy(path: Path | None) -> EscalationPolicy:
    from fraud_brain.actions import load_policy

    return load_policy(path)


def _store(db: Path) -> SQLiteRepository:
    """The existing store at ``db``: a command reading cases or the outbox must not start an empty one."""
    from fraud_brain.errors import MissingInputError
    from fraud_brain.store import SQLiteRepository

    if not db.is_file():
        raise MissingInputError(f"store {db} does not exist (create it with `fraud-brain actions replay` or `run`)")
    return SQLiteRepository(db)


@actions_app.command("replay")
def replay_command(
    decisions: Path = typer.Argument(..., help="Decisions from the rules layer (.parquet or .jsonl)."),
    db: Path = DB_OPTION,
    policy: Path | None = typer.Option(None, help="Escalation policy TOML (default: the packaged one)."),
    seed: int = typer.Option(0, help="Seed of the simulated bot, bank and agents."),
    step_minutes: float = typer.Option(1.0, help="Simulated time step."),
    drain_hours: float = typer.Option(6.0, help="Keep timers running this long after the last decision."),
    subscribers: Path | None = typer.Option(
        None, help="Subscriber file: victims' districts for officer alerts."
    ),
) -> None:
    """Replay decisions on a simulated clock through cases, escalations and the simulators; print the report."""
    from datetime import timedelta

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from fraud_brain.actions import read_decisions, summarize
    from fraud_brain.actions.report import render
    from fraud_brain.errors import InputError
    from fraud_brain.store import SQLiteRepository

    console = Console()
    frame = read_decisions(decisions)
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    assembly = Assembly(AppConfig(policy_path=policy, subscribers=subscribers, seed=seed))
    assembly.policy()  # a bad policy file is refused before anything is written
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--db {db}: cannot create its folder ({error.strerror})") from None
    # A simulation: WAL without an fsync per commit still survives a crash of this process.
    store = SQLiteRepository(db, synchronous="NORMAL")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("decisions", total=frame.height)
        result = assembly.replay_decisions(
            frame,
            store,
            step=timedelta(minutes=step_minutes),
            drain=timedelta(hours=drain_hours),
            progress=lambda done, total: progress.update(task, completed=done),
        )
    for message in result.ingested.rejected[:20]:
        console.print(f"[red]✗[/red] {message}", highlight=False)
    for renderable in render(summarize(store)):
        console.print(renderable)
    console.print(f"store: {db}")


@actions_app.command("dispatch")
def dispatch_command(
    db: Path = DB_OPTION,
    webhook: str | None = typer.Option(
        None, help="Send every action kind to this webhook URL (default: simulators)."
    ),
    secret_env: str = typer.Option(
        "FRAUD_BRAIN_WEBHOOK_SECRET", help="Environment variable holding the signing secret."
    ),
    policy: Path | None = typer.Option(None, help="Escalation policy TOML (lease and retry settings)."),
    seed: int = typer.Option(0, help="Seed of the simulators."),
    wait_seconds: float = typer.Option(
        0.0, help="Also wait for actions falling due within this many seconds."
    ),
    follow: bool = typer.Option(
        False, help="Keep running: react, fire timers and deliver every second until Ctrl-C."
    ),
    subscribers: Path | None = typer.Option(
        None, help="Subscriber file: victims' districts for the officer alerts a breach or an outcome raises."
    ),
) -> None:
    """Deliver every due action in the outbox (and re-deliver expired leases), then react to the answers."""
    from rich.console import Console

    from fraud_brain.actions import Dispatcher, SystemClock, WebhookAdapter
    from fraud_brain.errors import InputError
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    console = Console()
    _policy(policy)
    store = _store(db)
    adapters = None
    if webhook:
        secret = os.environ.get(secret_env, "")
        if not secret:
            raise InputError(f"the signing secret variable {secret_env} is empty")
        adapter = WebhookAdapter(webhook, secret.encode())
        from fraud_brain.store import ACTION_KINDS

        adapters = dict.fromkeys(ACTION_KINDS, adapter)
    clock = SystemClock()
    assembly = Assembly(AppConfig(policy_path=policy, subscribers=subscribers, seed=seed), clock=clock,
                        adapters=adapters)
    orchestrator = assembly.orchestrator(store, assembly.districts_of(assembly.subscribers))
    settings = orchestrator.policy
    from datetime import timedelta

    from fraud_brain.actions import DispatchReport

    dispatcher = Dispatcher(store, assembly.adapters(), clock, settings.outbox, seed=seed)
    report = DispatchReport()
    with console.status("delivering the outbox" + (" (Ctrl-C to stop)" if follow else "")):
        try:
            while True:
                orchestrator.tick()
                report.add(dispatcher.run_until_idle(max_wait=timedelta(seconds=wait_seconds)))
                orchestrator.tick()
                if not follow:
                    break
                clock.sleep(1.0)
        except KeyboardInterrupt:
            pass
    console.print(
        f"claimed {report.claimed}, done {report.done}, retrying {report.retrying}, dead {report.dead}"
    )
    console.print(f"outbox now: {store.action_status_counts()}")


@actions_app.command("report")
def report_command(db: Path = DB_OPTION) -> None:
    """Print cases by typology and rule, actions by kind and outcome, money protected, time to first contact."""
    from rich.console import Console

    from fraud_brain.actions import summarize
    from fraud_brain.actions.report import render

    store = _store(db)
    console = Console()
    for renderable in render(summarize(store)):
        console.print(renderable)


@actions_app.command("case")
def case_command(case_id: int = typer.Argument(..., help="The case id."), db: Path = DB_OPTION) -> None:
    """Print one case: its timeline and its actions."""
    from rich.console import Console
    from rich.table import Table

    from fraud_brain.errors import MissingInputError

    store = _store(db)
    try:
        case = store.get_case(case_id)
    except KeyError as error:
        raise MissingInputError(str(error.args[0])) from None
    console = Console()
    console.print(
        f"case {case.case_id} ({case.case_uid}) victim {case.victim_kind} {case.victim_key}: {case.status}"
        f"{' — ' + case.resolution if case.resolution else ''}, tier {case.tier}, typology {case.typology or '-'}"
    )
    table = Table(title="timeline")
    for column in ("at", "event", "detail"):
        table.add_column(column, overflow="fold")
    for at, kind, detail in store.case_timeline(case_id):
        table.add_row(f"{at:%Y-%m-%d %H:%M:%S}", kind, ", ".join(f"{k}={v}" for k, v in detail.items()))
    console.print(table)
    actions = Table(title="actions")
    for column in ("id", "kind", "status", "attempts", "outcome", "key"):
        actions.add_column(column)
    for action in store.case_actions(case_id):
        actions.add_row(
            str(action.action_id),
            action.kind,
            action.status,
            str(action.attempts),
            action.outcome or "-",
            action.idempotency_key,
        )
    console.print(actions)


@actions_app.command("labels")
def labels_command(
    out: Path = typer.Argument(..., help="Where to write the labels (.parquet, .csv or .jsonl)."),
    db: Path = DB_OPTION,
    since: datetime = typer.Option(datetime(1970, 1, 1), help="Only labels known at or after this UTC time."),
) -> None:
    """Export the labels learned from outcomes (agent dispositions, bank freezes) in the LABELS shape."""
    from fraud_brain.io import file_format, write_frame

    file_format(out)
    frame = _store(db).labels_since(
        since.replace(tzinfo=UTC) if since.tzinfo is None else since
    )
    write_frame(frame, out)
    typer.echo(f"{frame.height:,} label(s) written to {out}")


@actions_app.command("check-policy")
def check_policy_command(path: Path = typer.Argument(..., help="An escalation policy TOML file.")) -> None:
    """Validate an escalation policy file; print the problem with file and line, exit 1 if bad (2 if missing)."""
    from fraud_brain.actions import PolicyError
    from fraud_brain.cli.paths import require_files

    require_files({"PATH": path})
    try:
        policy = _policy(path)
    except PolicyError as error:
        typer.echo(f"✗ {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{path}: OK — re-dial every {policy.redial_interval.total_seconds() / 60:g} min "
        f"up to {policy.max_redials} times, "
        f"agent SLA {', '.join(f'{k} {v.total_seconds() / 60:g} min' for k, v in policy.agent_sla.items())}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``actions`` commands."""
    app.add_typer(actions_app, name="actions")
