"""Matching a run's decisions to the simulated scam episodes (what the run report counts as caught)."""

from __future__ import annotations

import polars as pl

from fraud_brain.report.run import match_decisions

HOUR = 3_600_000


def _episodes() -> pl.DataFrame:
    return pl.DataFrame({"episode_id": [1, 2], "victim_phone": ["138", "139"], "victim_account": ["A1", "A2"],
                         "typology": ["fake_loan", "order_brushing"], "start": [10 * HOUR, 10 * HOUR],
                         "end": [40 * HOUR, 40 * HOUR]})


def test_decisions_match_episodes_by_phone_or_by_account_never_across_kinds() -> None:
    decisions = pl.DataFrame({
        "victim_key": ["138", "A2", "A1", "139", "138", "A1"],
        "victim_kind": ["phone", "account", "phone", "account", "phone", "account"],
        "time_ms": [11 * HOUR, 12 * HOUR, 12 * HOUR, 12 * HOUR, 50 * HOUR, 9 * HOUR + 1],
    })
    matched = match_decisions(decisions, _episodes())
    # a phone and an account match their own kind; "A1" given as a phone, or "139" as an
    # account, match nothing; a decision after the episode's end matches nothing; one an hour
    # before its start still counts (the scam call comes before the first recorded contact)
    assert matched["episode_id"].to_list() == [1, 2, None, None, None, 1]
    assert matched.columns == [*decisions.columns, "episode_id", "episode_typology"]


def test_decisions_without_a_kind_are_phones() -> None:
    decisions = pl.DataFrame({"victim_key": ["139", "A2"], "time_ms": [20 * HOUR, 20 * HOUR]})
    matched = match_decisions(decisions, _episodes())
    assert matched["episode_id"].to_list() == [2, None]
    assert "victim_kind" not in matched.columns
