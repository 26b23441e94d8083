"""For banks: the synchronous pre-transfer check, and entity risk lookups."""

from __future__ import annotations

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from fraud_brain.api.auth import Principal
from fraud_brain.api.context import ApiContext, get_ctx, require
from fraud_brain.api.responses import OrjsonResponse
from fraud_brain.errors import InputError, MissingInputError
from fraud_brain.schema.quick import obviously_valid
from fraud_brain.schema.records import TRANSFERS
from fraud_brain.schema.validate import validate
from fraud_brain.vocabulary import CheckDecision

router = APIRouter(tags=["banks"])


class TransferCheckRequest(BaseModel):
    """A transfer about to be executed, in the transfer record schema."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "transfer_id": "t-20261101-0001", "time": "2026-11-01T08:05:00Z", "payer_account": "ACC001",
        "payer_phone": "13800000001", "payee_account": "MULE77", "payee_bank": "ICBC", "amount": 50000.0,
        "channel": "mobile_app", "device_id": "dev-1",
    }]})

    transfer_id: str = Field(description="unique id of the transfer")
    time: str = Field(description="when the transfer was submitted (ISO 8601; naive means UTC)")
    payer_account: str
    payer_phone: str | None = None
    payee_account: str
    payee_bank: str
    amount: float = Field(description="amount in yuan, > 0")
    channel: str = Field(description="mobile_app, online_banking, third_party_pay, atm or counter")
    device_id: str | None = None


class TransferCheckResponse(BaseModel):
    """The decision for a transfer before it is executed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "decision": "hold", "score": 0.94,
        "reasons": ["payer had a 25-minute call from a new SIM 10 minutes ago"],
        "reasons_zh": ["付款人10分钟前接到新卡25分钟来电"],
    }]})

    decision: CheckDecision
    score: float
    reasons: list[str]
    reasons_zh: list[str]


@router.post("/v1/check/transfer", response_model=TransferCheckResponse, summary="Pre-transfer check")
async def check_transfer(
    request_body: TransferCheckRequest,
    principal: Principal = Depends(require("bank", "admin")),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """Score one transfer before the bank executes it: allow, review (ask the customer) or hold. No state changes."""
    engine = ctx.require_engine()
    raw = request_body.model_dump()
    if not obviously_valid(raw, TRANSFERS):
        # The full validator only for the unusual record: it costs milliseconds, and writes the reasons.
        checked = validate(pl.DataFrame([raw], schema_overrides={"amount": pl.Float64}), "transfer")
        if not checked.ok:
            raise HTTPException(422, "; ".join(checked.messages()))
    try:
        result = await ctx.call(engine.check_transfer, raw)
    except InputError as error:  # the engine's readable refusal (names the transfer and field)
        raise HTTPException(422, f"transfer {raw['transfer_id']}: {error}") from None
    if ctx.metrics is not None:
        ctx.metrics.checks.labels(decision=result.decision).inc()
    return OrjsonResponse({"decision": result.decision, "score": float(result.score),
                           "reasons": list(result.reasons), "reasons_zh": list(result.reasons_zh)})


@router.get("/v1/entities/{entity_type}/{entity_id}", summary="Current risk of a phone number or account")
async def entity_risk(
    entity_type: str = Path(min_length=1, max_length=32, description="a risk entity of a scored stream "
                                                                       "(telecom: number or account)"),
    entity_id: str = Path(min_length=1, max_length=64),
    principal: Principal = Depends(require("bank", "analyst", "admin")),
    ctx: ApiContext = Depends(get_ctx),
) -> OrjsonResponse:
    """The engine's current state and risk for one calling number or one bank account."""
    engine = ctx.require_engine()
    try:
        risk = await ctx.call(engine.entity_risk, entity_type, entity_id)
    except MissingInputError:
        raise HTTPException(404, f"{entity_type} {entity_id} is not known to the engine") from None
    except InputError as error:
        raise HTTPException(422, f"{entity_type} {entity_id}: {error}") from None
    return OrjsonResponse(risk.to_dict())
