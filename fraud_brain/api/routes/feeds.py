"""Bulk intake for the feeds of the running feature spec: ingest, validate-only, labels, and rule decisions.

``POST /v1/ingest/{stream}`` takes a batch of any record stream the running spec declares (its
scored streams — ``call`` and ``transfer`` for the telecom spec, ``tx`` for the card spec — and
the state-only streams the features read, like the card spec's ``fraud_report``), validated
with the spec's record schema for that stream; labels go to ``/v1/labels``, validated with the
spec's label schema (its label entity types). An unknown stream is a 404 naming the server's.
Call records come from the telecom feeds, transfers from banks; any other stream from either.

Bodies are JSON (array or ``{"records": [...]}``), JSON lines, Arrow IPC or Parquet, decoded
column-wise. A batch with bad records is refused whole with 422 listing each bad record's index,
id, field and reason, unless ``partial=true`` (then good records go in, bad ones to dead letters).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from fraud_brain.actions import decision_frame
from fraud_brain.api.auth import Principal
from fraud_brain.api.bodies import BodyError, decode_records
from fraud_brain.api.context import ApiContext, get_ctx, require
from fraud_brain.api.responses import OrjsonResponse, record_errors
from fraud_brain.errors import InputError
from fraud_brain.schema.records import schema_for
from fraud_brain.schema.validate import validate

if TYPE_CHECKING:
    from fraud_brain.features.spec import Spec
    from fraud_brain.schema.records import RecordSchema

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
"""Who may post the telecom streams; any other stream of a spec comes from a feed or a bank."""
_ANY_FEED = ("feed", "bank", "admin")
_BUILT_IN = ("call", "transfer", "subscriber", "label")


def _record_schema(spec: Spec, stream: str) -> RecordSchema:
    return spec.record_schema(spec.streams[stream].schema or stream)


def ingest_streams(spec: Spec | None) -> dict[str, RecordSchema]:
    """Stream name → record schema of every stream a batch may be ingested into (not the label stream).

    >>> from fraud_brain.features import resolve_spec
    >>> sorted(ingest_streams(resolve_spec("card"))), sorted(ingest_streams(None))
    (['fraud_report', 'tx'], ['call', 'transfer'])
    """
    if spec is None:
        return {kind: schema_for(kind) for kind in ("call", "transfer")}
    scored = spec.scored_streams()
    others = [s for s in spec.streams if s not in scored and s != spec.label_stream
              and (spec.streams[s].schema or s) != "subscriber"]
    return {s: _record_schema(spec, s) for s in [*scored, *others]}


def validate_kinds(spec: Spec | None) -> dict[str, RecordSchema]:
    """Name → record schema of everything ``/v1/validate`` checks: the ingestible streams, the
    spec's record kinds and its label schema (the built-in kinds without a spec)."""
    if spec is None:
        return {kind: schema_for(kind) for kind in _BUILT_IN}
    return {**{kind: spec.record_schema(kind) for kind in spec.records}, **ingest_streams(spec)}


def _spec(ctx: ApiContext) -> Spec | None:
    return ctx.engine.spec if ctx.engine is not None else None


def _pick(known: dict[str, RecordSchema], name: str, what: str) -> RecordSchema:
    """The schema of ``name``, or a 404 naming what this server has."""
    schema = known.get(name)
    if schema is None:
        raise HTTPException(404, f"no {what} {name!r} on this server; expected one of {sorted(known)}")
    return schema


def _decode_and_validate(body: bytes, content_type: str | None, schema: RecordSchema) -> tuple[Any, Any]:
    raw = decode_records(body, content_type)
    return raw, (validate(raw, schema) if raw.height else None)


async def _decode(request: Request, kind: str, schema: RecordSchema) -> tuple[Any, Any]:
    """The body's records and their validation (both CPU work on another thread, one hop)."""
    body = await request.body()
    try:
        # Decoding is CPU work on another thread, so the loop keeps answering meanwhile.
        raw, result = await asyncio.to_thread(_decode_and_validate, body, request.headers.get("content-type"), schema)
    except BodyError as error:
        raise HTTPException(error.status, str(error)) from None
    if raw.height == 0:
        raise HTTPException(422, f"the body holds no {kind} records")
    return raw, result


def _refuse(kind: str, result: Any, ctx: ApiContext) -> OrjsonResponse:
    if ctx.metrics is not None:
        ctx.metrics.events.labels(kind=kind, result="refused").inc(result.valid.height + result.rejected.height)
    return OrjsonResponse(
        {"detail": f"{result.rejected.height} of {result.valid.height + result.rejected.height} {kind} record(s) "
                   "are invalid; nothing was ingested (send partial=true to ingest the valid ones)",
         "errors": record_errors(kind, result.errors)},
        status_code=422,
    )


@router.post("/v1/ingest/{kind}", openapi_extra=_BODY_DOC, summary="Ingest a batch of a stream of the running spec")
async def ingest(
    request: Request,
    kind: str = Path(min_length=1, max_length=64, description="a stream of the running feature spec "
                                                               "(telecom: call or transfer; card: tx, fraud_report)"),
    partial: bool = Query(False, description="Ingest the valid records and report the invalid ones "
                                             "instead of refusing the batch"),
    principal: Principal = Depends(require("feed", "bank", "admin")),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """Validate, score and act on a batch of a stream: call records (feeds), transfers (banks), or
    any other stream of the running spec (feeds or banks); a state-only stream is only remembered."""
    roles = _INGEST_ROLES.get(kind, _ANY_FEED)
    if principal.role not in roles:
        raise HTTPException(403, f"role {principal.role!r} may not ingest {kind} records; allowed: {list(roles)}")
    engine = ctx.require_engine()
    schema = _pick(ingest_streams(engine.spec), kind, "ingestible stream")
    _, result = await _decode(request, kind, schema)
    if not result.ok and not partial:
        return _refuse(kind, result, ctx)
    try:
        report = await ctx.call(engine.ingest_validated, result, source=principal.name, stream=kind)
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
        "errors": [{"index": e.get("row"), "record_id": e.get("record_id"), "field": e.get("field"),
                    "reason": e.get("reason")} for e in report.errors],
        # polars writes the rows' JSON itself; orjson embeds it as is (a list of dicts costs 6x more)
        "scored": orjson.Fragment(report.scored.write_json()) if report.scored.height else [],
    })


@router.post("/v1/validate/{kind}", openapi_extra=_BODY_DOC, summary="Check a batch against the record schema")
async def validate_batch(
    request: Request,
    kind: str = Path(min_length=1, max_length=64, description="a stream or record kind of the running spec "
                                                               "(telecom: call, transfer, subscriber, label)"),
    principal: Principal = Depends(require("feed", "bank", "analyst", "admin")),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """Validate records without ingesting them: how many are valid, and why each bad one is not."""
    schema = _pick(validate_kinds(_spec(ctx)), kind, "stream or record kind")
    raw, result = await _decode(request, kind, schema)
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
    """Confirmed outcomes in the running spec's label schema (telecom: fraud numbers, mule accounts,
    scam transfers or cleared ones; card: tx, customer, terminal)."""
    engine = ctx.require_engine()
    raw, result = await _decode(request, "label", engine.spec.record_schema("label"))
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
    return OrjsonResponse({"alerts": report.alerts, "duplicates": report.duplicates,
                           "cases_opened": report.cases_opened, "cases_joined": report.cases_joined,
                           "actions": dict(report.actions), "rejected": report.rejected,
                           "no_victim": report.no_victim, "contact_skipped": report.contact_skipped})

