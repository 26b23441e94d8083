"""``fraud-brain serve``: the HTTP API and agents' console; ``fraud-brain api-key``: make a key for it."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    keys: Path | None = typer.Option(None, help="TOML file of hashed API keys (see `fraud-brain api-key`); "
                                                "FRAUD_BRAIN_API_KEYS adds more."),
    config: Path | None = typer.Option(None, "--config",
                                       help="Configuration file (TOML; flags given here override it)."),
    state_dir: Path | None = typer.Option(None, help="State folder of the scoring pipeline (models, rules, store); "
                                                     "without it the server runs the case desk only."),
    store: Path | None = typer.Option(None, help="SQLite case store for a desk-only server "
                                                 "(ignored with --state-dir)."),
    models_dir: Path | None = typer.Option(None, help="Model registry folder (pipeline; default: the bundled "
                                                      "models)."),
    spec: str | None = typer.Option(None, help="Feature spec: a bundled name or a .toml file (pipeline; "
                                               "default telecom)."),
    rules: Path | None = typer.Option(None, help="Rule file (pipeline; default: the bundled rules)."),
    policy: Path | None = typer.Option(None, help="Escalation policy file (pipeline; default: the bundled policy)."),
    subscribers: Path | None = typer.Option(None, help="Subscriber profile file: reference data and officers' "
                                                       "districts (pipeline)."),
    pump_seconds: float = typer.Option(5.0, help="Seconds between runs of the action workflow's timers and outbox "
                                                 "(pipeline)."),
    max_in_flight: int = typer.Option(64, help="Concurrent requests before answering 429."),
    max_body_mb: float = typer.Option(32.0, help="Largest bulk ingest body in MiB (413 beyond)."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve the API (ingest, pre-transfer checks, cases, metrics) and the console at /console/ with one worker."""
    import uvicorn
    from rich.console import Console

    from fraud_brain.api import ApiSettings, create_app
    from fraud_brain.api.auth import KeyRing
    from fraud_brain.api.worker import EngineThread
    from fraud_brain.errors import InputError, StateError, first_line
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    console = Console(stderr=True)
    settings = ApiSettings(keys_file=keys, max_in_flight=max_in_flight, max_body_bytes=int(max_body_mb * 1024 * 1024),
                           pump_seconds=pump_seconds)
    ring = KeyRing.from_sources(settings.keys_file, settings.keys_env)
    app_config = (AppConfig.load(config) if config else AppConfig()).with_overrides(
        state_dir=state_dir, models_dir=models_dir, spec=spec, rules_path=rules, policy_path=policy,
        subscribers=subscribers)
    if app_config.state_dir is None and store is None:
        raise InputError("give --state-dir (full pipeline) or --store (case desk only)")
    _check_paths(app_config.state_dir, app_config.models_dir, store, app_config.rules_path, app_config.policy_path,
                 app_config.subscribers)
    if len(ring) == 0:
        console.print("[yellow]no API keys configured: every endpoint but /health and /metrics will answer "
                      "401[/yellow]")
    assembly = Assembly(app_config)
    # The engine and store are opened on the thread that will use them (SQLite connections are per thread).
    worker = EngineThread()
    brain = None
    try:
        try:
            brain = worker.call_sync(assembly.brain) if app_config.state_dir is not None else None
        except StateError as error:
            # another server holds the folder, or its log lost entries: nothing to serve, say why in one line
            typer.echo(f"error: {first_line(error)}", err=True)
            raise typer.Exit(2) from None
        repo = worker.call_sync(assembly.store, store) if brain is None else None
        app = worker.call_sync(create_app, brain, settings, store=repo, keys=ring, worker=worker)
        console.print(f"serving on http://{host}:{port}/  (console: /console/, API docs: /docs)")
        uvicorn.run(app, host=host, port=port, workers=1, log_level=log_level, access_log=False)
    finally:
        if brain is not None:
            worker.call_sync(brain.close)  # the last checkpoint, then the state folder is free
        worker.close()


def _check_paths(state_dir: Path | None, models_dir: Path | None, store: Path | None, rules: Path | None,
                 policy: Path | None, subscribers: Path | None) -> None:
    """Refuse wrong folders before anything starts (a server that dies on its first request helps nobody)."""
    from fraud_brain.cli.paths import make_folder, require_files, require_folder
    from fraud_brain.errors import InputError

    if state_dir is not None:
        if models_dir is not None:
            require_folder("--models-dir", models_dir)
        require_files({"--rules": rules, "--policy": policy, "--subscribers": subscribers})
        make_folder("--state-dir", state_dir)
    elif store is not None:
        if store.is_dir():
            raise InputError(f"--store {store} is a folder; give the SQLite file to use")
        make_folder("--store", store.parent)


def api_key(
    name: str = typer.Option(..., help="Who holds the key (appears in the audit log)."),
    role: str = typer.Option(..., help="feed, bank, agent, analyst or admin."),
) -> None:
    """Make a new API key: prints the key once, and its keys-file entry (hash only)."""
    from fraud_brain.api.auth import ROLES, hash_key, new_key
    from fraud_brain.errors import InputError

    if role not in ROLES:
        raise InputError(f"role {role!r} must be one of {list(ROLES)}")
    if not name.strip() or len(name) > 128 or any(not ch.isprintable() for ch in name):
        raise InputError("--name must be 1-128 printable characters (no line breaks or control characters)")
    key = new_key()
    # json.dumps gives a TOML basic string: quotes and backslashes escaped, nothing can break out
    quoted = json.dumps(name, ensure_ascii=False)
    typer.echo(f"# key for {quoted} (give it to them; it is not stored anywhere): {key}")
    typer.echo(f'[[key]]\nname = {quoted}\nrole = "{role}"\nsha256 = "{hash_key(key)}"')


def register(app: typer.Typer) -> None:
    """Add the ``serve`` and ``api-key`` commands."""
    app.command("serve")(serve)
    app.command("api-key")(api_key)
