"""Stream descriptors in a spec: declared record kinds, label entity types, scoring tables."""

from __future__ import annotations

import polars as pl
import pytest

from fraud_brain.errors import ConfigError
from fraud_brain.features import bundled_spec
from fraud_brain.features.spec import SpecError, load_spec_text
from fraud_brain.schema.validate import validate

CARD = """
[records.card_tx]
id = "tx_id"
time = "time"
[records.card_tx.fields]
tx_id = { type = "id" }
time = { type = "time" }
customer_id = { type = "id" }
amount = { type = "float", gt = 0 }
channel = { type = "enum", values = ["pos", "ecom"], required = false }

[labels]
entity_types = ["tx", "customer"]

[streams.label]
id = "label_id"
time = "known_at"
schema = "label"

[streams.tx]
id = "tx_id"
time = "time"
schema = "card_tx"
[streams.tx.scoring]
label = { entity = "tx", key = "tx_id" }
victim = ["customer_id"]
amount = "amount"
"""


def test_declared_record_kind_validates_like_a_built_in_one() -> None:
    spec = load_spec_text(CARD, "card.toml")
    schema = spec.record_schema("card_tx")
    raw = pl.DataFrame({"tx_id": ["a", "b"], "time": ["2026-11-01T08:00:00Z"] * 2, "customer_id": ["c1", "c2"],
                        "amount": ["10.5", "-3"], "channel": ["pos", "atm"]})
    result = validate(raw, schema)
    assert result.valid["tx_id"].to_list() == ["a"]
    assert result.valid.schema["time"] == pl.Datetime("ms", "UTC")
    messages = " ".join(result.messages())
    assert "amount -3 must be > 0" in messages and "channel 'atm'" in messages


def test_scoring_table_and_labels() -> None:
    spec = load_spec_text(CARD, "card.toml")
    assert spec.scored_streams() == ["tx"]
    scoring = spec.scoring("tx")
    assert (scoring.model, scoring.label_entity, scoring.label_key) == ("tx", "tx", "tx_id")
    assert scoring.victim == ("customer_id",) and scoring.victim_kinds == ("account",)
    assert scoring.amount == "amount" and scoring.reason_threshold == 0.5
    assert spec.label_stream == "label" and spec.label_entities == ("tx", "customer")
    raw = pl.DataFrame({"label_id": ["l1", "l2"], "entity_type": ["tx", "transfer"], "entity_id": ["a", "b"],
                        "is_fraud": [True, True], "known_at": ["2026-11-01T08:00:00Z"] * 2, "source": ["bank", "bank"]})
    labels = validate(raw, spec.record_schema("label"))
    assert labels.valid["entity_id"].to_list() == ["a"]
    with pytest.raises(SpecError, match="not scored"):
        spec.scoring("label")


def test_telecom_streams_keep_their_roles() -> None:
    spec = bundled_spec("telecom")
    assert spec.scored_streams() == ["call", "transfer"]
    assert spec.scoring("call").model == "number" and spec.scoring("call").victim_kinds == ("phone",)
    assert spec.scoring("transfer").victim_kinds == ("phone", "account")
    assert spec.label_entities == ("transfer", "number", "account")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('entity = "tx", key = "tx_id"', 'entity = "terminal", key = "tx_id"'),
         r"card.toml:\d+: .*'terminal' is not a label entity"),
        (('victim = ["customer_id"]', 'victim = ["customr_id"]'),
         r"card.toml:\d+: .*'customr_id' is not a column of card_tx"),
        (('amount = { type = "float", gt = 0 }', 'amount = { type = "money" }'),
         r"card.toml:\d+: .*type must be one of"),
        (('schema = "card_tx"', 'schema = "card"'), r"unknown record kind 'card'"),
        (('victim = ["customer_id"]', 'victim = ["customer_id"]\nvictim_kinds = ["bank"]'), "victim_kinds"),
    ],
)
def test_descriptor_mistakes_name_file_and_line(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_spec_text(CARD.replace(*change), "card.toml")
