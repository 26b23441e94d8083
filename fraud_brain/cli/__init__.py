"""The ``fraud-brain`` command line.

Every module in this package that defines ``register(app)`` adds its commands to the one
``typer`` app; heavy libraries are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

app = typer.Typer(
    name="fraud-brain",
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
