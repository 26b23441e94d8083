"""The main job end to end on the bundled sample: features → models → rules → actions → report."""

from __future__ import annotations

import polars as pl
import pytest

from fraud_brain.pipeline.assembly import Assembly
from fraud_brain.pipeline.batch import run_folder
from fraud_brain.pipeline.config import AppConfig
from fraud_brain.report.run import build_report


@pytest.fixture(scope="module")
def result(sample_dir, tmp_path_factory):
    state = tmp_path_factory.mktemp("run")
    return run_folder(sample_dir, Assembly(AppConfig(state_dir=state, seed=3)))


def test_every_record_is_scored_once_with_reasons_for_high_scores(result):
    transfers = result.history.scored["transfer"]
    assert transfers.height == result.history.records["transfer"]
    assert transfers["transfer_id"].is_unique().all()
    assert transfers["score"].is_between(0, 1).all()
    high = transfers.filter(pl.col("score") >= 0.5)
    assert high.height > 0
    assert (high["reasons_en"].list.len() > 0).all()
    assert (high["reasons_zh"].list.len() > 0).all()
    calls = result.history.scored["call"]
    assert calls.height == result.history.records["call"]


def test_decisions_respect_cooldowns_and_shadow_rules_never_act(result):
    assert result.decisions.height > 0
    assert (result.decisions["mode"] == "active").all()
    shadow = result.hits.filter(pl.col("mode") == "shadow")
    assert not shadow["active"].any()
    assert result.hits.filter(pl.col("status") == "cooldown").height > 0


def test_every_decision_becomes_an_alert_and_every_action_finishes(result):
    store = result.workflow.store
    ingested = result.workflow.ingested
    # A decision whose victim is unknown (a transfer with no payer phone) is refused, with its reason.
    no_victim = result.decisions.filter(pl.col("victim_key").is_null()).height
    assert len(ingested.rejected) == no_victim
    assert store.table("alerts").height == result.decisions.height - no_victim - ingested.duplicates
    statuses = store.action_status_counts()
    assert statuses.get("pending", 0) == 0 and statuses.get("in_flight", 0) == 0
    assert statuses["done"] > 0


def test_report_measures_detection_against_ground_truth(result):
    report = build_report(result)
    figures = report.figures
    assert int(figures["scam episodes"].replace(",", "")) > 0
    alerted = int(figures["episodes alerted"].split()[0].replace(",", ""))
    assert 0 < alerted <= int(figures["scam episodes"].replace(",", ""))
    for key in ("scam money flagged at or before the transfer", "false alarms per 10,000 legitimate transfers",
                "minutes from first scam contact to alert (median)", "case precision (victim in a scam episode)"):
        assert key in figures
    coverage = report.tables["Episodes alerted by typology"]
    assert set(coverage["typology"]) >= {"impersonating_police", "order_brushing", "fake_customer_service"}
    assert (coverage["alerted"] <= coverage["episodes"]).all()


def test_undefined_features_are_missing_for_the_rules_not_nan():
    from datetime import UTC, datetime

    from fraud_brain.features import resolve_spec
    from fraud_brain.pipeline.scored import assemble, profile_table, stream_facts
    from fraud_brain.schema import CALLS

    record = pl.DataFrame(
        {"call_id": ["c1"], "start_time": [datetime(2026, 1, 1, tzinfo=UTC)], "caller": ["17000000000"],
         "callee": ["13800000000"], "duration_s": [5], "disposition": ["answered"], "caller_type": ["voip"],
         "device_id": [None], "cell_id": [None], "region": [None], "sim_age_days": [None]},
        schema=CALLS.polars_schema(),
    )
    features = pl.DataFrame({"call_id": ["c1"], "device_numbers": [float("nan")]})
    scores = pl.DataFrame({"call_id": ["c1"], "score": [0.1]})
    scored = assemble(stream_facts(resolve_spec("telecom"))["call"], record, features, scores, profile_table(None))
    assert scored["device_numbers"].to_list() == [None]
    assert scored.filter(pl.sql_expr("device_numbers >= 20")).height == 0


def test_a_run_gives_reasons_to_what_rules_act_on_below_the_reason_threshold(tmp_path):
    from tests.conftest import write_sample_window

    (tmp_path / "window").mkdir()
    window = write_sample_window(tmp_path / "window", 6)
    rules = tmp_path / "rules.toml"
    rules.write_text(
        'version = 1\n[[rule]]\nname = "any_answered_call"\nevent = "call"\nwhen = "call_minutes >= 1"\n'
        'actions = ["agent_followup"]\nvictim = "callee"\ncooldown = "1h"\n'
    )
    run = run_folder(window, Assembly(AppConfig(rules_path=rules)))
    low = run.decisions.filter(pl.col("score") < 0.5)
    assert low.height > 0
    assert (low["reasons"].list.len() > 0).mean() > 0.9
    calls = run.history.scored["call"]
    acted = calls.filter(pl.col("call_id").is_in(low["event_id"].implode()))
    assert (acted["reasons_en"].list.len() > 0).mean() > 0.9
