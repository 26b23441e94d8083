"""Run mypy and fail only on errors that are not in the committed baseline; report the ones fixed since.

The baseline (``.ci/mypy_baseline.txt``) lists known errors as ``file: [code] message``, one a
line, without line numbers, so moving code around does not break the check; an error that
occurs twice in a file is listed twice. Usage, from the repository root::

    python .ci/mypy_check.py            # fail (exit 1) on any error not in the baseline
    python .ci/mypy_check.py --update   # rewrite the baseline from the current errors

The baseline is meant to shrink: when errors are fixed, the check says how many entries are
gone and asks for ``--update``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".ci" / "mypy_baseline.txt"
_ERROR = re.compile(
    r"^(?P<file>[^:\s][^:]*):(?P<line>\d+)(?::\d+)?: error: (?P<message>.*?)\s+\[(?P<code>[a-z0-9-]+)\]$"
)
_LINE_REF = re.compile(r"\bline \d+\b")


def parse(output: str) -> list[tuple[str, str]]:
    """(baseline entry, original line) for every error line of mypy's output.

    >>> out = 'fraud_brain/x.py:12: error: Name "a" already defined on line 3  [no-redef]\\nFound 1 error'
    >>> parse(out)[0][0]
    'fraud_brain/x.py: [no-redef] Name "a" already defined on line N'
    """
    found = []
    for raw in output.splitlines():
        match = _ERROR.match(raw.strip())
        if match:
            # Messages may cite other lines ("already defined on line 3"): those move with the code too.
            message = _LINE_REF.sub("line N", match["message"])
            found.append((f"{Path(match['file']).as_posix()}: [{match['code']}] {message}", raw.strip()))
    return found


def run_mypy(extra: list[str]) -> tuple[int, str]:
    """mypy's exit code and output, with the settings of ``[tool.mypy]`` in pyproject.toml."""
    command = [sys.executable, "-m", "mypy", "--no-pretty", "--no-error-summary", "--show-error-codes",
               "--hide-error-context", "--no-color-output", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def compare(current: list[str], baseline: list[str]) -> tuple[list[str], list[str]]:
    """Entries new since the baseline, and baseline entries no longer seen (each counted with multiplicity).

    >>> compare(["a: [x] m", "a: [x] m", "b: [y] n"], ["a: [x] m", "c: [z] o"])
    (['a: [x] m', 'b: [y] n'], ['c: [z] o'])
    """
    now, known = Counter(current), Counter(baseline)
    return sorted((now - known).elements()), sorted((known - now).elements())


def main(argv: list[str] | None = None) -> int:
    """Check (or with ``--update`` rewrite) the baseline; 0 when no new error appeared."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the baseline from the current errors")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    args, extra = parser.parse_known_args(argv)
    shown = args.baseline.resolve()
    shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
    code, output = run_mypy(extra)
    errors = parse(output)
    if code not in (0, 1) or (code == 1 and not errors):
        print(output, file=sys.stderr)
        print(f"mypy did not run cleanly (exit code {code})", file=sys.stderr)
        return 2
    current = [entry for entry, _ in errors]
    if args.update:
        args.baseline.write_text("".join(f"{entry}\n" for entry in sorted(current)))
        print(f"{shown}: {len(current)} known error(s) written")
        return 0
    known = args.baseline.read_text().splitlines() if args.baseline.exists() else []
    baseline = [line for line in known if line.strip()]
    new, gone = compare(current, baseline)
    if gone:
        print(f"mypy: {len(gone)} baseline entr{'y is' if len(gone) == 1 else 'ies are'} gone (fixed); "
              f"shrink the baseline with: python .ci/mypy_check.py --update")
    if new:
        remaining = Counter(new)
        print(f"mypy: {len(new)} new error(s) not in {shown}:")
        for entry, raw in errors:
            if remaining[entry] > 0:
                remaining[entry] -= 1
                print(f"  {raw}")
        return 1
    print(f"mypy: no new errors ({len(current)} known, baseline {len(baseline)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
