"""Checks of the paths a command was given, made before any work starts.

A command that replays a month of records and only then finds its rule file missing wastes the
user's time; these turn such mistakes into one :class:`~fraud_brain.errors.MissingInputError`
up front, naming the flag.

>>> require_files({"--rules": None})
>>> require_files({"--rules": Path("/nonexistent/rules.toml")})
Traceback (most recent call last):
...
fraud_brain.errors.MissingInputError: --rules /nonexistent/rules.toml: no such file
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fraud_brain.errors import InputError, MissingInputError


def require_files(paths: Mapping[str, Path | None]) -> None:
    """Raise naming the flag when a given (not None) path is not an existing file."""
    for flag, path in paths.items():
        if path is not None and not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "no such file"
            raise MissingInputError(f"{flag} {path}: {what}")


def require_folder(flag: str, path: Path) -> None:
    """Raise naming the flag when ``path`` is not an existing folder.

    >>> require_folder("--models", Path("/nonexistent"))
    Traceback (most recent call last):
    ...
    fraud_brain.errors.MissingInputError: --models /nonexistent: no such folder
    """
    if not path.is_dir():
        raise MissingInputError(f"{flag} {path}: {'not a folder' if path.exists() else 'no such folder'}")


def make_folder(flag: str, path: Path) -> None:
    """Create an output folder now, raising naming the flag when it cannot be (a file in the way, no rights).

    >>> make_folder("--out", Path("/dev/null/out"))
    Traceback (most recent call last):
    ...
    fraud_brain.errors.InputError: --out /dev/null/out: cannot create the folder (...)
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{flag} {path}: cannot create the folder ({error.strerror})") from None
