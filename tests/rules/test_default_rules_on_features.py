"""The default rules on real feature frames: simulator → feature engine → (stand-in score) → rules.

Scoring needs a trained model, so a truth-blind stand-in score is used here; the point is that
the default rules' columns exist in what the feature engine really emits and the whole
backtest runs on it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fraud_brain.features import FeatureEngine, bundled_spec
from fraud_brain.rules import DEFAULT_RULES_PATH, RuleSet, backtest
from fraud_brain.sim import SimConfig, simulate


def scored_world() -> tuple[dict[str, pl.DataFrame], pl.DataFrame, pl.DataFrame]:
    frames = simulate(SimConfig.preset("sample", n_subscribers=600, days=2, min_episodes_per_typology=2)).frames()
    engine = FeatureEngine(bundled_spec("telecom"), reference={"subscribers": frames["subscribers"]})
    batches = [engine.process({"call": frames["calls"], "transfer": frames["transfers"], "label": frames["labels"]}),
               engine.flush()]
    features = {k: pl.concat([b.features[k] for b in batches if k in b.features]) for k in ("call", "transfer")}
    profile = frames["subscribers"].select("phone", "age_band", "district")
    rng = np.random.default_rng(0)
    transfers = (
        frames["transfers"]
        .join(features["transfer"].drop("time", "payer_account", "payee_account", "payer_phone"), on="transfer_id")
        .join(profile, left_on="payer_phone", right_on="phone", how="left")
    )
    transfers = transfers.with_columns(score=(0.4 * pl.col("payer_risky_call_last_hour") + 0.2 * pl.col("new_payee")
                                              + 0.4 * pl.lit(rng.random(transfers.height))).clip(0, 1))
    calls = (
        frames["calls"].join(features["call"].drop("start_time", "caller", "callee"), on="call_id")
        .join(profile, left_on="callee", right_on="phone", how="left")
    )
    calls = calls.with_columns(score=(0.5 * pl.col("caller_risky") + 0.5 * pl.lit(rng.random(calls.height))).clip(0, 1))
    return frames, calls, transfers


def test_default_rules_run_on_the_feature_engines_frames():
    frames, calls, transfers = scored_world()
    rules = RuleSet.load(DEFAULT_RULES_PATH, {"call": calls.schema, "transfer": transfers.schema})
    report = backtest(rules, [calls, transfers], labels=frames["labels"],
                      truth=[frames["truth_transfers"], frames["truth_calls"]])
    per_rule = report.per_rule
    assert set(per_rule["rule"]) >= {r.name for r in rules.rules}
    assert report.events == calls.height + transfers.height
    assert report.scam_money == float(transfers.join(frames["truth_transfers"], on="transfer_id")
                                      .filter("is_scam")["amount"].sum())
    active = per_rule.filter(pl.col("rule") == "(any active rule)").row(0, named=True)
    assert active["hits"] > 0 and 0.0 <= active["precision_truth"] <= 1.0
    assert 0.0 <= active["money_protected"] <= report.scam_money
    hits = rules.evaluate(transfers)
    assert hits.filter(pl.col("victim_key").is_null()).height == hits.filter(
        pl.col("event_id").is_in(transfers.filter(pl.col("payer_phone").is_null())["transfer_id"].implode())).height
