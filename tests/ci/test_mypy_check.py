"""The mypy baseline check: new errors fail, known ones pass wherever they move, fixed ones are reported."""

from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "mypy_check.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mypy_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load()


def test_the_examples_in_the_script_hold() -> None:
    assert doctest.testmod(check).failed == 0


def test_an_error_moved_to_another_line_is_still_the_known_one() -> None:
    before = check.parse('pkg/a.py:10: error: Incompatible types in assignment  [assignment]')
    after = check.parse('pkg/a.py:42: error: Incompatible types in assignment  [assignment]')
    expected = ["pkg/a.py: [assignment] Incompatible types in assignment"]
    assert [e for e, _ in before] == [e for e, _ in after] == expected


def test_a_second_copy_of_a_known_error_is_new() -> None:
    new, gone = check.compare(["a: [x] m", "a: [x] m"], ["a: [x] m"])
    assert (new, gone) == (["a: [x] m"], [])


def test_new_errors_fail_known_ones_pass_and_fixed_ones_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = tmp_path / "module.py"
    baseline = tmp_path / "baseline.txt"
    code.write_text('count: int = "three"\n')
    assert check.main(["--baseline", str(baseline), str(code)]) == 1
    assert "1 new error(s)" in capsys.readouterr().out
    assert check.main(["--baseline", str(baseline), "--update", str(code)]) == 0
    assert "[assignment]" in baseline.read_text()
    code.write_text('\n\ncount: int = "three"\n')  # the same error, two lines further down
    assert check.main(["--baseline", str(baseline), str(code)]) == 0
    code.write_text("count: int = 3\n")
    assert check.main(["--baseline", str(baseline), str(code)]) == 0
    assert "1 baseline entry is gone" in capsys.readouterr().out
