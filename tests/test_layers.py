"""The import layers: data flows one way, and the API talks to ports, not to adapters or store internals.

schema → io (and the durable state) → sim/features → scoring → rules → actions/store → pipeline →
api/cli/report; the vocabulary, the error hierarchy and the bundled data sit below them all.
Every import in the package (module level or inside a function) goes to the same layer or an
earlier one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fraud_brain"

LAYERS: dict[str, int] = {
    "errors": 0, "vocabulary": 0, "bundled": 0,
    "schema": 1,
    "io": 2, "durability": 2,
    "sim": 3, "features": 3,
    "scoring": 4,
    "rules": 5,
    "actions": 6, "store": 6,
    "pipeline": 7,
    "api": 8, "cli": 8, "report": 8,
}
API_FORBIDDEN = ("fraud_brain.actions.adapters", "fraud_brain.store.sqlite", "fraud_brain.store.migrations")
"""The API reaches the workflow through the case service and the engine port, the store through its interface."""


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "fraud_brain" else None


def _imports(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """Every ``fraud_brain`` module a source file imports, with the line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("fraud_brain")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("fraud_brain"):
                found.append((node.lineno, module))
    return found


def _sources(root: Path = PACKAGE) -> list[Path]:
    return sorted(root.rglob("*.py"))


def _violations(root: Path = PACKAGE) -> list[str]:
    wrong = []
    for path in _sources(root):
        own = _part(".".join(path.relative_to(root.parent).with_suffix("").parts))
        if own is None or own not in LAYERS:
            continue
        for line, module in _imports(path, root):
            target = _part(module)
            if target is not None and target in LAYERS and LAYERS[target] > LAYERS[own]:
                wrong.append(f"{path.relative_to(root.parent)}:{line}: {own} imports {module}")
    return wrong


def test_every_module_belongs_to_a_layer() -> None:
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _sources()} - {"__init__", "__main__"}
    assert tops <= set(LAYERS), sorted(tops - set(LAYERS))


def test_no_layer_imports_a_later_one() -> None:
    wrong = _violations()
    assert not wrong, "\n".join(wrong)


def test_the_api_imports_no_adapter_and_no_store_internals() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {module}"
        for path in sorted((PACKAGE / "api").rglob("*.py"))
        for line, module in _imports(path)
        if module.startswith(API_FORBIDDEN)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The check itself: a store module importing the pipeline (relatively, inside a function) is caught."""
    root = tmp_path / "fraud_brain"
    (root / "store").mkdir(parents=True)
    (root / "store" / "bad.py").write_text("def f():\n    from ..pipeline import brain\n")
    (root / "store" / "good.py").write_text("from fraud_brain.schema import records\nimport numpy\n")
    assert _violations(root) == ["fraud_brain/store/bad.py:2: store imports fraud_brain.pipeline"]
