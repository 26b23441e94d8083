"""Hot reload: a changed rule file is picked up; a bad one is refused and the old rules keep running."""

from __future__ import annotations

import os

import pytest
from rules_frames import rule_toml, transfers

from fraud_brain.rules import RuleFileError, RuleManager


def write(path, text: str, bump: int) -> None:
    path.write_text(text)
    # Bump mtime explicitly: two writes within one timestamp tick must still count as a change.
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def test_reload_on_change_refuses_a_bad_file_and_recovers(tmp_path, schemas):
    path = tmp_path / "rules.toml"
    write(path, rule_toml("big", "transfer", "score >= 0.9"), 0)
    manager = RuleManager(path, schemas)
    batch = transfers([{"score": 0.95}, {"score": 0.6}])
    assert manager.evaluate(batch)["event_id"].to_list() == ["t0"]
    assert manager.check() is None  # unchanged file: nothing re-read

    write(path, rule_toml("big", "transfer", "score >= 0.5"), 1)
    assert manager.evaluate(batch)["event_id"].to_list() == ["t0", "t1"]
    assert manager.reloads == 1 and manager.last_error is None

    good_version = manager.version
    write(path, rule_toml("big", "transfer", "scroe >= 0.1"), 2)
    hits = manager.evaluate(batch)  # the bad file is refused; the last good rules still run
    assert hits["event_id"].to_list() == ["t0", "t1"]
    assert manager.version == good_version
    assert isinstance(manager.last_error, RuleFileError)
    assert "rules.toml:4: rule 'big': when: unknown column 'scroe'" in str(manager.last_error)
    result = manager.reload()
    assert not result.ok and result.error is manager.last_error

    write(path, rule_toml("big", "transfer", "score >= 0.9") + rule_toml("small", "transfer", "score < 0.7"), 3)
    result = manager.check()
    assert result is not None and result.ok and result.changed
    assert manager.last_error is None and manager.reloads == 2
    assert manager.evaluate(batch).select("event_id", "rule").rows() == [("t0", "big"), ("t1", "small")]


def test_a_touched_but_identical_file_is_not_reloaded(tmp_path, schemas):
    path = tmp_path / "rules.toml"
    write(path, rule_toml(), 0)
    manager = RuleManager(path, schemas)
    write(path, rule_toml(), 5)
    result = manager.check()
    assert result is not None and not result.changed and result.ok and manager.reloads == 0


def test_a_deleted_file_keeps_the_rules_running(tmp_path, schemas):
    path = tmp_path / "rules.toml"
    write(path, rule_toml(), 0)
    manager = RuleManager(path, schemas)
    path.unlink()
    result = manager.check()
    assert result is not None and not result.ok and "cannot read" in str(result.error)
    assert len(manager.rules) == 1


def test_the_first_load_must_succeed(tmp_path, schemas):
    path = tmp_path / "rules.toml"
    write(path, rule_toml(when="nope > 1"), 0)
    with pytest.raises(RuleFileError, match="unknown column 'nope'"):
        RuleManager(path, schemas)
