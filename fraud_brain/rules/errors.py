"""Errors of rule files: every problem names the file, the rule and, where known, the line.

>>> problem = RuleProblem("rules.toml", "big_transfer", "condition", "unknown column 'amt'", line=12)
>>> str(problem)
"rules.toml:12: rule 'big_transfer': condition: unknown column 'amt'"
>>> str(RuleFileError([problem])).splitlines()[0]
'rules.toml: 1 problem'
"""

from __future__ import annotations

from dataclasses import dataclass

from fraud_brain.errors import ConfigError


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong in a rule file."""

    path: str
    rule: str | None
    field: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        parts = [where]
        if self.rule is not None:
            parts.append(f"rule {self.rule!r}")
        if self.field is not None:
            parts.append(self.field)
        return ": ".join(parts) + f": {self.message}"


class RuleFileError(ConfigError):
    """A rule file that failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: list[RuleProblem]):
        self.problems = list(problems)
        path = self.problems[0].path if self.problems else "<rules>"
        count = len(self.problems)
        header = f"{path}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))
