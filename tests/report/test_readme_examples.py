"""The README's spec and rule examples are the bundled files' own text."""

from __future__ import annotations

import re
from pathlib import Path

from fraud_brain.features import bundled_spec_path
from fraud_brain.rules import DEFAULT_RULES_PATH

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _strip(text: str) -> list[str]:
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in text.splitlines()]
    return [line for line in lines if line]


def test_feature_example_is_in_the_bundled_spec():
    example = README.split('```toml\n[[aggregate]]\nname = "callee_risky_call_minutes_max"')[1].split("```")[0]
    spec = "\n".join(_strip(bundled_spec_path("telecom").read_text()))
    body = "\n".join(_strip('name = "callee_risky_call_minutes_max"' + example))
    assert body in spec


def test_rule_example_is_in_the_bundled_rules():
    example = README.split('  ```toml\n  [[rule]]\n  name = "risky_call_then_transfer"')[1].split("```")[0]
    rules = "\n".join(_strip(DEFAULT_RULES_PATH.read_text()))
    assert "\n".join(_strip('name = "risky_call_then_transfer"' + example)) in rules
