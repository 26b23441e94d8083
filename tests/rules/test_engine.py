"""The rules stage end to end: reload, cooldowns, shadow mode and a restart from the snapshot."""

from __future__ import annotations

import os

from rules_frames import rule_toml, transfers

from fraud_brain.rules import RuleManager
from fraud_brain.rules.engine import RuleEngine


def test_a_restart_keeps_cooldowns_and_a_bad_reload_keeps_the_rules(tmp_path, schemas):
    rules_path, state = tmp_path / "rules.toml", tmp_path / "cooldowns.sqlite"
    rules_path.write_text(rule_toml("hot", "transfer", "score >= 0.9", cooldown="1h")
                          + rule_toml("trial", "transfer", "score >= 0.5", mode="shadow"))
    engine = RuleEngine(RuleManager(rules_path, schemas), state_path=state)
    first = engine.process(transfers([{"score": 0.95, "payer_phone": "138", "time": 0}]))
    assert first.select("rule", "status").rows() == [("hot", "fired"), ("trial", "shadow")]
    engine.save()

    restarted = RuleEngine(RuleManager(rules_path, schemas), state_path=state)
    later = transfers([
        {"score": 0.95, "payer_phone": "138", "time": 30}, {"score": 0.95, "payer_phone": "139", "time": 31},
    ])
    assert restarted.decisions(later)["victim_key"].to_list() == ["139"]

    rules_path.write_text(rule_toml("hot", "transfer", "score >= 'very'"))
    stat = os.stat(rules_path)
    os.utime(rules_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = transfers([{"score": 0.95, "payer_phone": "140", "time": 40}])
    assert restarted.decisions(again)["rule"].to_list() == ["hot"]
    assert restarted.reload_error is not None and "rule 'hot': when" in str(restarted.reload_error)
    assert {r.name for r in restarted.ruleset.rules} == {"hot", "trial"}
    assert restarted.stats.table().rows() == [("hot", "active", 3, 2, 1), ("trial", "shadow", 3, 3, 0)]
    empty = restarted.process(transfers([]))
    assert empty.height == 0 and {"status", "active"} <= set(empty.columns)
