"""Feature specs: the bundled files, a spec for another feed run from a file alone, and errors."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from fraud_brain.features import (
    FeatureEngine,
    SpecError,
    bundled_spec,
    bundled_spec_path,
    load_spec,
    load_spec_text,
    parse_duration,
    replay,
)
from fraud_brain.features.synthetic import synthetic_card, synthetic_telecom

from .reference import Reference, assert_same_features

GOOD = '''[spec]
name = "t"

[streams.tx]
id = "tx_id"
time = "time"

[entities]
customer = {}

[[aggregate]]
name = "spend"
entity = "customer"
stream = "tx"
key = "customer_id"
op = "sum"
value = "amount"
sliding = ["1d"]
'''


def _run_reference(spec, frames: dict, reference: dict | None = None) -> Reference:
    ref = Reference(spec, reference)
    ref.process({s: f.to_dicts() for s, f in frames.items() if s in spec.streams})
    ref.flush()
    return ref


def test_card_spec_runs_from_a_file_alone(tmp_path: Path) -> None:
    # A copy outside the package: the engine only ever sees the file.
    path = tmp_path / "my_card_feed.toml"
    shutil.copy(bundled_spec_path("card"), path)
    spec = load_spec(path)
    frames = synthetic_card(n=600, n_customers=40, n_terminals=15, seed=3)
    out = replay(spec, frames, batch_size=97)
    assert out["tx"].height == 600
    wanted = {"customer_spend_30d", "terminal_fraud_reports_delayed_7d", "customer_terminals_7d"}
    assert wanted <= set(out["tx"].columns)
    ref = _run_reference(spec, frames)
    assert assert_same_features(out, ref, spec) == 600 + frames["fraud_report"].height
    # a customer's 1-day count is never negative and grows with history
    assert out["tx"]["customer_tx_30d"].max() > 0
    # the terminal risk reads reports and transactions of the 30 days ending 7 days ago
    assert out["tx"]["terminal_risk_30d"].max() > 0 and out["tx"]["terminal_tx_delayed_30d"].max() > 0
    assert spec.feature_groups("tx")["terminal_risk_30d"] == "terminal"


def test_telecom_spec_matches_reference_on_synthetic_history() -> None:
    spec = bundled_spec("telecom")
    frames = synthetic_telecom(n_calls=700, n_transfers=250, n_phones=40, seed=5, span_days=2)
    reference = {"subscribers": frames["subscribers"]}
    sources = {s: frames[s] for s in ("call", "transfer", "label")}
    out = replay(spec, sources, batch_size=128, reference=reference)
    ref = _run_reference(spec, sources, reference)
    assert assert_same_features(out, ref, spec) == 700 + 250 + frames["label"].height
    transfer = out["transfer"]
    assert transfer["payer_risky_callers_24h"].max() > 0
    assert transfer["payer_elderly"].drop_nans().is_in([0.0, 1.0]).all()
    groups = set(spec.feature_groups("transfer").values())
    assert groups == {"transfer", "cross_channel", "profile"}


def test_telecom_state_fits_512_bytes_per_key() -> None:
    frames = synthetic_telecom(n_calls=50, n_transfers=20, n_phones=10)
    engine = FeatureEngine(bundled_spec("telecom"), reference={"subscribers": frames["subscribers"]})
    assert max(engine.state_bytes_per_key().values()) <= 512


def test_durations() -> None:
    assert parse_duration("90s") == 90_000
    assert parse_duration("1.5h") == 5_400_000
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration("3 fortnights")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('op = "sum"', 'op = "median"', r"spec.toml:16: \[\[aggregate\]\] #1 key 'op': unknown op 'median'"),
        ('sliding = ["1d"]', 'sliding = ["1 day"]', r"spec.toml:18: .*key 'sliding': bad duration '1 day'"),
        ('value = "amount"', 'value = "amount +"', r"spec.toml:17: .*key 'value': expected a number"),
        ('entity = "customer"', 'entity = "shop"', r"spec.toml:13: .*unknown entity 'shop'"),
        ('stream = "tx"\nkey', 'stream = "card"\nkey', r"spec.toml:14: .*unknown stream 'card'"),
        ('sliding = ["1d"]', 'decay = ["1d"]\nbuckets = 0', r"spec.toml:19: .*key 'buckets'"),
        ('op = "sum"\nvalue = "amount"', 'op = "last"\nvalue = "amount"', r"op 'last' takes no value"),
        ('op = "sum"\nvalue = "amount"\nsliding = ["1d"]', 'op = "last"\ndecay = ["1d"]', r"op 'last' has no decay"),
        ('[entities]', '[entities]\npair = { arity = 2 }\n', r"spec.toml:\d+: \[entities\] key 'pair'.*"),
        ('time = "time"', 'time = "time"\ncolour = "red"', r"spec.toml:\d+: \[streams.tx\]: unknown key\(s\) colour"),
        ('name = "t"', 'name = "t"\ntimezone = "Mars/Olympus"', r"spec.toml:\d+: \[spec\] key 'timezone'"),
        ('value = "amount"', 'value = "amount"\nwhere = "eval(1)"', r"unknown function 'eval'"),
    ],
)
def test_bad_specs_name_file_line_and_key(old: str, new: str, message: str) -> None:
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    if "arity = 2" in new:
        text = text.replace('key = "customer_id"', 'key = "customer_id"', 1).replace(
            'entity = "customer"', 'entity = "pair"', 1)
        message = r"spec.toml:\d+: \[\[aggregate\]\] #1 key 'key': entity 'pair' has arity 2"
    with pytest.raises(SpecError, match=message):
        load_spec_text(text, "spec.toml")


def test_good_spec_and_derived_forward_reference() -> None:
    spec = load_spec_text(GOOD, "spec.toml")
    assert [o.name for o in spec.outputs("tx")] == ["spend_1d"]
    later = GOOD + (
        '[[feature]]\nstream = "tx"\nname = "a"\nexpr = "b + 1"\n[[feature]]\nstream = "tx"\nname = "b"\nexpr = "1"\n'
    )
    with pytest.raises(SpecError, match=r"spec.toml:\d+: \[\[feature\]\] #1 key 'expr': 'b' is defined later"):
        load_spec_text(later, "spec.toml")
    dup = GOOD + '[[feature]]\nstream = "tx"\nname = "spend_1d"\nexpr = "1"\n'
    with pytest.raises(SpecError, match="already defined"):
        load_spec_text(dup, "spec.toml")


def test_schema_checked_columns_and_missing_files(tmp_path: Path) -> None:
    text = GOOD.replace('time = "time"', 'time = "time"\nschema = "transfer"').replace("customer_id", "payer_account")
    text = text.replace('id = "tx_id"', 'id = "transfer_id"')
    load_spec_text(text, "spec.toml")
    with pytest.raises(SpecError, match="unknown name 'amout'"):
        load_spec_text(text.replace('value = "amount"', 'value = "amout"'), "spec.toml")
    with pytest.raises(SpecError, match="cannot read feature spec"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec_text("[streams\n", "broken.toml")
    with pytest.raises(SpecError, match="no bundled feature spec"):
        bundled_spec("nope")


def test_card_terminal_risk_sees_only_reports_older_than_the_delay() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    hours = range(0, 24 * 20, 6)
    tx = pl.DataFrame({"tx_id": [f"t{h}" for h in hours], "time": [start + timedelta(hours=h) for h in hours],
                       "customer_id": ["c"] * len(hours), "terminal_id": ["T1"] * len(hours),
                       "amount": [10.0] * len(hours)})
    reports = pl.DataFrame({"report_id": ["r1"], "known_at": [start + timedelta(days=2)],
                            "terminal_id": ["T1"]})
    out = replay(bundled_spec("card"), {"tx": tx, "fraud_report": reports})["tx"]

    def day(d: int) -> dict[str, float]:
        return out.filter(pl.col("time") == start + timedelta(days=d)).row(0, named=True)

    assert day(5)["terminal_fraud_reports_delayed_7d"] == 0.0   # the report is 3 days old: not yet visible
    assert day(10)["terminal_fraud_reports_delayed_7d"] == 1.0  # 8 days old: inside (t - 14d, t - 7d]
    assert day(10)["terminal_risk_7d"] == 1.0 / day(10)["terminal_tx_delayed_7d"]
    assert 0 < day(10)["terminal_tx_delayed_7d"] <= 4 * 3         # transactions of days 0-3 only


@pytest.mark.parametrize(
    ("old", "new", "table", "key"),
    [
        ('passthrough = ["customer_id", "terminal_id"]', 'passthrough = ["customer_id", "terminal"]',
         r"\[streams.tx\]", "passthrough"),
        ('name = "customer_spend"\nentity = "customer"\nstream = "tx"\nkey = "customer_id"',
         'name = "customer_spend"\nentity = "customer"\nstream = "tx"\nkey = "custmer_id"',
         r"\[\[aggregate\]\] #2", "key"),
        ('value = "amount"\nsliding', 'value = "amont"\nsliding', r"\[\[aggregate\]\] #2", "value"),
        ('key = "terminal_id"\nas = "terminal_fraud_reports_delayed"',
         'key = "terminl_id"\nas = "terminal_fraud_reports_delayed"',
         r"\[\[aggregate.read\]\] #1", "key"),
        ('expr = "amount / max(', 'expr = "amout / max(', r"\[\[feature\]\] #1", "expr"),
        ('time = "known_at"\nschema', 'time = "knwn_at"\nschema', r"\[streams.fraud_report\]", "time"),
    ],
)
def test_every_column_a_spec_names_is_checked_against_the_record_schema(old: str, new: str, table: str,
                                                                       key: str) -> None:
    text = bundled_spec_path("card").read_text()
    assert old in text
    text = text.replace(old, new, 1)
    line = next(i + 1 for i, row in enumerate(text.splitlines())
                if row.startswith(f"{key} =") and i + 1 > text[: text.index(new)].count("\n"))
    expected = rf"^my.toml:{line}: {table} key '{key}': unknown (name|column) .*did you mean"
    with pytest.raises(SpecError, match=expected):
        load_spec_text(text, "my.toml")


def test_spec_errors_are_config_errors() -> None:
    from fraud_brain.errors import ConfigError
    from fraud_brain.features import ExprError

    assert issubclass(SpecError, ConfigError) and issubclass(ExprError, ConfigError)
    assert issubclass(SpecError, ValueError)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('op = "count"\ndelay = "7d"\ndecay = ["1d"]',
         r"spec.toml:18: .*key 'delay': a delay cannot shift decayed"),
        ('op = "last"\ndelay = "1d"', r"spec.toml:18: .*key 'delay': op 'last' takes no delay"),
        ('op = "distinct"\nvalue = "a"\nexact = ["1d"]',
         r"spec.toml:19: .*key 'exact': op 'distinct' has no exact"),
        ('op = "distinct"\nvalue = "a"\ndelay = "1h"\nlifetime = true',
         r"key 'delay': op 'distinct' takes no delay"),
        ('op = "count"\ndelay = "1 week"\nexact = ["1d"]', r"spec.toml:18: .*key 'delay': bad duration"),
        ('op = "count"\nexact = ["1d"]\nsliding = ["1d"]',
         r"spec.toml:18: .*key 'exact': window '1d' is also a slide"),
        ('op = "count"\nsliding = ["1h"]\nbuckets = 60\ndelay = "30d"',
         r"key 'delay': a delay of 30d needs 43260 buckets"),
        ('op = "sum"\nvalue = "a"\nexact = ["0s"]', r"key 'exact': window '0s' must be longer than 0"),
    ],
)
def test_delay_and_exact_windows_are_refused_where_they_do_not_apply(table: str, message: str) -> None:
    head = '[streams.tx]\nid = "i"\ntime = "t"\n[entities]\nc = {}\n'
    text = head + '[[aggregate]]\nname = "x"\nentity = "c"\nstream = "tx"\nkey = "k"\n' + table + "\n"
    text = "\n" * 6 + text  # the aggregate's own keys (op first) start on line 17
    with pytest.raises(SpecError, match=message):
        load_spec_text(text, "spec.toml")


def test_delayed_and_exact_windows_are_named_like_sliding_ones() -> None:
    windows = 'exact = ["1d", "7d"]\nlifetime = true\ndelay = "2d"'
    spec = load_spec_text(GOOD.replace('sliding = ["1d"]', windows))
    assert [o.name for o in spec.outputs("tx")] == ["spend", "spend_1d", "spend_7d"]
    assert spec.aggregates[0].delay_ms == 2 * 86_400_000
