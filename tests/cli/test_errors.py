"""Every command answers a user's mistake with one readable line on stderr and exit code 2, never a traceback.

The commands are discovered from the typer app (what ``fraud-brain --help`` lists), so a new
command fails :func:`test_every_command_has_its_mistakes` until it gets its rows in ``MISTAKES``;
the bad-value test walks every typed option of every command by itself.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from fraud_brain.cli import app
from fraud_brain.store import SQLiteRepository

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
MODELS = ROOT / "models"
RULES = ROOT / "fraud_brain" / "rules" / "default_rules.toml"
runner = CliRunner()



def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf command of the app under its words (``("models", "show")``), from the built click tree."""
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


COMMANDS = dict(_commands(typer.main.get_command(app)))

# command → mistakes: (arguments with {m}: a path that does not exist, {f}: a plain file, {t}: a scratch
# folder, {db}: an empty store; a piece of the one-line message naming the problem).
MISTAKES: dict[str, list[tuple[str, str]]] = {
    "run": [(f"{{m}} --models {MODELS} --out {{t}}/out", "data folder {m} does not exist"),
            (f"{SAMPLE} --models {{m}} --out {{t}}/out", "--models-dir {m}: no such folder"),
            (f"{SAMPLE} --models {MODELS} --rules {{m}}/r.toml --out {{t}}/out",
             "--rules {m}/r.toml: no such file")],
    "simulate": [("--out {f}/x --days 1", "--out {f}/x: cannot create the folder")],
    "data summary": [("{m}", "data folder {m} does not exist"), ("{f}", "data folder {f} is not a folder")],
    "data validate": [("{m}/x.csv --kind call", "record file {m}/x.csv does not exist"),
                      (f"{SAMPLE}/calls.parquet --kind sms", "unknown record kind 'sms'"),
                      ("{f} --kind call", "unknown file type"),
                      (f"{SAMPLE}/calls.parquet --kind call --out {{f}}/x.csv", "{f}/x.csv: cannot write")],
    "data schema": [("sms", "unknown record kind 'sms'")],
    "features check": [("{m}/spec.toml", "{m}/spec.toml"),
                       ("nosuchspec", "no bundled feature spec 'nosuchspec'")],
    "features replay": [("{m} --out {t}/o", "{m}: no record files")],
    "train": [("--data {m}", "data folder {m} does not exist"),
              (f"--data {SAMPLE} --out {{f}}", "--out {f} is a file"),
              (f"--data {SAMPLE} --spec nosuchspec", "nosuchspec")],
    "evaluate": [("--data {m}", "data folder {m} does not exist"),
                 (f"--data {SAMPLE} --json {{f}}/e.json", "--json {f}: cannot create the folder"),
                 (f"--data {SAMPLE} --spec nosuchspec", "nosuchspec")],
    "models list": [("--dir {m}", "model registry folder {m} does not exist")],
    "models show": [("transfer --dir {m}", "model registry folder {m} does not exist"),
                    (f"nosuchmodel --dir {MODELS}", "model 'nosuchmodel' has no champion"),
                    (f"transfer v999 --dir {MODELS}", "model transfer/v999 not found")],
    "models promote": [(f"nosuchmodel --dir {MODELS}", "model 'nosuchmodel' has no challenger"),
                       (f"transfer v999 --dir {MODELS}", "model transfer/v999 not found")],
    "models challenger": [(f"transfer v999 --dir {MODELS}", "model transfer/v999 not found"),
                          (f"transfer --dir {MODELS}", "give a version, or --clear")],
    "rules check": [("{m}/r.toml", "rule file {m}/r.toml does not exist"),
                    (f"{RULES} --scored {{m}}", "{m}: no scored frames found")],
    "backtest": [(f"{{m}}/r.toml {SAMPLE}", "RULES_FILE {m}/r.toml: no such file"),
                 (f"{RULES} {{m}}", "{m}: no scored frames found"),
                 (f"{RULES} {SAMPLE} --window soon", "duration 'soon' must be"),
                 (f"{RULES} {SAMPLE} --json {{f}}/b.json", "--json {f}: cannot create the folder")],
    "actions replay": [("{m}/d.jsonl --db {t}/a.db", "decision file {m}/d.jsonl does not exist"),
                       ("{f} --db {t}/a.db", "decisions must be a .parquet or .jsonl file")],
    "actions dispatch": [("--db {m}/a.db", "store {m}/a.db does not exist"),
                         ("--db {db} --policy {m}/p.toml", "{m}/p.toml: cannot read policy file")],
    "actions report": [("--db {m}/a.db", "store {m}/a.db does not exist")],
    "actions case": [("7 --db {m}/a.db", "store {m}/a.db does not exist"),
                     ("999 --db {db}", "case 999 does not exist")],
    "actions labels": [("{t}/l.parquet --db {m}/a.db", "store {m}/a.db does not exist"),
                       ("{t}/l.xml --db {db}", "unknown file type '.xml'")],
    "actions check-policy": [("{m}/p.toml", "PATH {m}/p.toml: no such file")],
    "serve": [("--state-dir {t}/state --models-dir {m}", "--models-dir {m}: no such folder"),
              (f"--state-dir {{t}}/state --models-dir {MODELS} --rules {{m}}/r.toml",
               "--rules {m}/r.toml: no such file"),
              ("--state-dir {f}", "--state-dir {f}: cannot create the folder"),
              ("--store {t}/s.db --keys {m}/keys.toml", "keys file {m}/keys.toml does not exist"),
              ("--store {t}", "is a folder"),
              ("", "give --state-dir (full pipeline) or --store (case desk only)")],
    "api-key": [("--name alice --role boss", "role 'boss' must be one of")],
}


def _cases() -> Iterator[object]:
    for name, mistakes in MISTAKES.items():
        for mistake in mistakes:
            args, fragment = mistake.values if hasattr(mistake, "values") else mistake
            marks = getattr(mistake, "marks", ())
            yield pytest.param(name, args, fragment, marks=marks, id=f"{name}: {args.split(' --')[0][:30]}")


@pytest.fixture
def places(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "file").write_text("not a folder\n")
    SQLiteRepository(tmp_path / "empty.db").close()
    return {"m": str(tmp_path / "missing"), "f": str(tmp_path / "file"), "t": str(tmp_path),
            "db": str(tmp_path / "empty.db")}


def test_every_command_has_its_mistakes() -> None:
    """A command added to the app must bring its mistakes here (it is then checked like the others)."""
    listed = {" ".join(path) for path in COMMANDS}
    assert listed == set(MISTAKES), f"missing: {listed - set(MISTAKES)}; stale: {set(MISTAKES) - listed}"
    assert {"serve", "data validate", "train", "rules check"} <= listed


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("command", "args", "fragment"), list(_cases()))
def test_a_mistake_is_one_line_and_exit_2(
    command: str, args: str, fragment: str, places: dict[str, str]
) -> None:
    argv = [*command.split(), *args.format(**places).split()]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, (argv, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), (argv, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (argv, result.stderr)
    assert fragment.format(**places) in lines[0], (argv, lines[0])
    assert "Traceback" not in result.stdout and "error:" not in result.stdout


def _value_type(command: Any, name: str) -> Any:
    """The Python type a command's parameter is declared with (``int | None`` gives ``int``)."""
    hint = typing.get_type_hints(command.callback).get(name)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 else hint


def _typed_params() -> Iterator[Any]:
    """Every option or argument whose text typer converts (numbers, dates, choices), for every command."""
    for path, command in COMMANDS.items():
        for param in command.params:
            kind = _value_type(command, param.name)
            converted = isinstance(kind, type) and issubclass(kind, int | float | datetime | Enum)
            if converted and kind is not bool:
                yield pytest.param(path, param, id=f"{' '.join(path)} {param.name}")


def _argv(path: tuple[str, ...], bad: Any, value: str) -> list[str]:
    """The command with ``value`` for the ``bad`` parameter, placeholders for the other required ones."""
    argv = [*path]
    if bad.param_type_name == "option":
        argv += [bad.opts[0], value]
    for param in COMMANDS[path].params:
        placeholder = "1" if _value_type(COMMANDS[path], param.name) in (int, float) else "x"
        if param.param_type_name == "argument" and param.required:
            argv.append(value if param is bad else placeholder)
        elif param.param_type_name == "option" and param.required and param is not bad:
            argv += [param.opts[0], placeholder]
    return argv


@pytest.mark.parametrize(("path", "param"), list(_typed_params()))
def test_a_bad_value_is_a_usage_error(path: tuple[str, ...], param: Any) -> None:
    """typer's own check of a typed value: exit 2, the parameter named, no traceback."""
    result = runner.invoke(app, _argv(path, param, "not-a-value"), env={"COLUMNS": "300"})
    assert result.exit_code == 2, (path, param.name, result.output)
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    named = param.opts[0] if param.param_type_name == "option" else param.name
    assert f"Invalid value for '{named}'".lower() in text.lower(), text


def test_the_typed_params_are_found() -> None:
    """The walk above really reaches sub-commands' parameters (a broken walk would check nothing)."""
    found = {(" ".join(p.values[0]), p.values[1].name) for p in _typed_params()}
    assert {("serve", "port"), ("actions case", "case_id"), ("simulate", "preset"), ("train", "rounds"),
            ("actions labels", "since")} <= found


def test_a_bug_still_shows_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the caller's mistakes are folded into one line: our own bugs stay loud."""
    import fraud_brain.report.schema_doc

    def broken(*args: object) -> None:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(fraud_brain.report.schema_doc, "schema_markdown", broken)
    result = runner.invoke(app, ["data", "schema", "call"])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)
