"""Loading and validating the escalation policy file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fraud_brain.actions import EscalationPolicy, PolicyError, load_policy, parse_policy
from fraud_brain.actions.policy import DEFAULT_POLICY_PATH


def test_packaged_file_matches_the_defaults() -> None:
    assert load_policy() == EscalationPolicy() == load_policy(DEFAULT_POLICY_PATH)


def test_values_are_read_into_typed_settings(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        "[voice_bot]\nredial_interval_minutes = 2.5\nmax_redials = 0\n"
        "[agent]\nsla_minutes = { minute = 3 }\non_sla_breach = ['officer_alert', 'voice_bot']\n"
        "[fan_out]\ntiers = ['minute', 'hour']\nmin_score = 0.8\n"
        "[scripts]\nfake_loan = 'loan_v2'\n[outbox]\nlease_seconds = 5\n"
    )
    policy = load_policy(path)
    assert policy.redial_interval == timedelta(minutes=2.5) and policy.max_redials == 0
    assert policy.agent_sla["minute"] == timedelta(minutes=3) and policy.agent_sla["hour"] == timedelta(
        minutes=60
    )
    assert policy.on_sla_breach == ("officer_alert", "voice_bot")
    assert policy.fans_out("hour", 0.8) and not policy.fans_out("same_day", 0.99)
    assert (
        policy.script_for("fake_loan") == "loan_v2" and policy.script_for("romance") == "generic_scam_warning"
    )
    assert policy.outbox.lease == timedelta(seconds=5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[voice_bot]\nredial_interval_minutes = 5\nmax_redial = 2\n",
            r"p.toml:3: \[voice_bot\] unknown key 'max_redial'",
        ),
        ("[voicebot]\nmax_redials = 2\n", r"p.toml:1: \[voicebot\] unknown section"),
        (
            "[voice_bot]\nmax_redials = 'three'\n",
            r"p.toml:2: \[voice_bot\] max_redials must be an integer, not str",
        ),
        ("[voice_bot]\nmax_redials = true\n", r"p.toml:2: .*must be an integer, not a boolean"),
        ("[voice_bot]\nmax_redials = -1\n", r"p.toml:2: .*max_redials must be >= 0, got -1"),
        ("[episode]\ngap_hours = 0\n", r"p.toml:2: .*gap_hours must be > 0"),
        (
            "\n[agent]\nsla_minutes = { week = 3 }\n",
            r"p.toml:3: \[agent\] sla_minutes has unknown tier 'week'",
        ),
        ("[agent]\non_sla_breach = ['sms']\n", r"p.toml:2: .*unknown action 'sms'"),
        ("[fan_out]\nmin_score = 1.5\n", r"p.toml:2: .*min_score must be within \[0, 1\]"),
        ("[fan_out]\ntiers = ['now']\n", r"p.toml:2: .*unknown tier 'now'"),
        ("[scripts]\nfake_loan = 3\n", r"p.toml:2: \[scripts\] fake_loan must be a string"),
        ("[voice_bot\n", r"p.toml: not valid TOML"),
    ],
)
def test_bad_files_are_rejected_naming_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nope\.toml: cannot read policy file"):
        load_policy(tmp_path / "nope.toml")


def test_backoff_grows_and_is_capped() -> None:
    outbox = parse_policy("[outbox]\nbackoff_seconds = 1\nbackoff_cap_seconds = 4\njitter = 0.5\n").outbox
    assert [outbox.backoff(n, 0.0).total_seconds() for n in (1, 2, 3, 4, 10)] == [1, 2, 4, 4, 4]
    assert outbox.backoff(2, 0.999).total_seconds() == pytest.approx(2 * 1.4995)
