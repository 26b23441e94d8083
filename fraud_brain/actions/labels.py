"""Turn outcomes into labels the online models learn from (the LABELS record shape).

An agent's "prevented" or "victim confirmed scam" labels the case's transfers and payee
accounts as fraud, and the suspect numbers (entity keys that are phone numbers other than
the victim's, not device ids); "false alarm" clears the case's transfers; "unreachable" teaches nothing. A
bank freezing money on a stop-payment confirms the payee account as a mule.

The entity types written are the feature spec's label entity types (:class:`LabelEntities`):
a card spec labels the payment ``tx`` and has no payee or number entity, so a card case's
outcome labels only its payments, and a bank freeze there teaches nothing.

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
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from fraud_brain.schema.records import PHONE_PATTERN, TYPOLOGIES
from fraud_brain.store.models import Alert, Label
from fraud_brain.vocabulary import FRAUD_DISPOSITIONS

if TYPE_CHECKING:
    from fraud_brain.features.spec import Spec

CLEARING_DISPOSITIONS = ("false_alarm",)
_PHONE = re.compile(PHONE_PATTERN)
# Rules key cooldowns by caller, payee account or device; an IMEI (15-16 digits) passes the
# phone pattern, so digit strings of that length are not taken for a suspect's number.
_IMEI = re.compile(r"^[0-9]{15,16}$")


@dataclass(frozen=True)
class LabelEntities:
    """The label entity types outcomes are written as: the paid event, its payee, a suspect number.

    ``payee`` and ``number`` are None for a spec without such an entity (no label is made for it).
    """

    payment: str = "transfer"
    """What a decision's payment (``transfer_id``) is labelled as."""
    payee: str | None = "account"
    """What the payee (mule) account is labelled as."""
    number: str | None = "number"
    """What a suspect calling number is labelled as."""


TELECOM_LABELS = LabelEntities()
"""The bundled telecom spec's label entity types."""


def label_entities(spec: Spec) -> LabelEntities:
    """The label entity types of ``spec``: the payment stream's label entity (the scored stream with
    an amount), and ``account``/``number`` only where the spec labels such entities.

    >>> from fraud_brain.features import resolve_spec
    >>> label_entities(resolve_spec("card"))
    LabelEntities(payment='tx', payee=None, number=None)
    >>> label_entities(resolve_spec("telecom")) == TELECOM_LABELS
    True
    """
    scored = spec.scored_streams()
    paid = [s for s in scored if spec.scoring(s).amount is not None] or scored
    payment = spec.scoring(paid[0]).label_entity if paid else spec.label_entities[0]
    return LabelEntities(
        payment=payment,
        payee="account" if "account" in spec.label_entities else None,
        number="number" if "number" in spec.label_entities else None,
    )


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
    case_uid: str, case_id: int, alerts: Sequence[Alert], disposition: str, at: datetime,
    entities: LabelEntities = TELECOM_LABELS,
) -> list[Label]:
    """Labels taught by an agent's disposition of a case, as ``entities``' types.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> a = Alert("x1", t, "r", 1, "minute", (), "C7", entity_key="C7", transfer_id="x1", payee_account="T3",
    ...           victim_kind="account")
    >>> card = LabelEntities("tx", None, None)
    >>> [(l.entity_type, l.entity_id) for l in labels_from_disposition("c1", 1, [a], "prevented", t, card)]
    [('tx', 'x1')]
    """
    if disposition in FRAUD_DISPOSITIONS:
        is_fraud = True
    elif disposition in CLEARING_DISPOSITIONS:
        is_fraud = False
    else:
        return []
    typology = label_typology(next((a.typology for a in alerts if a.typology), None)) if is_fraud else None
    named: list[tuple[str, str]] = [(entities.payment, a.transfer_id) for a in alerts if a.transfer_id]
    if is_fraud and entities.payee is not None:
        named += [(entities.payee, a.payee_account) for a in alerts if a.payee_account]
    if is_fraud and entities.number is not None:
        named += [
            (entities.number, a.entity_key)
            for a in alerts
            if a.entity_key and is_suspect_number(a.entity_key, a.victim_key)
        ]
    seen: set[tuple[str, str]] = set()
    labels = []
    for entity_type, entity_id in named:
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
    case_uid: str, case_id: int, payee_account: str, typology: str | None, at: datetime,
    entities: LabelEntities = TELECOM_LABELS,
) -> list[Label]:
    """The label a bank's freeze teaches: the payee account is a mule (none for a spec without a payee entity).

    >>> from datetime import datetime, timezone
    >>> labels_from_bank("c1", 1, "M1", None, datetime(2026, 1, 1, tzinfo=timezone.utc))[0].source
    'bank'
    >>> card = LabelEntities("tx", None, None)
    >>> labels_from_bank("c1", 1, "T3", None, datetime(2026, 1, 1, tzinfo=timezone.utc), card)
    []
    """
    if entities.payee is None:
        return []
    return [
        Label(
            label_id=label_id(case_uid, "bank", entities.payee, payee_account, True),
            entity_type=entities.payee,
            entity_id=payee_account,
            is_fraud=True,
            known_at=at,
            source="bank",
            typology=label_typology(typology),
            case_id=case_id,
        )
    ]
