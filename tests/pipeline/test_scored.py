"""Scored frames and stream facts come from the spec's stream descriptors, for any spec."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from fraud_brain.features import resolve_spec
from fraud_brain.pipeline.scored import PROFILE_COLUMNS, SCORED_COLUMNS, assemble, profile_table, stream_facts


def test_the_telecom_facts_are_the_ones_the_brain_was_hard_wired_with() -> None:
    facts = stream_facts(resolve_spec("telecom"))
    assert list(facts) == ["call", "transfer"]
    call, transfer = facts["call"], facts["transfer"]
    assert (call.model, call.profile_key, call.risk_entity, call.risk_key, call.id) == (
        "number", "callee", "number", "caller", "call_id")
    assert (transfer.model, transfer.profile_key, transfer.risk_key, transfer.amount) == (
        "transfer", "payer_phone", "payer_account", "amount")
    assert transfer.victim == ("payer_phone", "payer_account")
    assert transfer.victim_kinds == ("phone", "account")


def test_a_card_stream_without_a_phone_victim_gets_empty_profile_columns() -> None:
    tx = stream_facts(resolve_spec("card"))["tx"]
    assert (tx.model, tx.profile_key, tx.risk_entity, tx.label_entity, tx.schema.kind) == (
        "tx", None, "customer", "tx", "card_tx")
    records = pl.DataFrame({"tx_id": ["t1"], "time": [datetime(2026, 1, 1, tzinfo=UTC)],
                            "customer_id": ["c1"], "terminal_id": ["m1"], "amount": [5.0]},
                           schema=tx.schema.polars_schema())
    features = pl.DataFrame({"tx_id": ["t1"], "customer_tx_1d": [float("nan")]})
    scores = pl.DataFrame({"tx_id": ["t1"], "score": [0.3]})
    scored = assemble(tx, records, features, scores, profile_table(None))
    assert scored.columns == [*tx.schema.column_names(), *PROFILE_COLUMNS, "customer_tx_1d", "score"]
    assert scored.row(0, named=True)["district"] is None and scored["customer_tx_1d"].to_list() == [None]
    assert SCORED_COLUMNS[0] == "score"
