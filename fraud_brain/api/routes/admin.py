"""For admins: hot reload of models and rules, and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from fraud_brain.api.auth import Principal
from fraud_brain.api.context import ApiContext, get_ctx, require
from fraud_brain.api.responses import OrjsonResponse

router = APIRouter(tags=["admin"])


@router.post("/v1/admin/reload", summary="Reload models and rules")
async def reload(
    principal: Principal = Depends(require("admin")), ctx: ApiContext = Depends(get_ctx)
) -> OrjsonResponse:
    """Hot-reload models and rules; a failed reload keeps the running ones and says why (audited either way)."""
    engine = ctx.require_engine()
    try:
        result = await ctx.call(engine.reload)
    except Exception as error:  # the old configuration keeps running; report why the new one did not load
        if ctx.desk is not None:
            await ctx.call(ctx.desk.audit, principal, "reload_failed", "models+rules", {"error": str(error)})
        raise HTTPException(409, f"reload failed, the previous models and rules stay in use: {error}") from None
    if ctx.desk is not None:
        await ctx.call(ctx.desk.audit, principal, "reload", "models+rules", {k: str(v) for k, v in result.items()})
    if ctx.metrics is not None:
        ctx.metrics.model_versions.info({str(k): str(v) for k, v in result.items()})
    return OrjsonResponse(result)


@router.post("/v1/admin/flush", summary="Release every buffered event now")
async def flush(principal: Principal = Depends(require("admin")), ctx: ApiContext = Depends(get_ctx)) -> OrjsonResponse:
    """Score events still held back for late arrivals (end of a replay, before a shutdown); audited."""
    engine = ctx.require_engine()
    report = await ctx.call(engine.flush)
    if ctx.desk is not None:
        flushed = {"scored": report.scored.height, "alerts": report.alerts}
        await ctx.call(ctx.desk.audit, principal, "flush", "engine", flushed)
    if report.alerts and ctx.hub is not None:
        ctx.hub.publish("alerts", {"count": report.alerts, "kind": "flush"})
    if ctx.metrics is not None:
        ctx.metrics.alerts.inc(report.alerts)
    return OrjsonResponse({"alerts": report.alerts, "scored": report.scored.to_dicts()})


@router.get("/v1/audit", summary="The audit log, newest first")
async def audit_log(limit: int = Query(100, ge=1, le=10_000), principal: Principal = Depends(require("admin")),
                    ctx: ApiContext = Depends(get_ctx)) -> OrjsonResponse:
    """Every agent and admin action: who, what, on which case, when."""
    desk = ctx.require_desk()
    return OrjsonResponse({"entries": await ctx.call(desk.audit_log, limit)})
