"""The ``fraud-brain`` command line.

Every module in this package that defines ``register(app)`` adds its commands to the one
``typer`` app; heavy libraries are imported inside the commands so ``--help`` stays fast.

A user's mistake (an :class:`~fraud_brain.errors.InputError`: a wrong path, kind, name or
value) ends every command the same way: one ``error: ...`` line on stderr and exit code 2,
like typer's own usage errors. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import typer
from typer.core import TyperGroup

from fraud_brain.errors import InputError

USAGE_ERROR = 2
"""Exit code of a command the user called wrongly (typer's usage errors use it too)."""


class _InputErrorsAsUsage(TyperGroup):
    """The root group: every sub-command runs inside its :meth:`invoke`, so one ``except`` covers them all."""

    def invoke(self, ctx: Any) -> Any:  # typer's click Context (typer vendors its own click)
        try:
            return super().invoke(ctx)
        except InputError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(USAGE_ERROR) from None


app = typer.Typer(
    name="fraud-brain",
    cls=_InputErrorsAsUsage,
    help="Streaming risk scoring for telecom and payment fraud: warn, dissuade, stop-payment.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_commands()


def main() -> None:
    """Entry point of the ``fraud-brain`` script."""
    app()
