"""The API talks to a typed port: no getattr/hasattr/type-ignore in it, and the brain offers every call."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from fraud_brain.api.context import Engine
from fraud_brain.pipeline.brain import Brain

API = Path(__file__).resolve().parents[2] / "fraud_brain" / "api"


def test_the_api_has_no_duck_typing() -> None:
    found = []
    for path in sorted(API.rglob("*.py")):
        text = path.read_text()
        if "type: ignore" in text:
            found.append(f"{path.name}: type: ignore")
        for node in ast.walk(ast.parse(text)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr")):
                found.append(f"{path.name}:{node.lineno}: {node.func.id}")
    assert not found, found


def test_the_brain_offers_every_call_of_the_port_with_the_same_parameters() -> None:
    members = [name for name in vars(Engine) if not name.startswith("_")]
    assert {"ingest", "ingest_validated", "check_transfer", "entity_risk", "add_labels", "reload", "flush", "pump",
            "snapshot", "store", "cases", "versions"} <= set(members)
    attributes = set(inspect.signature(Brain.__init__).parameters)
    for name in members:
        port = vars(Engine)[name]
        if isinstance(port, property):
            assert hasattr(Brain, name) or name in attributes, name
            continue
        ours = getattr(Brain, name)
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(port).parameters), name
