"""Outcomes turned into labels."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fraud_brain.actions.labels import labels_from_bank, labels_from_disposition
from fraud_brain.schema.records import ID_PATTERN
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
    assert sorted((label.entity_type, label.entity_id) for label in labels) == [
        ("account", "M1"),
        ("number", "17000000009"),
        ("transfer", "T1"),
        ("transfer", "T2"),
    ]
    assert {label.typology for label in labels} == {"other"} and all(
        label.is_fraud and label.source == "agent" for label in labels
    )
    assert len({label.label_id for label in labels}) == 4
    assert all(re.match(ID_PATTERN, label.label_id) for label in labels)


def test_false_alarm_clears_only_transfers_and_unreachable_teaches_nothing() -> None:
    alerts = [_alert(entity_key="17000000009", transfer_id="T1", payee_account="M1")]
    cleared = labels_from_disposition("c", 1, alerts, "false_alarm", T0)
    assert [(label.entity_type, label.is_fraud, label.typology) for label in cleared] == [("transfer", False, None)]
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
