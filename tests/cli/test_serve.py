"""``fraud-brain api-key``: its output is safe to append to a keys file, whatever the name."""

from __future__ import annotations

import tomllib

import pytest
from typer.testing import CliRunner

from fraud_brain.api.auth import KeyRing
from fraud_brain.cli import app

runner = CliRunner()


@pytest.mark.parametrize("name", ['ops "night" desk', 'x"\nrole = "admin', "a\\b", "王 警官", "x' # y"])
def test_api_key_output_is_safe_to_append(tmp_path, name: str) -> None:
    result = runner.invoke(app, ["api-key", "--name", name, "--role", "agent"])
    if any(not ch.isprintable() for ch in name):
        assert result.exit_code == 2 and "printable" in result.output
        return
    assert result.exit_code == 0, result.output
    keys_file = tmp_path / "keys.toml"
    keys_file.write_text(result.stdout)
    entries = tomllib.loads(keys_file.read_text())["key"]
    assert entries == [{"name": name, "role": "agent", "sha256": entries[0]["sha256"]}]
    key = result.stdout.split(": ")[-1].splitlines()[0].strip()
    principal = KeyRing.load_file(keys_file).lookup(key)
    assert principal is not None and principal.role == "agent" and principal.name == name
