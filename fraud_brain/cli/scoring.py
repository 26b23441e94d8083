"""``fraud-brain train`` / ``evaluate`` / ``models``: the scoring models from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

models_app = typer.Typer(help="List, inspect, promote and shadow models in the model registry.", no_args_is_help=True)

DATA_HELP = (
    "Data folder with the spec's record files (e.g. data/sample: calls/transfers/subscribers/labels; "
    "a card world: card_tx/fraud_reports/labels)."
)
SPEC_HELP = "Feature spec: a bundled name (telecom, card) or a .toml file."


def _replay(data: Path, spec: Any, generic: bool = False) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fraud_brain.errors import MissingInputError
    from fraud_brain.scoring.dataset import build_spec_data, build_training_data

    if not data.is_dir():
        raise MissingInputError(f"data folder {data} does not exist")
    with Progress(TextColumn("replaying features"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task("replay", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if generic:
            return build_spec_data(data, spec, progress=progress)
        return build_training_data(data, spec, progress=progress)


def _load_spec(spec: str) -> Any:
    """The feature spec a user names, and whether it is scored by the telecom protocol."""
    from fraud_brain.features import resolve_spec
    from fraud_brain.scoring.dataset import telecom_protocol

    loaded = resolve_spec(spec)
    return loaded, telecom_protocol(loaded)


def _split(data: Any, train_days: float | None, gap_days: float | None, test_days: float | None) -> Any:
    from rich.console import Console

    split = data.default_split(train_days, gap_days, test_days)
    Console().print(
        f"train {split.train_start:%Y-%m-%d %H:%M} → {split.train_end:%Y-%m-%d %H:%M}, gap {split.gap}, "
        f"test → {split.test_end:%Y-%m-%d %H:%M} (labels known by {split.label_cutoff:%Y-%m-%d %H:%M})",
        highlight=False,
    )
    return split


MODELS_HELP = "Model registry folder (default: the bundled registry, the one run and serve read)."


def models_dir(given: Path | None) -> Path:
    """The model registry folder as ``run`` and ``serve`` find it: the given one (which must exist),
    else the one bundled with the package (:class:`~fraud_brain.pipeline.assembly.Assembly`)."""
    from fraud_brain.pipeline.assembly import Assembly
    from fraud_brain.pipeline.config import AppConfig

    return Assembly(AppConfig(models_dir=given)).models_dir


def _registry(root: Path | None) -> Any:
    """The model registry in an existing folder (a command reading models gets no empty registry by mistake)."""
    from fraud_brain.errors import MissingInputError
    from fraud_brain.scoring.registry import ModelRegistry

    if root is not None and not root.is_dir():
        raise MissingInputError(f"model registry folder {root} does not exist")
    return ModelRegistry(models_dir(root))


def train(
    data: Path = typer.Option(Path("data/sample"), "--data", help=DATA_HELP),
    out: Path | None = typer.Option(None, "--out", "--models-dir", help=MODELS_HELP + " Created if missing."),
    spec: str = typer.Option("telecom", help=SPEC_HELP),
    train_days: float | None = typer.Option(None, help="Training window in days (default: half of what is left "
                                                       "after the gap)."),
    gap_days: float | None = typer.Option(None, help="Gap = label delay in days (default: min(2, 15% of the span))."),
    test_days: float | None = typer.Option(None, help="Test window in days (default: the rest)."),
    rounds: int = typer.Option(150, help="LightGBM boosting rounds."),
    leaves: int = typer.Option(15, help="LightGBM leaves per tree (fewer: smaller, faster models)."),
    champion: bool = typer.Option(True, "--champion/--challenger",
                                  help="Publish as champion, or as a shadow challenger."),
) -> None:
    """Train the models of the spec's scored streams point-in-time and publish them to the registry.

    Telecom: the transfer and calling-number models. Any other spec: one model per scored stream,
    named by its scoring table's ``model``.
    """
    from rich.console import Console
    from rich.table import Table

    from fraud_brain.cli.paths import make_folder
    from fraud_brain.errors import InputError
    from fraud_brain.scoring.publish import publish_models, train_models, train_stream_models
    from fraud_brain.scoring.registry import ModelRegistry

    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a model registry folder")
    if out is not None:
        make_folder("--out", out)
    out = models_dir(out)
    console = Console()
    loaded, telecom = _load_spec(spec)
    dataset = _replay(data, spec if telecom else loaded, generic=not telecom)
    split = _split(dataset, train_days, gap_days, test_days)
    if telecom:
        results = train_models(dataset, split, num_boost_round=rounds, params={"num_leaves": leaves})
    else:
        results = train_stream_models(dataset, split, num_boost_round=rounds, params={"num_leaves": leaves})
    published = publish_models(results, ModelRegistry(out), champion=champion, challenger=not champion)
    table = Table(title=f"Published to {out}")
    for column in ("model", "version", "role", "features", "train n", "frauds", "test AP", "test AUC"):
        table.add_column(column)
    for item in published:
        m = item.model.manifest
        table.add_row(
            m.name, str(m.version), "champion" if champion else "challenger", str(len(m.feature_names)),
            f"{item.result.train_rows:,}", f"{item.result.train_positives:,}",
            f"{m.metrics.get('average_precision', float('nan')):.3f}", f"{m.metrics.get('roc_auc', float('nan')):.3f}",
        )
    console.print(table)
    if not telecom:
        for item in published:
            test = item.result.test
            rate = float(test["label"].sum()) / test.height if test.height else float("nan")
            console.print(f"{item.model.manifest.name}: test window {test.height:,} events, fraud prevalence "
                          f"{rate:.3%} (the AP of a random score)", highlight=False)


def evaluate(
    data: Path = typer.Option(Path("data/sample"), "--data", help=DATA_HELP),
    spec: str = typer.Option("telecom", help=SPEC_HELP),
    train_days: float | None = typer.Option(None, help="Training window in days."),
    gap_days: float | None = typer.Option(None, help="Gap = label delay in days."),
    test_days: float | None = typer.Option(None, help="Test window in days."),
    k: int = typer.Option(100, help="Daily alert budget: top-k payer accounts per day."),
    window: str = typer.Option("1d", help="Time window of the over-time table (polars duration: 1d, 1w)."),
    rounds: int = typer.Option(200, help="LightGBM boosting rounds."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the results as JSON here."),
    drift_day: str | None = typer.Option(
        None,
        "--drift-day",
        help="Date (UTC, e.g. 2026-10-24) on which scam tactics changed: also print each setup's AP "
        "before and from it (fraud-brain simulate prints this date for its worlds).",
    ),
) -> None:
    """Compare transfer-only, cross-channel and cross-channel + online on a held-out period."""
    import orjson
    from rich.console import Console
    from rich.table import Table

    from fraud_brain.cli.paths import make_folder
    from fraud_brain.scoring.experiment import compare_setups, drift_summary

    console = Console()
    drift_at = _drift_moment(drift_day)
    if json_out is not None:
        make_folder("--json", json_out.parent)
    loaded, telecom = _load_spec(spec)
    if not telecom:
        if drift_day is not None:
            raise typer.BadParameter("--drift-day applies to the telecom evaluation only", param_hint="--drift-day")
        _evaluate_streams(data, loaded, train_days, gap_days, test_days, k, window, rounds, json_out)
        return
    dataset = _replay(data, spec)
    split = _split(dataset, train_days, gap_days, test_days)
    if drift_at is not None and not split.test_start < drift_at < split.test_end:
        raise typer.BadParameter(
            f"drift day {drift_at:%Y-%m-%d %H:%M} is outside the test period "
            f"{split.test_start:%Y-%m-%d %H:%M} → {split.test_end:%Y-%m-%d %H:%M}; "
            "nothing to compare before and after it",
            param_hint="--drift-day",
        )
    eval_labels = dataset.evaluation_labels()
    results = compare_setups(
        dataset.transfers, dataset.labels, dataset.transfer_groups, dataset.spec_hash, split,
        first_scam_calls=dataset.first_scam_calls, k=k, window=window, num_boost_round=rounds,
        evaluation_labels=eval_labels,
    )
    table = Table(title=f"Held-out period, {results[0].report.events:,} transfers, {results[0].report.frauds:,} scams")
    for column in ("setup", "AP", "ROC-AUC", f"prec@{k}/day", "money flagged", "min to alert", "false /10k"):
        table.add_column(column, justify="right")
    for r in results:
        rep = r.report
        minutes = "—" if rep.median_minutes_to_alert is None else f"{rep.median_minutes_to_alert:,.0f}"
        table.add_row(
            r.name, f"{rep.average_precision:.3f}", f"{rep.roc_auc:.3f}", f"{rep.precision_at_k:.3f}",
            f"{rep.money_flagged_share:.1%}", minutes, f"{rep.false_alarms_per_10k:,.0f}",
        )
    console.print(table)
    over_time = Table(
        title=f"Average precision per {window} (frozen vs online under drift)",
        caption=None if drift_at is None else "* first window from the drift day",
    )
    over_time.add_column("window")
    over_time.add_column("scams", justify="right")
    for r in results:
        over_time.add_column(r.name, justify="right")
    base = results[0].windows
    first_after = None
    if drift_at is not None:
        after = [i for i in range(base.height) if base["window_start"][i] >= drift_at]
        first_after = after[0] if after else None
    for i in range(base.height):
        mark = " *" if i == first_after else ""
        row = [f"{base['window_start'][i]:%Y-%m-%d}{mark}", str(base["frauds"][i])]
        for r in results:
            value = r.windows["average_precision"][i] if i < r.windows.height else float("nan")
            row.append(f"{value:.3f}")
        over_time.add_row(*row)
    console.print(over_time)
    drift = None
    if drift_at is not None:
        drift = drift_summary(results, drift_at)
        table = Table(title=f"Before vs after the drift on {drift_at:%Y-%m-%d %H:%M} UTC (test period)")
        table.caption = f"AP pools each period's transfers; mean {window} AP averages the per-{window} table"
        for column in ("setup", "scams before", "AP before", "scams after", "AP after", "change",
                       f"mean {window} AP before", f"mean {window} AP after"):
            table.add_column(column, justify="right")
        for row in drift.iter_rows(named=True):
            table.add_row(
                row["setup"], f"{row['frauds_before']:,}", f"{row['ap_before']:.3f}", f"{row['frauds_after']:,}",
                f"{row['ap_after']:.3f}", f"{row['ap_change']:+.3f}", f"{row['window_ap_before']:.3f}",
                f"{row['window_ap_after']:.3f}",
            )
        console.print(table)
    numbers = _number_results(dataset, split, k, rounds)
    if numbers:
        table = Table(title="Calling numbers, held-out period (per number and day)")
        for column in ("setup", "number-days", "fraud", "AP", "ROC-AUC", f"prec@{k}/day"):
            table.add_column(column, justify="right")
        for r in numbers:
            rep = r.report
            table.add_row(r.name, f"{rep.events:,}", f"{rep.frauds:,}", f"{rep.average_precision:.3f}",
                          f"{rep.roc_auc:.3f}", f"{rep.precision_at_k:.3f}")
        console.print(table)
    if json_out is not None:
        payload: dict[str, Any] = {
            "split": split.describe(),
            "setups": [
                {"name": r.name, "report": r.report.as_dict(), "windows": r.windows.to_dicts(), **r.extra}
                for r in [*results, *numbers]
            ],
        }
        if drift is not None and drift_at is not None:
            payload["drift"] = {"at": drift_at.isoformat(), "setups": drift.to_dicts()}
        json_out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def _evaluate_streams(
    data: Path, spec: Any, train_days: float | None, gap_days: float | None, test_days: float | None,
    k: int, window: str, rounds: int, json_out: Path | None,
) -> None:
    """``evaluate`` for any spec: every scored stream's model, and each feature group alone."""
    import orjson
    from rich.console import Console
    from rich.table import Table

    from fraud_brain.scoring.experiment import compare_stream_setups

    console = Console()
    dataset = _replay(data, spec, generic=True)
    split = _split(dataset, train_days, gap_days, test_days)
    payload: dict[str, Any] = {"split": split.describe(), "streams": {}}
    for name, stream in dataset.streams.items():
        sc = stream.scoring
        results = compare_stream_setups(
            stream.frame, dataset.labels, stream.feature_groups, dataset.spec_hash, split, sc.label_entity,
            sc.label_key, stream.entity, amount=sc.amount, time_col=stream.time_col, k=k, window=window,
            num_boost_round=rounds, evaluation_labels=dataset.evaluation_labels(name), name=sc.model,
        )
        rep0 = results[0].report
        rate = rep0.frauds / rep0.events if rep0.events else float("nan")
        table = Table(
            title=f"{name}: held-out period, {rep0.events:,} events, {rep0.frauds:,} frauds "
            f"(prevalence {rate:.3%}, the AP of a random score)"
        )
        for column in ("setup", "AP", "ROC-AUC", f"prec@{k}/day", "money flagged", "false /10k"):
            table.add_column(column, justify="right")
        for r in results:
            rep = r.report
            table.add_row(r.name, f"{rep.average_precision:.3f}", f"{rep.roc_auc:.3f}", f"{rep.precision_at_k:.3f}",
                          f"{rep.money_flagged_share:.1%}", f"{rep.false_alarms_per_10k:,.0f}")
        console.print(table)
        over_time = Table(title=f"{name}: average precision per {window}")
        over_time.add_column("window")
        over_time.add_column("frauds", justify="right")
        for r in results:
            over_time.add_column(r.name, justify="right")
        base = results[0].windows
        for i in range(base.height):
            row = [f"{base['window_start'][i]:%Y-%m-%d}", str(base["frauds"][i])]
            row += [f"{r.windows['average_precision'][i]:.3f}" if i < r.windows.height else "nan" for r in results]
            over_time.add_row(*row)
        console.print(over_time)
        payload["streams"][name] = {
            "model": sc.model,
            "prevalence": rate,
            "setups": [{"name": r.name, "report": r.report.as_dict(), "windows": r.windows.to_dicts()}
                       for r in results],
        }
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def _drift_moment(text: str | None) -> Any:
    """The ``--drift-day`` option as a UTC datetime (a date means its midnight UTC)."""
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-10-24", param_hint="--drift-day") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _number_results(dataset: Any, split: Any, k: int, rounds: int) -> list:
    """The calling-number setups, when the data has calls and fraud-number labels."""
    import polars as pl

    from fraud_brain.scoring.experiment import compare_number_setups

    if dataset.calls is None or not dataset.call_groups:
        return []
    known = dataset.labels.filter((pl.col("entity_type").cast(pl.String) == "number") & pl.col("is_fraud"))
    if known.is_empty():
        return []
    truth = dataset.truth.get("truth_entities")
    fraud_numbers = None
    if truth is not None and {"entity_type", "entity_id"} <= set(truth.columns):
        fraud_numbers = truth.filter(pl.col("entity_type").cast(pl.String) == "number")["entity_id"].to_list()
    try:
        return compare_number_setups(
            dataset.calls, dataset.labels, dataset.call_groups, dataset.spec_hash, split, fraud_numbers,
            k=k, num_boost_round=rounds,
        )
    except ValueError as error:
        if "only one class" in str(error):
            return []
        raise


@models_app.command("list")
def list_models(root: Path | None = typer.Option(None, "--dir", "--models-dir", help=MODELS_HELP)) -> None:
    """List every model version, its role and its held-out metrics."""
    from rich.console import Console
    from rich.table import Table

    registry = _registry(root)
    table = Table(title=f"Models in {registry.root}")
    for column in ("model", "version", "role", "features", "spec", "created", "AP", "ROC-AUC"):
        table.add_column(column)
    for name in registry.names():
        for version in registry.versions(name):
            m = registry.manifest(name, version)
            role = ("champion" if registry.champion(name) == version
                    else "challenger" if registry.challenger(name) == version else "")
            table.add_row(
                name, version, role, str(len(m.feature_names)), m.spec_hash, m.created_at,
                f"{m.metrics.get('average_precision', float('nan')):.3f}",
                f"{m.metrics.get('roc_auc', float('nan')):.3f}",
            )
    Console().print(table)


@models_app.command("show")
def show_model(
    name: str = typer.Argument(..., help="Model name, e.g. transfer."),
    version: str | None = typer.Argument(None, help="Version (default: the champion)."),
    root: Path | None = typer.Option(None, "--dir", "--models-dir", help=MODELS_HELP),
) -> None:
    """Print a model's manifest."""
    import json

    from fraud_brain.errors import MissingInputError

    registry = _registry(root)
    version = version or registry.champion(name)
    if version is None:
        known = ", ".join(registry.names()) or "none"
        raise MissingInputError(f"model {name!r} has no champion in {registry.root} (models: {known}); give a version")
    typer.echo(json.dumps(registry.manifest(name, version).to_dict(), indent=2, ensure_ascii=False))


@models_app.command("promote")
def promote(
    name: str = typer.Argument(..., help="Model name."),
    version: str | None = typer.Argument(None, help="Version to make champion (default: the challenger)."),
    root: Path | None = typer.Option(None, "--dir", "--models-dir", help=MODELS_HELP),
) -> None:
    """Make a version (by default the shadow challenger) the champion."""
    registry = _registry(root)
    if version is None:
        version = registry.promote_challenger(name)
    else:
        registry.set_champion(name, version)
    typer.echo(f"{name}: champion is now {version}")


@models_app.command("challenger")
def challenger(
    name: str = typer.Argument(..., help="Model name."),
    version: str | None = typer.Argument(None, help="Version to run in shadow; omit with --clear."),
    clear: bool = typer.Option(False, "--clear", help="Stop running a challenger."),
    root: Path | None = typer.Option(None, "--dir", "--models-dir", help=MODELS_HELP),
) -> None:
    """Run a version in shadow (scores logged, not acted on), or stop with --clear."""
    from fraud_brain.errors import InputError

    if (version is None) != clear:
        raise InputError("give a version, or --clear")
    _registry(root).set_challenger(name, version)
    typer.echo(f"{name}: challenger {'cleared' if clear else 'is now ' + str(version)}")


def register(app: typer.Typer) -> None:
    """Add ``train``, ``evaluate`` and the ``models`` commands."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.add_typer(models_app, name="models")
