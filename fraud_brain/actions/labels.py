"""Turn outcomes into labels the online models learn from (the LABELS record shape).

An agent's "prevented" or "victim confirmed scam" labels the case's transfers and payee
accounts as fraud, and the suspect numbers (entity keys that are phone numbers other than
the victim's, not device ids); "false alarm" clears the case's transfers; "unreachable" teaches nothing. A
bank freezing money on a stop-payment confirms the payee account as a mule.

>>> from datetime import datetime, timezone
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> a = Alert("e1", t, "r", 1, "minute", (), "13800000001", entity_key="17000000002",
...           typology="fake_loan", transfer_id="T1", payee_account="M1")
>>> [(l.entity_type, l.entity_id, l.is_fraud) for l in labels_from_disposition("c1", 1, [a], "prevented", t)]
[('transfer', 'T1', True), ('account', 'M1', True), ('number', '17000000002', True)]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime

from fraud_brain.schema.records import PHONE_PATTERN, TYPOLOGIES
from fraud_brain.store.models import Alert, Label
from fraud_brain.vocabulary import FRAUD_DISPOSITIONS

CLEARING_DISPOSITIONS = ("false_alarm",)
_PHONE = re.compile(PHONE_PATTERN)
# Rules key cooldowns by caller, payee account or device; an IMEI (15-16 digits) passes the
# phone pattern, so digit strings of that length are not taken for a suspect's number.
_IMEI = re.compile(r"^[0-9]{15,16}$")


def is_suspect_number(entity_key: str | None, victim_key: str) -> bool:
    """Whether a decision's entity key is a phone number other than the victim's (not a device id).

    >>> is_suspect_number("17000000009", "13800000001"), is_suspect_number("356938035643809", "138")
    (True, False)
    """
    return (
        entity_key is not None
        and bool(entity_key)
        and entity_key != victim_key
        and bool(_PHONE.match(entity_key))
        and not _IMEI.match(entity_key)
    )


def label_id(case_uid: str, source: str, entity_type: str, entity_id: str, is_fraud: bool) -> str:
    """A stable label id, so recording the same outcome twice stores one label.

    >>> label_id("c1", "agent", "transfer", "T1", True) == label_id("c1", "agent", "transfer", "T1", True)
    True
    """
    digest = hashlib.sha1(f"{case_uid}|{source}|{entity_type}|{entity_id}|{is_fraud}".encode()).hexdigest()
    return f"lbl-{digest[:24]}"


def label_typology(typology: str | None) -> str | None:
    """A typology valid for the LABELS schema (unknown names become ``"other"``).

    >>> label_typology("fake_loan"), label_typology("romance"), label_typology(None)
    ('fake_loan', 'other', None)
    """
    if typology is None:
        return None
    return typology if typology in TYPOLOGIES else "other"


def labels_from_disposition(
    case_uid: str, case_id: int, alerts: Sequence[Alert], disposition: str, at: datetime
) -> list[Label]:
    """Labels taught by an agent's disposition of a case."""
    if disposition in FRAUD_DISPOSITIONS:
        is_fraud = True
    elif disposition in CLEARING_DISPOSITIONS:
        is_fraud = False
    else:
        return []
    typology = label_typology(next((a.typology for a in alerts if a.typology), None)) if is_fraud else None
    entities: list[tuple[str, str]] = []
    for alert in alerts:
        if alert.transfer_id:
            entities.append(("transfer", alert.transfer_id))
    if is_fraud:
        entities += [("account", a.payee_account) for a in alerts if a.payee_account]
        entities += [
            ("number", a.entity_key)
            for a in alerts
            if a.entity_key and is_suspect_number(a.entity_key, a.victim_key)
        ]
    seen: set[tuple[str, str]] = set()
    labels = []
    for entity_type, entity_id in entities:
        if (entity_type, entity_id) in seen:
            continue
        seen.add((entity_type, entity_id))
        labels.append(
            Label(
                label_id=label_id(case_uid, "agent", entity_type, entity_id, is_fraud),
                entity_type=entity_type,
                entity_id=entity_id,
                is_fraud=is_fraud,
                known_at=at,
                source="agent",
                typology=typology,
                case_id=case_id,
            )
        )
    return labels


def labels_from_bank(
    case_uid: str, case_id: int, payee_account: str, typology: str | None, at: datetime
) -> list[Label]:
    """The label a bank's freeze teaches: the payee account is a mule.

    >>> from datetime import datetime, timezone
    >>> labels_from_bank("c1", 1, "M1", None, datetime(2026, 1, 1, tzinfo=timezone.utc))[0].source
    'bank'
    """
    return [
        Label(
            label_id=label_id(case_uid, "bank", "account", payee_account, True),
            entity_type="account",
            entity_id=payee_account,
            is_fraud=True,
            known_at=at,
            source="bank",
            typology=label_typology(typology),
            case_id=case_id,
        )
    ]
