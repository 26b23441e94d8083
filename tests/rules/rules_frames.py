"""Scored frames, schemas and rule snippets the rules tests build themselves (no feature engine needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
TIME = pl.Datetime("ms", "UTC")
AGE_BANDS = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")

TRANSFER_SCHEMA = pl.Schema({
    "transfer_id": pl.String, "time": TIME, "payer_account": pl.String, "payer_phone": pl.String,
    "payee_account": pl.String, "payee_bank": pl.String, "amount": pl.Float64,
    "age_band": pl.Enum(AGE_BANDS), "district": pl.String, "is_new_payee": pl.Boolean,
    "payee_distinct_payers_24h": pl.Int64, "score": pl.Float64, "reasons": pl.List(pl.String),
})
CALL_SCHEMA = pl.Schema({
    "call_id": pl.String, "start_time": TIME, "caller": pl.String, "callee": pl.String,
    "duration_s": pl.Int32, "sim_age_days": pl.Int32, "age_band": pl.Enum(AGE_BANDS), "score": pl.Float64,
})


def transfers(rows: list[dict]) -> pl.DataFrame:
    """A scored transfer frame; missing fields get harmless defaults, times are minutes after T0."""
    filled = []
    for i, row in enumerate(rows):
        base = {"transfer_id": f"t{i}", "time": T0, "payer_account": f"A{i}", "payer_phone": f"1380000{i:04d}",
                "payee_account": f"B{i}", "payee_bank": "ICBC", "amount": 100.0, "age_band": "35-44",
                "district": "D1", "is_new_payee": False, "payee_distinct_payers_24h": 1, "score": 0.1,
                "reasons": ["r"]}
        base.update(row)
        if isinstance(base["time"], (int, float)):
            base["time"] = T0 + timedelta(minutes=base["time"])
        filled.append(base)
    return pl.DataFrame(filled, schema=TRANSFER_SCHEMA)


def calls(rows: list[dict]) -> pl.DataFrame:
    """A scored call frame; times are minutes after T0."""
    filled = []
    for i, row in enumerate(rows):
        base = {"call_id": f"c{i}", "start_time": T0, "caller": f"1700000{i:04d}", "callee": f"1390000{i:04d}",
                "duration_s": 30, "sim_age_days": 400, "age_band": "35-44", "score": 0.1}
        base.update(row)
        if isinstance(base["start_time"], (int, float)):
            base["start_time"] = T0 + timedelta(minutes=base["start_time"])
        filled.append(base)
    return pl.DataFrame(filled, schema=CALL_SCHEMA)


def rule_toml(name: str = "r", event: str = "transfer", when: str = "score >= 0.9", **extra: object) -> str:
    """One [[rule]] table; ``extra`` keys are written as TOML values."""
    victim = "payer_phone" if event == "transfer" else "callee"
    fields: dict[str, object] = {"name": name, "event": event, "when": when, "actions": ["voice_bot"], "victim": victim}
    fields.update(extra)
    lines = ["[[rule]]"]
    for key, value in fields.items():
        if isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, list):
            lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
        else:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n\n"

