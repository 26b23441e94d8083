"""The analyst notebooks execute top to bottom (nbclient, the venv's python3 kernel)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .helpers import write_data_folder

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """Sample data when it is committed (else a small synthetic folder); a scratch registry
    seeded with the committed models, so publishing never touches the repository."""
    sample = ROOT / "data" / "sample"
    data = sample if any(sample.glob("transfers.*")) else write_data_folder(tmp_path_factory.mktemp("world"))
    models = tmp_path_factory.mktemp("models")
    if (ROOT / "models").is_dir():
        shutil.copytree(ROOT / "models", models, dirs_exist_ok=True)
    return {"FRAUD_BRAIN_ROOT": str(ROOT), "FRAUD_BRAIN_DATA": str(data), "FRAUD_BRAIN_MODELS": str(models),
            "FRAUD_BRAIN_ROUNDS": "60"}


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert "01_explore_train_evaluate.ipynb" in names and "02_compare_and_publish.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, environment, monkeypatch):
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        o
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
    if path.name.startswith("02_"):
        versions = sorted(p.name for p in (Path(environment["FRAUD_BRAIN_MODELS"]) / "transfer").glob("v*"))
        assert versions, "the publish notebook published nothing"
