"""The FastAPI application: routers, limits, metrics, error handling and the agents' console.

``create_app(brain, settings)`` serves the full API over a scoring pipeline; with
``brain=None`` and a ``store`` it serves the case desk and console only (scoring endpoints
answer 503). Engine and store calls run on the event loop thread: the SQLite store and the
streaming state are single-threaded by design, and one worker serializes them for free.

>>> from fraud_brain.store import SQLiteRepository
>>> app = create_app(None, ApiSettings(), store=SQLiteRepository(":memory:"))
>>> sorted(p for p in app.openapi()["paths"] if p.startswith("/v1/cases"))[:2]
['/v1/cases', '/v1/cases/{case_id}']
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount, Route, WebSocketRoute

from fraud_brain.actions.clock import Clock
from fraud_brain.api.auth import KeyRing, key_from_headers
from fraud_brain.api.context import ApiContext, Engine
from fraud_brain.api.desk import CaseDesk
from fraud_brain.api.errors import register_error_handlers
from fraud_brain.api.events import AlertHub
from fraud_brain.api.limits import LimitsMiddleware, RequestLimits
from fraud_brain.api.metrics import ApiMetrics
from fraud_brain.api.responses import OrjsonResponse
from fraud_brain.api.routes import admin, bank, cases, feeds
from fraud_brain.api.security import SecurityHeaders
from fraud_brain.api.settings import ApiSettings
from fraud_brain.api.worker import EngineThread
from fraud_brain.store.base import Repository

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("fraud_brain.api")


class _Timing:
    """ASGI middleware observing each request's latency under its route template (not its raw path)."""

    def __init__(self, app: Any, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = scope.get("route")
            template = route.path if isinstance(route, Route | WebSocketRoute | Mount) else "unmatched"
            self.metrics.requests.labels(route=template, method=scope.get("method", ""),
                                         status=f"{status[0] // 100}xx").observe(time.perf_counter() - start)


def _queue_depths(desk: CaseDesk) -> dict[tuple[str, str], float]:
    """Outbox rows by status and open agent tasks (read on the engine thread)."""
    depths: dict[tuple[str, str], float] = {}
    for status, count in desk.store.action_status_counts().items():
        depths[("outbox", status)] = float(count)
    depths[("agent_tasks", "open")] = float(desk.store.count_open_agent_tasks())
    return depths


async def _pump(ctx: ApiContext, brain: Engine, hub: AlertHub, every: float) -> None:
    """Run the engine's workflow timers and outbox now and then; a failing run is logged and retried."""
    while True:
        await asyncio.sleep(every)
        try:
            done = await ctx.call(brain.pump)
        except Exception:
            log.exception("the action workflow pump failed; retrying in %.1f s", every)
            continue
        if any(done.values()):
            hub.publish("case", {"case_id": None, "change": "workflow", **done})


def create_app(
    brain: Engine | None,
    settings: ApiSettings | None = None,
    *,
    store: Repository | None = None,
    keys: KeyRing | None = None,
    clock: Clock | None = None,
    worker: EngineThread | None = None,
) -> FastAPI:
    """The API over ``brain`` (its ``store`` holds the cases), or over ``store`` alone for a desk-only server.

    With a ``worker``, the brain and store must have been opened on that thread (see
    :class:`~fraud_brain.api.worker.EngineThread`); every call on them then runs there.
    """
    settings = settings or ApiSettings()
    if store is None and brain is not None:
        store = brain.store
    keys = keys if keys is not None else KeyRing.from_sources(settings.keys_file, settings.keys_env)
    metrics = ApiMetrics()
    if brain is not None:
        desk: CaseDesk | None = CaseDesk(brain.store, cases=brain.cases)
    else:
        desk = CaseDesk(store, clock=clock) if store is not None else None
    hub = AlertHub(settings.event_queue_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pump = None
        if brain is not None and settings.pump_seconds > 0:
            pump = asyncio.create_task(_pump(ctx, brain, hub, settings.pump_seconds))
        try:
            yield
        finally:
            if pump is not None:
                pump.cancel()
            if brain is not None:
                # A restart continues from here rather than from an empty state.
                await ctx.call(brain.snapshot)

    app = FastAPI(
        lifespan=lifespan,
        title="fraud_brain",
        version="0.1.0",
        description="Streaming risk scoring for telecom and payment fraud: feeds in, pre-transfer checks for banks, "
                    "the agents' case queue. Authenticate with an API key (`Authorization: Bearer KEY`).",
        default_response_class=OrjsonResponse,
    )
    ctx = ApiContext(engine=brain, desk=desk, keys=keys, metrics=metrics, hub=hub, worker=worker)
    app.state.ctx = ctx
    depths: dict[tuple[str, str], float] = {}
    app.state.settings = settings
    for router in (feeds.router, bank.router, cases.router, admin.router):
        app.include_router(router)
    metrics.watch_queues(lambda: depths)
    if brain is not None:
        metrics.model_versions.info(dict(brain.versions))

    register_error_handlers(app)

    @app.get("/health", tags=["ops"], summary="Liveness and readiness")
    async def health() -> OrjsonResponse:
        """Whether the engine and store are there and the store answers."""
        store_ok, status = True, "ok"
        if desk is not None:
            try:
                await asyncio.wait_for(ctx.call(desk.store.schema_version), timeout=5)
            except TimeoutError:
                status = "busy"  # alive, but the engine thread has been working on one call for 5 s
            except Exception:
                store_ok, status = False, "degraded"
        body: dict[str, Any] = {"status": status, "engine": brain is not None,
                                "store": desk is not None and store_ok, "event_streams": len(hub)}
        if brain is not None:
            recovery = brain.recovery
            body["recovery"] = recovery
            if recovery.get("skipped_snapshots"):
                body["warnings"] = [f"started from an older snapshot; skipped {reason}"
                                    for reason in recovery["skipped_snapshots"]]
        return OrjsonResponse(body, status_code=200 if store_ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    async def prometheus(request: Request) -> Response:
        """Events, latency histograms, alerts, actions, queue depths and model versions in the Prometheus format."""
        if not settings.metrics_public:
            key = key_from_headers(request.headers.get("authorization"), request.headers.get("x-api-key"))
            principal = keys.lookup(key) if key else None
            if principal is None:
                raise HTTPException(401, "a valid API key is required for /metrics",
                                    headers={"WWW-Authenticate": "Bearer"})
            if principal.role not in ("analyst", "admin"):
                raise HTTPException(403, f"role {principal.role!r} may not read /metrics; "
                                         "allowed: ['admin', 'analyst']")
        if desk is not None:
            # the engine is busy: export the depths of the previous scrape
            with contextlib.suppress(TimeoutError):
                depths.update(await asyncio.wait_for(ctx.call(_queue_depths, desk), timeout=5))
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    app.mount("/console", StaticFiles(directory=STATIC, html=True), name="console")
    limits = RequestLimits(settings.max_in_flight, settings.max_body_bytes, settings.max_small_body_bytes)
    app.add_middleware(_Timing, metrics=metrics)
    app.add_middleware(LimitsMiddleware, limits=limits,
                       on_reject=lambda reason: metrics.rejected.labels(reason=reason).inc())
    app.add_middleware(SecurityHeaders)
    return app


__all__ = ["ApiSettings", "HTTPException", "create_app"]
