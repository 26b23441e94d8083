"""The serving API: FastAPI app with API-key roles, bulk ingest, pre-transfer checks, the case desk and console.

:func:`create_app` builds the app; ``fraud-brain serve`` runs it under uvicorn.
"""

from fraud_brain.api.app import create_app
from fraud_brain.api.auth import ROLES, KeyRing, Principal, hash_key
from fraud_brain.api.desk import CaseDesk, DeskError
from fraud_brain.api.masking import mask_phone
from fraud_brain.api.settings import ApiSettings

__all__ = [
    "ROLES", "ApiSettings", "CaseDesk", "DeskError", "KeyRing", "Principal", "create_app", "hash_key", "mask_phone",
]
