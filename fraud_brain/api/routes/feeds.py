"""Bulk intake for telecom and bank feeds: ingest, validate-only, labels, and rule decisions.

Bodies are JSON (array or ``{"records": [...]}``), JSON lines, Arrow IPC or Parquet, decoded
column-wise. A batch with bad records is refused whole with 422 listing each bad record's index,
id, field and reason, unless ``partial=true`` (then good records go in, bad ones to dead letters).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request

from fraud_brain.actions import decision_frame
from fraud_brain.api.auth import Principal
from fraud_brain.api.bodies import BodyError, decode_records
from fraud_brain.api.context import ApiContext, get_ctx, require
from fraud_brain.api.responses import OrjsonResponse, record_errors
from fraud_brain.errors import InputError
from fraud_brain.schema.validate import validate

router = APIRouter(tags=["feeds"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"type": "object"}},
                "example": [{"call_id": "c-1", "start_time": "2026-11-01T08:00:00Z", "caller": "17012345678",
                             "callee": "13800000001", "duration_s": 1500, "disposition": "answered",
                             "caller_type": "mobile"}],
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_INGEST_ROLES = {"call": ("feed", "admin"), "transfer": ("bank", "admin")}


def _decode_and_validate(body: bytes, content_type: str | None, kind: str) -> tuple[Any, Any]:
    raw = decode_records(body, content_type)
    return raw, (validate(raw, kind) if raw.height else None)


async def _decode(request: Request, kind: str) -> tuple[Any, Any]:
    """The body's records and their validation (both CPU work on another thread, one hop)."""
    body = await request.body()
    try:
        # Decoding is CPU work on another thread, so the loop keeps answering meanwhile.
        raw, result = await asyncio.to_thread(_decode_and_validate, body, request.headers.get("content-type"), kind)
    except BodyError as error:
        raise HTTPException(error.status, str(error)) from None
    if raw.height == 0:
        raise HTTPException(422, f"the body holds no {kind} records")
    return raw, result


def _refuse(kind: str, result: Any, ctx: ApiContext) -> OrjsonResponse:
    if ctx.metrics is not None:
        ctx.metrics.events.labels(kind=kind, result="refused").inc(result.valid.height + result.rejected.height)
    return OrjsonResponse(
        {"detail": f"{result.rejected.height} of {result.valid.height + result.rejected.height} {kind} record(s) are invalid; "
                   "nothing was ingested (send partial=true to ingest the valid ones)",
         "errors": record_errors(kind, result.errors)},
        status_code=422,
    )


@router.post("/v1/ingest/{kind}", openapi_extra=_BODY_DOC, summary="Ingest a batch of calls or transfers")
async def ingest(
    kind: Literal["call", "transfer"],
    request: Request,
    partial: bool = Query(False, description="Ingest the valid records and report the invalid ones instead of refusing the batch"),
    principal: Principal = Depends(require("feed", "bank", "admin")),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """Validate, score and act on a batch of call records (feeds) or transfers (banks)."""
    if principal.role not in _INGEST_ROLES[kind]:
        raise HTTPException(403, f"role {principal.role!r} may not ingest {kind} records; allowed: {list(_INGEST_ROLES[kind])}")
    engine = ctx.require_engine()
    _, result = await _decode(request, kind)
    if not result.ok and not partial:
        return _refuse(kind, result, ctx)
    try:
        report = await ctx.call(engine.ingest_validated, result, source=principal.name)
    except InputError as error:  # the engine's readable refusal of a batch (names the record and field)
        raise HTTPException(422, f"{kind} batch: {error}") from None
    if ctx.metrics is not None:
        ctx.metrics.events.labels(kind=kind, result="accepted").inc(report.accepted)
        ctx.metrics.events.labels(kind=kind, result="rejected").inc(report.rejected)
        ctx.metrics.alerts.inc(report.alerts)
    if report.alerts and ctx.hub is not None:
        ctx.hub.publish("alerts", {"count": report.alerts, "kind": kind})
    return OrjsonResponse({
        "accepted": report.accepted, "rejected": report.rejected, "alerts": report.alerts,
        "refused_decisions": list(report.refused_decisions),
        "late": report.late, "duplicates": report.duplicates,
        "errors": [{"index": e.get("row"), "record_id": e.get("record_id"), "field": e.get("field"), "reason": e.get("reason")}
                   for e in report.errors],
        # polars writes the rows' JSON itself; orjson embeds it as is (a list of dicts costs 6x more)
        "scored": orjson.Fragment(report.scored.write_json()) if report.scored.height else [],
    })


@router.post("/v1/validate/{kind}", openapi_extra=_BODY_DOC, summary="Check a batch against the record schema")
async def validate_batch(
    kind: Literal["call", "transfer", "subscriber", "label"],
    request: Request,
    principal: Principal = Depends(require("feed", "bank", "analyst", "admin")),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """Validate records without ingesting them: how many are valid, and why each bad one is not."""
    raw, result = await _decode(request, kind)
    if ctx.metrics is not None:
        ctx.metrics.events.labels(kind=kind, result="validated").inc(raw.height)
    return OrjsonResponse({"records": raw.height, "valid": result.valid.height, "invalid": result.rejected.height,
                           "errors": record_errors(kind, result.errors)})


@router.post("/v1/labels", openapi_extra=_BODY_DOC, summary="Add confirmed outcomes (labels)")
async def add_labels(
    request: Request,
    principal: Principal = Depends(require("bank", "analyst", "admin")),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """Confirmed fraud numbers, mule accounts, scam transfers or cleared ones, in the label schema."""
    engine = ctx.require_engine()
    raw, result = await _decode(request, "label")
    if not result.ok:
        return _refuse("label", result, ctx)
    try:
        report = await ctx.call(engine.add_labels, result.valid, source=principal.name)
    except InputError as error:
        raise HTTPException(422, f"label batch: {error}") from None
    if ctx.desk is not None and principal.role == "admin":
        await ctx.call(ctx.desk.audit, principal, "add_labels", "labels", {"records": raw.height})
    return OrjsonResponse({"accepted": report.accepted, "rejected": report.rejected})


def _parse_time(value: Any, index: int) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise HTTPException(422, f"decision {index}: time {value!r} is not a valid ISO 8601 time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise HTTPException(422, f"decision {index}: time must be an ISO 8601 string, got {type(value).__name__}")


@router.post("/v1/decisions", summary="Hand rule decisions from an external rules engine to the case workflow",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "array", "items": {"type": "object"}},
                 "example": [{"event_id": "c-1", "time": "2026-11-01T08:00:00Z", "rule": "long_call_new_payee",
                              "tier": "minute", "actions": ["voice_bot"], "victim_key": "13800000001",
                              "victim_kind": "phone", "score": 0.93,
                              "reasons": ["a 25-minute call from a new SIM"]}]}}}})
async def add_decisions(
    request: Request,
    principal: Principal = Depends(require("feed", "admin")),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """Decisions in the rules layer's contract (event_id, time, victim_key, tier, actions, ...) open or join cases.

    ``victim_kind`` (``"phone"``, the default, or ``"account"``) says what ``victim_key`` is; an
    account victim's case gets no calls (``contact_skipped`` counts them). A decision with no
    victim at all is refused and listed in ``rejected`` (``no_victim`` counts them).
    """
    desk = ctx.require_desk()
    body = await request.body()
    try:
        frame = decode_records(body, "application/json")
    except BodyError as error:
        raise HTTPException(error.status, str(error)) from None
    records = frame.to_dicts()
    if not records:
        raise HTTPException(422, "the body holds no decisions")
    for i, record in enumerate(records):
        record["time"] = _parse_time(record.get("time"), i)
        for listed in ("actions", "reasons"):
            value = record.get(listed)
            if isinstance(value, str):
                try:
                    record[listed] = orjson.loads(value)
                except orjson.JSONDecodeError:
                    raise HTTPException(422, f"decision {i}: {listed} must be a list of strings") from None
            if record.get(listed) is not None and (not isinstance(record[listed], list)
                                                    or not all(isinstance(v, str) for v in record[listed])):
                raise HTTPException(422, f"decision {i}: {listed} must be a list of strings")
        records[i] = {k: v for k, v in record.items() if v is not None or k in ("entity_key", "typology")}
    try:
        decisions = decision_frame(records)
        report = await ctx.call(desk.orchestrator.ingest, decisions)
    except InputError as error:
        raise HTTPException(422, f"decisions: {error}") from None
    if ctx.metrics is not None:
        ctx.metrics.alerts.inc(report.alerts)
        for kind, count in report.actions.items():
            ctx.metrics.actions.labels(kind=kind).inc(count)
    if report.alerts and ctx.hub is not None:
        ctx.hub.publish("alerts", {"count": report.alerts, "kind": "decision"})
    return OrjsonResponse({"alerts": report.alerts, "duplicates": report.duplicates, "cases_opened": report.cases_opened,
                           "cases_joined": report.cases_joined, "actions": dict(report.actions), "rejected": report.rejected,
                           "no_victim": report.no_victim, "contact_skipped": report.contact_skipped})

