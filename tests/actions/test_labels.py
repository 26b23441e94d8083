"""Outcomes turned into labels."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl

from fraud_brain.actions.labels import label_entities, labels_from_bank, labels_from_disposition
from fraud_brain.features import resolve_spec
from fraud_brain.schema.records import ID_PATTERN
from fraud_brain.schema.validate import validate
from fraud_brain.store import Alert

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _alert(**kw: object) -> Alert:
    base = {
        "event_id": "e",
        "time": T0,
        "rule": "r",
        "priority": 1,
        "tier": "hour",
        "actions": (),
        "victim_key": "13800000001",
    }
    return Alert(**{**base, **kw})  # type: ignore[arg-type]


def test_fraud_dispositions_label_transfers_accounts_and_suspect_numbers_once() -> None:
    alerts = [
        _alert(entity_key="17000000009", typology="romance", transfer_id="T1", payee_account="M1"),
        _alert(entity_key="17000000009", transfer_id="T2", payee_account="M1"),
        _alert(entity_key="13800000001"),  # the victim's own number is never labelled fraud
        _alert(entity_key="ACC-PAYER"),  # not a phone number: unknown role, left alone
        _alert(entity_key="356938035643809"),  # an IMEI (a rule keyed by device): not a number
    ]
    labels = labels_from_disposition("c", 1, alerts, "prevented", T0)
    assert sorted((lab.entity_type, lab.entity_id) for lab in labels) == [
        ("account", "M1"),
        ("number", "17000000009"),
        ("transfer", "T1"),
        ("transfer", "T2"),
    ]
    assert {lab.typology for lab in labels} == {"other"} and all(
        lab.is_fraud and lab.source == "agent" for lab in labels
    )
    assert len({lab.label_id for lab in labels}) == 4
    assert all(re.match(ID_PATTERN, lab.label_id) for lab in labels)


def test_false_alarm_clears_only_transfers_and_unreachable_teaches_nothing() -> None:
    alerts = [_alert(entity_key="17000000009", transfer_id="T1", payee_account="M1")]
    cleared = labels_from_disposition("c", 1, alerts, "false_alarm", T0)
    assert [(lab.entity_type, lab.is_fraud, lab.typology) for lab in cleared] == [("transfer", False, None)]
    assert labels_from_disposition("c", 1, alerts, "unreachable", T0) == []


def test_bank_freeze_labels_the_payee_account() -> None:
    (label,) = labels_from_bank("c", 1, "M1", "fake_loan", T0)
    assert (label.entity_type, label.entity_id, label.is_fraud, label.source, label.typology) == (
        "account",
        "M1",
        True,
        "bank",
        "fake_loan",
    )


def test_a_card_spec_labels_its_payments_as_tx_and_invents_no_telecom_entity() -> None:
    card = label_entities(resolve_spec("card"))
    alerts = [_alert(victim_key="C7", victim_kind="account", entity_key="17000000009", transfer_id="tx1",
                     payee_account="T3"),
              _alert(victim_key="C7", victim_kind="account", transfer_id="tx2", payee_account="T3")]
    labels = labels_from_disposition("c", 1, alerts, "victim_confirmed_scam", T0, card)
    made = [(lab.entity_type, lab.entity_id, lab.is_fraud) for lab in labels]
    assert made == [("tx", "tx1", True), ("tx", "tx2", True)]
    assert labels_from_bank("c", 1, "T3", None, T0, card) == []
    # The labels the workflow writes pass the card spec's own label schema, not the telecom one.
    frame = pl.DataFrame([{f: getattr(lab, f) for f in ("label_id", "entity_type", "entity_id", "is_fraud", "typology",
                                                       "known_at", "source")} for lab in labels])
    assert validate(frame, resolve_spec("card").record_schema("label")).ok
    assert not validate(frame, resolve_spec("telecom").record_schema("label")).ok
