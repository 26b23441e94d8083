"""One exception hierarchy for the whole project, rooted in :class:`FraudBrainError`.

Only the :class:`InputError` branch means "the caller gave us something wrong" (a record, a
file, a flag, a configuration file): the API maps it (and only it) to a 4xx answer and the CLI
to one readable line and exit code 2. Anything else that escapes is a bug or an outage of
ours and is reported as such (HTTP 500, a traceback in the log).

``InputError`` also derives from :class:`ValueError`, so code written against the standard
exceptions keeps working.

>>> issubclass(ConfigError, InputError), issubclass(InputError, ValueError)
(True, True)
>>> str(MissingInputError("data folder /nope does not exist"))
'data folder /nope does not exist'
>>> isinstance(MissingInputError("x"), FileNotFoundError)
True
"""

from __future__ import annotations


class FraudBrainError(Exception):
    """The base of every error fraud_brain raises on purpose."""


class InputError(FraudBrainError, ValueError):
    """The caller's input is wrong: a record, a file, a flag or a configuration value.

    The message names what is wrong and where ("transfer 17: amount -5 must be > 0",
    "rules.toml:12: rule 'x' key 'tier' ..."), and never echoes secret data.
    """


class ConfigError(InputError):
    """A configuration file (feature spec, rules, policy, model manifest, keys) is invalid.

    The message names the file, the line where known, and the key.
    """


class MissingInputError(InputError, FileNotFoundError):
    """A file, folder or named thing the caller pointed at does not exist."""


class ConflictError(FraudBrainError):
    """The request is well formed but conflicts with the current state (HTTP 409)."""


class StateError(FraudBrainError):
    """Our own state is unusable (a corrupt snapshot, a locked state folder): not the caller's fault."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message (library errors can run to pages), or its type's name.

    >>> first_line(ValueError("bad value\\n  at column 3"))
    'bad value'
    >>> first_line(KeyError())
    'KeyError'
    """
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
