"""Cooldowns and shadow mode: the decider against a slow, obviously-correct reference."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_frames import T0, rule_toml, transfers

from fraud_brain.errors import StateError
from fraud_brain.rules import Decider, RuleSet

HIT_COLUMNS = {"hit": pl.Int64, "time": pl.Datetime("ms", "UTC"), "cooldown_group": pl.String,
               "entity_key": pl.String, "cooldown_ms": pl.Int64, "mode": pl.String}


def hit_frame(hits: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        [(i, T0 + timedelta(minutes=m), g, e, c, mode) for i, (m, g, e, c, mode) in enumerate(hits)],
        schema=HIT_COLUMNS, orient="row",
    )


def reference(hits: list[tuple]) -> list[str]:
    """Walk hits in time order; a hit fires unless a fired hit of its key is within its cooldown."""
    order = sorted(range(len(hits)), key=lambda i: hits[i][0])
    fired: list[int] = []
    status = [""] * len(hits)
    for i in order:
        minute, group, entity, cooldown, mode = hits[i]
        blocked = entity is not None and any(
            (hits[j][4], hits[j][1], hits[j][2]) == (mode, group, entity)
            and minute * 60_000 < hits[j][0] * 60_000 + cooldown
            for j in fired
        )
        if not blocked:
            fired.append(i)
        prefix = "shadow" if mode == "shadow" else ""
        status[i] = (prefix + "_cooldown" if prefix else "cooldown") if blocked else (prefix or "fired")
    return status


hit_strategy = st.tuples(
    st.integers(0, 16).map(lambda k: 15 * k),          # minutes after T0, on a grid so cooldown edges meet
    st.sampled_from(["police", "mule"]),               # cooldown group
    st.one_of(st.none(), st.sampled_from(["138", "139", "MULE"])),
    st.sampled_from([0, 15 * 60_000, 30 * 60_000, 60 * 60_000]),
    st.sampled_from(["active", "active", "shadow"]),
)


@settings(max_examples=150, deadline=None)
@given(hits=st.lists(hit_strategy, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=4),
       snapshot=st.booleans())
def test_decisions_equal_the_reference_however_the_stream_is_cut(tmp_path_factory, hits, cuts, snapshot):
    hits = sorted(hits, key=lambda h: h[0])  # a stream arrives in event-time order, cut into batches
    frame = hit_frame(hits)
    bounds = sorted({0, len(hits), *[c for c in cuts if c <= len(hits)]})
    decider = Decider()
    statuses: dict[int, str] = {}
    path = tmp_path_factory.mktemp("snap") / "cooldowns.sqlite"
    for start, end in itertools.pairwise(bounds):
        decided = decider.decide(frame.slice(start, end - start))
        numbers, status = decided["hit"].to_list(), decided["status"].cast(pl.String).to_list()
        statuses.update(zip(numbers, status, strict=True))
        assert decided["active"].to_list() == [s == "fired" for s in decided["status"].cast(pl.String)]
        if snapshot:  # a restart between batches must not change any decision
            decider.save(path)
            decider = Decider.restore(path)
    assert [statuses[i] for i in range(len(hits))] == reference(hits)


def test_shadow_rules_are_reported_but_never_active(schemas):
    text = rule_toml("live", "transfer", "score >= 0.9", cooldown="1h") + rule_toml(
        "trial", "transfer", "score >= 0.5", cooldown="1h", mode="shadow")
    ruleset = RuleSet.from_text(text, schemas)
    batch = transfers([{"score": 0.95, "payer_phone": "138", "time": 0},
                       {"score": 0.6, "payer_phone": "139", "time": 1},
                       {"score": 0.7, "payer_phone": "139", "time": 5}])
    decided = Decider().decide(ruleset.evaluate(batch))
    rows = decided.select("event_id", "rule", "status", "active").rows()
    assert rows == [("t0", "live", "fired", True), ("t0", "trial", "shadow", False),
                    ("t1", "trial", "shadow", False), ("t2", "trial", "shadow_cooldown", False)]
    assert Decider().active(ruleset.evaluate(batch))["rule"].to_list() == ["live"]
    # A shadow-only rule set acts on nothing at all.
    shadow_only = RuleSet.from_text(rule_toml("trial", "transfer", "score >= 0.0", mode="shadow"), schemas)
    assert Decider().active(shadow_only.evaluate(batch)).height == 0


def test_one_episode_makes_one_decision_per_cooldown(schemas):
    ruleset = RuleSet.from_text(rule_toml("police", "transfer", "score >= 0.9", cooldown="30m"), schemas)
    episode = transfers([{"score": 0.95, "payer_phone": "138", "time": m} for m in (0, 3, 7, 12, 29, 31, 45)])
    decided = Decider().decide(ruleset.evaluate(episode))
    assert decided.filter("active")["event_id"].to_list() == ["t0", "t5"]


def test_rules_in_one_group_share_a_cooldown_and_old_state_is_pruned(schemas):
    text = rule_toml("call_rule", "transfer", "score >= 0.9", cooldown="1h", group="episode") + rule_toml(
        "amount_rule", "transfer", "amount >= 1000", cooldown="1h", group="episode")
    ruleset = RuleSet.from_text(text, schemas)
    batch = transfers([{"score": 0.95, "payer_phone": "138", "time": 0},
                       {"amount": 5000.0, "payer_phone": "138", "time": 10}])
    decider = Decider()
    decided = decider.decide(ruleset.evaluate(batch))
    assert decided["status"].cast(pl.String).to_list() == ["fired", "cooldown"]
    assert decider.prune(older_than_ms=int((T0 + timedelta(hours=2)).timestamp() * 1000)) == 1
    assert decider.last_fired == {}


def test_a_late_event_from_an_episode_already_decided_is_suppressed():
    decider = Decider()
    hits = hit_frame([(60, "police", "138", 30 * 60_000, "active")])
    assert decider.decide(hits)["status"].to_list() == ["fired"]
    late = decider.decide(hit_frame([(50, "police", "138", 30 * 60_000, "active"),
                                     (50, "police", "139", 30 * 60_000, "active")]))
    assert late["status"].cast(pl.String).to_list() == ["cooldown", "fired"]
    assert decider.watermark_ms == int((T0 + timedelta(minutes=60)).timestamp() * 1000)


def test_restore_refuses_a_file_that_is_not_a_snapshot_and_starts_fresh_without_one(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE alerts (id INTEGER)")
    db.close()
    with pytest.raises(StateError, match="not a cooldown snapshot"):
        Decider.restore(other)
    assert Decider.restore(tmp_path / "none.sqlite").last_fired == {}


def test_cooldowns_survive_a_rule_reload(schemas):
    before = RuleSet.from_text(rule_toml("police", "transfer", "score >= 0.9", cooldown="1h"), schemas)
    after = RuleSet.from_text(rule_toml("police", "transfer", "score >= 0.5", cooldown="1h"), schemas)
    decider = Decider()
    decider.decide(before.evaluate(transfers([{"score": 0.95, "payer_phone": "138", "time": 0}])))
    later = decider.decide(after.evaluate(transfers([{"score": 0.6, "payer_phone": "138", "time": 20}])))
    assert later["status"].cast(pl.String).to_list() == ["cooldown"]
