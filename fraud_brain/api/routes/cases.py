"""For agents (and analysts, admins): the case queue, case detail, claim, call, outcome, stop-payment, live events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from fraud_brain.api.auth import Principal
from fraud_brain.api.context import ApiContext, get_ctx, require
from fraud_brain.api.desk import DeskError
from fraud_brain.api.responses import OrjsonResponse
from fraud_brain.vocabulary import AgentDisposition

router = APIRouter(tags=["cases"])
_READERS = ("agent", "analyst", "admin")
_ACTORS = ("agent", "admin")
CaseId = int


class ClaimRequest(BaseModel):
    """Claim a case; ``force`` lets an admin take a case held by another agent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"force": False}]})
    force: bool = False


class CallRequest(BaseModel):
    """An agent starts calling the victim."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "second attempt"}]})
    note: str | None = Field(default=None, max_length=2000)


class OutcomeRequest(BaseModel):
    """How the agent closed the case."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"disposition": "prevented", "note": "victim stopped the transfer"}]},
    )
    disposition: AgentDisposition
    note: str | None = Field(default=None, max_length=2000)


class StopPaymentRequest(BaseModel):
    """Ask the payee's bank to hold a transfer; the case's latest transfer when ``transfer_id`` is omitted."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"transfer_id": "t-20261101-0001"}]})
    transfer_id: str | None = Field(default=None, max_length=64)


async def _run(ctx: ApiContext, call: Any) -> OrjsonResponse:
    try:
        return OrjsonResponse(await ctx.call(call))
    except DeskError as error:
        raise HTTPException(error.status, str(error)) from None


def _case_id(case_id: int) -> int:
    if not 0 < case_id < 2**62:
        raise HTTPException(404, f"case {case_id} does not exist")
    return case_id


@router.get("/v1/cases", summary="The case queue")
async def list_cases(
    status: Literal["open", "closed", "all"] = "open",
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(require(*_READERS)),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """Cases, most urgent tier first then latest alert; agents see numbers masked on cases not assigned to them."""
    desk = ctx.require_desk()
    return await _run(ctx, lambda: {"cases": desk.list_cases(principal, None if status == "all" else status, limit)})


@router.get("/v1/cases/{case_id}", summary="One case: reasons, alerts, timeline, actions")
async def case_detail(case_id: int, principal: Principal = Depends(require(*_READERS)),
                      ctx: ApiContext = Depends(get_ctx)) -> OrjsonResponse:
    """The case with its reason sentences, call/transfer alerts, timeline and actions (viewing is audited)."""
    desk = ctx.require_desk()
    return await _run(ctx, lambda: desk.case_detail(_case_id(case_id), principal))


def _changed(ctx: ApiContext, case_id: int, what: str) -> None:
    if ctx.hub is not None:
        ctx.hub.publish("case", {"case_id": case_id, "change": what})


@router.post("/v1/cases/{case_id}/claim", summary="Claim a case")
async def claim(case_id: int, body: ClaimRequest | None = None, principal: Principal = Depends(require(*_ACTORS)),
                ctx: ApiContext = Depends(get_ctx)) -> OrjsonResponse:
    """Assign the case to the caller (409 if another agent holds it)."""
    desk = ctx.require_desk()
    response = await _run(ctx, lambda: desk.claim(_case_id(case_id), principal, force=bool(body and body.force)))
    _changed(ctx, case_id, "claimed")
    return response


@router.post("/v1/cases/{case_id}/release", summary="Give a case back to the queue")
async def release(case_id: int, principal: Principal = Depends(require(*_ACTORS)),
                  ctx: ApiContext = Depends(get_ctx)) -> OrjsonResponse:
    """Un-assign a case you hold."""
    desk = ctx.require_desk()
    response = await _run(ctx, lambda: desk.release(_case_id(case_id), principal))
    _changed(ctx, case_id, "released")
    return response


@router.post("/v1/cases/{case_id}/call", summary="Start calling the victim")
async def call(case_id: int, body: CallRequest | None = None, principal: Principal = Depends(require(*_ACTORS)),
               ctx: ApiContext = Depends(get_ctx)) -> OrjsonResponse:
    """Record the call in the timeline and audit log; returns the number to dial (case must be yours)."""
    desk = ctx.require_desk()
    return await _run(ctx, lambda: desk.log_call(_case_id(case_id), principal, body.note if body else None))


@router.post("/v1/cases/{case_id}/outcome", summary="Record the outcome and close the case")
async def outcome(case_id: int, body: OutcomeRequest, principal: Principal = Depends(require(*_ACTORS)),
                  ctx: ApiContext = Depends(get_ctx)) -> OrjsonResponse:
    """Prevented, victim confirmed scam, false alarm or unreachable; closes the case and makes labels."""
    desk = ctx.require_desk()
    response = await _run(ctx, lambda: desk.record_outcome(_case_id(case_id), principal, body.disposition, body.note))
    _changed(ctx, case_id, "closed")
    return response


@router.post("/v1/cases/{case_id}/stop-payment", summary="Request an emergency stop-payment")
async def stop_payment(case_id: int, body: StopPaymentRequest | None = None,
                       principal: Principal = Depends(require(*_ACTORS)),
                       ctx: ApiContext = Depends(get_ctx)) -> OrjsonResponse:
    """Queue a stop-payment to the payee's bank for a transfer in the case (at most twice per payee account)."""
    desk = ctx.require_desk()
    transfer_id = body.transfer_id if body else None
    response = await _run(ctx, lambda: desk.request_stop_payment(_case_id(case_id), principal, transfer_id))
    if ctx.metrics is not None:
        ctx.metrics.actions.labels(kind="stop_payment").inc()
    _changed(ctx, case_id, "stop_payment")
    return response


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@router.get("/v1/events", summary="Live alerts and case changes (server-sent events)",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request, principal: Principal = Depends(require(*_READERS)),
                 ctx: ApiContext = Depends(get_ctx)) -> StreamingResponse:
    """A text/event-stream of ``alerts`` (new alerts: reload the queue), ``case`` (a case changed)
    and ``resync`` events."""
    hub = ctx.hub
    if hub is None:
        raise HTTPException(503, "this server has no event hub")
    settings = request.app.state.settings
    if len(hub) >= settings.max_event_streams:
        raise HTTPException(
            429, f"too many open event streams (limit {settings.max_event_streams})", headers={"Retry-After": "5"},
        )
    queue = hub.subscribe()
    if ctx.metrics is not None:
        ctx.metrics.event_streams.inc()

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield _sse("hello", {"user": principal.name, "role": principal.role})
            while True:
                try:
                    kind, data = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                yield _sse(kind, data)
        finally:
            hub.unsubscribe(queue)
            if ctx.metrics is not None:
                ctx.metrics.event_streams.dec()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
