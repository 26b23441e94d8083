"""The README's schema tables are the schemas (made by ``fraud-brain data schema``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraud_brain.report.schema_doc import schema_markdown
from fraud_brain.schema import SCHEMAS

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("kind", list(SCHEMAS))
def test_readme_shows_each_schema_as_it_is(kind):
    assert schema_markdown(kind) in README.read_text()


def test_readme_starts_with_the_two_commands():
    lines = README.read_text().splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert [line.split()[:2] for line in block] == [["make", "run"], ["make", "test"]]
