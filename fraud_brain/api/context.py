"""What every route needs: the engine (if any), the desk, keys, metrics and the alert hub; and role checks.

>>> from fraud_brain.api.auth import hash_key
>>> ring = KeyRing.parse_env(f"alice:agent:{hash_key('k')}")
>>> ApiContext(engine=None, desk=None, keys=ring, metrics=None, hub=None).keys.lookup("k").role
'agent'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import polars as pl
from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from fraud_brain.actions.cases import CaseService
from fraud_brain.api.auth import KeyRing, Principal
from fraud_brain.api.desk import CaseDesk
from fraud_brain.api.events import AlertHub
from fraud_brain.api.metrics import ApiMetrics
from fraud_brain.api.worker import EngineThread
from fraud_brain.pipeline.brain import CheckResult, EntityRisk, IngestReport
from fraud_brain.schema.validate import ValidationResult
from fraud_brain.store.base import Repository

if TYPE_CHECKING:
    from fraud_brain.features.spec import Spec

T = TypeVar("T")


class Engine(Protocol):
    """The API's port to the scoring pipeline: every call the routes make, typed
    (:class:`fraud_brain.pipeline.brain.Brain` implements it; the composition root builds it)."""

    @property
    def store(self) -> Repository:
        """The case store the pipeline writes alerts, cases and actions to."""
        ...

    @property
    def cases(self) -> CaseService:
        """The case rules (claim, outcome, stop-payment) over that store and the pipeline's workflow."""
        ...

    @property
    def spec(self) -> Spec:
        """The running feature spec: its streams, record schemas and label entity types."""
        ...

    @property
    def versions(self) -> dict[str, str]:
        """Running model versions and the rules' version."""
        ...

    @property
    def recovery(self) -> dict[str, Any]:
        """How the state was recovered at start (snapshot, WAL seqs, snapshots skipped as damaged)."""
        ...

    def ingest(self, kind: str, raw: pl.DataFrame, source: str) -> IngestReport:
        """Validate, featurize, score and act on a batch of a scored stream."""
        ...

    def ingest_validated(self, result: ValidationResult, source: str, stream: str | None = None) -> IngestReport:
        """:meth:`ingest` of a batch already validated."""
        ...

    def check_transfer(self, raw: dict[str, Any]) -> CheckResult:
        """The synchronous pre-transfer check; changes no state."""
        ...

    def entity_risk(self, entity_type: str, entity_id: str) -> EntityRisk:
        """The latest score of an entity (``MissingInputError`` if never scored)."""
        ...

    def add_labels(self, raw: pl.DataFrame, source: str) -> IngestReport:
        """Confirmed outcomes: engine state and online learning."""
        ...

    def reload(self) -> dict[str, Any]:
        """Reload models, rules and policy; what was reloaded or kept, and why."""
        ...

    def flush(self) -> IngestReport:
        """Release every buffered event now."""
        ...

    def pump(self, now: datetime | None = None) -> dict[str, int]:
        """Run the workflow's timers and deliver due actions once."""
        ...

    def snapshot(self) -> None:
        """Persist the streaming state so a restart continues from it."""
        ...


@dataclass
class ApiContext:
    """The shared state of one app, kept on ``app.state.ctx``."""

    engine: Engine | None
    desk: CaseDesk | None
    keys: KeyRing
    metrics: ApiMetrics | None
    hub: AlertHub | None
    worker: EngineThread | None = None

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run an engine or store call on the engine thread (inline when the app has none)."""
        if self.worker is None:
            return fn(*args, **kwargs)
        return await self.worker.run(fn, *args, **kwargs)

    def require_engine(self) -> Engine:
        """The engine, or a 503 saying the server runs without one."""
        if self.engine is None:
            raise HTTPException(503, "this server runs without the scoring pipeline (case desk only); "
                                     "scoring endpoints are unavailable")
        return self.engine

    def require_desk(self) -> CaseDesk:
        """The case desk, or a 503 saying the server has no store."""
        if self.desk is None:
            raise HTTPException(503, "this server has no case store")
        return self.desk


def get_ctx(request: Request) -> ApiContext:
    """The app's :class:`ApiContext` (a FastAPI dependency)."""
    return request.app.state.ctx


_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting only keys whose role is in ``roles``: 401 without a valid key, 403 for another role."""
    allowed = frozenset(roles)

    def check(
        ctx: ApiContext = Depends(get_ctx),
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
        header_key: str | None = Security(_header),
    ) -> Principal:
        key = bearer.credentials if bearer is not None else header_key
        principal = ctx.keys.lookup(key) if key else None
        if principal is None:
            raise HTTPException(401, "a valid API key is required (Authorization: Bearer KEY or X-API-Key)",
                                headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in allowed:
            raise HTTPException(403, f"role {principal.role!r} may not use this endpoint; allowed: {sorted(allowed)}")
        return principal

    return check
