"""Data shipped inside the package: the champion models and the sample data folder.

``pip install`` of fraud_brain carries them, so ``fraud-brain run`` and ``serve`` work from any
folder; in a source checkout they are the repository's ``models/`` and ``data/sample/``.

>>> (models_dir() / "transfer" / "CHAMPION").is_file(), (sample_dir() / "transfers.parquet").is_file()
(True, True)
"""

from __future__ import annotations

from pathlib import Path

from fraud_brain.errors import MissingInputError

_HERE = Path(__file__).resolve().parent


def models_dir() -> Path:
    """The bundled model registry (its champions score unless ``--models-dir`` names another)."""
    found = _HERE / "models"
    if not found.is_dir():
        raise MissingInputError(f"no models are bundled with this installation ({found}); give --models-dir")
    return found.resolve()


def sample_dir() -> Path:
    """The bundled sample data folder (``fraud-brain run`` without a folder runs on it)."""
    found = _HERE / "sample"
    if not found.is_dir():
        raise MissingInputError(f"no sample data is bundled with this installation ({found}); give a data folder")
    return found.resolve()
