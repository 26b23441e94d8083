"""The composition root: one configuration builds the live brain and the run; reloads go through it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import polars as pl
import pytest

from fraud_brain.errors import ConfigError
from fraud_brain.pipeline.assembly import Assembly
from fraud_brain.pipeline.config import AppConfig
from tests.conftest import write_sample_window

OFFICER_RULE = (
    'version = 1\n[[rule]]\nname = "officer_on_long_calls"\nevent = "call"\nwhen = "call_minutes >= 1"\n'
    'actions = ["officer_alert"]\nvictim = "callee"\ncooldown = "1h"\n'
)


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_window(tmp_path_factory.mktemp("window"), 6)


def _config(tmp_path: Path, window: Path, **fields: object) -> AppConfig:
    return AppConfig(state_dir=tmp_path / "state", subscribers=window / "subscribers.parquet", **fields)  # type: ignore[arg-type]


def test_officer_alerts_from_the_live_brain_name_the_victims_district(tmp_path: Path, window: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(OFFICER_RULE)
    brain = Assembly(_config(tmp_path, window, rules_path=rules)).brain()
    calls = pl.read_parquet(window / "calls.parquet").sort("start_time")
    brain.ingest("call", calls, source="feed")
    brain.flush()
    alerts = brain.store.table("actions").filter(pl.col("kind") == "officer_alert")
    assert alerts.height > 0
    subscribers = pl.read_parquet(window / "subscribers.parquet").select("phone", "district")
    district_of = dict(subscribers.drop_nulls().iter_rows())
    payloads = [orjson.loads(p) for p in alerts["payload"].to_list()]
    known = [p for p in payloads if p["victim"] in district_of]
    assert known, "some alerted victims are subscribers"
    assert all(p["district"] == district_of[p["victim"]] for p in known)


def test_reloads_go_through_the_root_and_a_failing_one_keeps_the_running_version(tmp_path: Path, window: Path) -> None:
    from fraud_brain.actions.policy import DEFAULT_POLICY_PATH

    policy = tmp_path / "policy.toml"
    policy.write_text(DEFAULT_POLICY_PATH.read_text())
    models = tmp_path / "models"
    import shutil

    from fraud_brain import bundled

    shutil.copytree(bundled.models_dir(), models)
    brain = Assembly(_config(tmp_path, window, policy_path=policy, models_dir=models)).brain()
    running = brain.orchestrator.policy
    assert brain.reload()["policy"] == {"status": "reloaded"}
    policy.write_text("this is = not [ a policy")
    (models / "transfer" / "CHAMPION").write_text("v999\n")
    answer = brain.reload()
    assert answer["policy"]["status"] == "kept" and answer["models"]["status"] == "kept"
    assert brain.orchestrator.policy == running
    assert brain.versions["model_transfer"] == "v002"
    audit = brain.store.table("audit_log")
    assert "policy_reload_failed" in audit["op"].to_list()


def test_pending_labels_survive_a_model_reload_and_a_restart(tmp_path: Path, window: Path) -> None:
    config = _config(tmp_path, window)
    brain = Assembly(config).brain()
    transfers = pl.read_parquet(window / "transfers.parquet").sort("time")
    brain.ingest("transfer", transfers, source="bank")
    brain.flush()
    assert brain.reload()["models"]["status"] == "reloaded"
    known_at = transfers["time"].max().isoformat()

    def labels(ids: list[str], tag: str) -> pl.DataFrame:
        return pl.DataFrame({"label_id": [f"{tag}{i}" for i in range(len(ids))], "entity_type": ["transfer"] * len(ids),
                             "entity_id": ids, "is_fraud": [i % 3 == 0 for i in range(len(ids))],
                             "typology": [None] * len(ids), "known_at": [known_at] * len(ids),
                             "source": ["bank"] * len(ids)})

    ids = transfers["transfer_id"].to_list()
    brain.add_labels(labels(ids[:20], "a"), source="bank")
    assert brain.learned() == 20  # the rows kept before the reload were still there
    brain.snapshot()
    brain.close()  # one owner per state folder
    reopened = Assembly(config).brain()
    assert reopened.learned() == 20
    reopened.add_labels(labels(ids[20:50], "b"), source="bank")
    assert reopened.learned() == 50  # and after a restart


def test_matured_negatives_are_learned_without_labels(tmp_path: Path, window: Path) -> None:
    brain = Assembly(_config(tmp_path, window, label_maturity_hours=1.0)).brain()
    transfers = pl.read_parquet(window / "transfers.parquet").sort("time")
    brain.ingest("transfer", transfers, source="bank")
    brain.flush()
    span = transfers["time"].max() - transfers["time"].min()
    assert span > timedelta(hours=2)
    older = transfers.filter(pl.col("time") <= transfers["time"].max() - timedelta(hours=1)).height
    learner = brain.learners["transfer"]
    # every transfer an hour older than the newest event seen was learned as legitimate
    assert learner.n_learned >= older * 0.95 and learner.n_learned <= transfers.height
    assert len(learner.pending) == transfers.height - learner.n_learned


def test_a_configuration_file_with_flags_over_it(tmp_path: Path) -> None:
    path = tmp_path / "fb.toml"
    path.write_text('[fraud_brain]\nstate_dir = "state"\nseed = 4\nhold_threshold = 0.95\n')
    config = AppConfig.load(path).with_overrides(seed=9, rules_path=None)
    assert (config.state_dir, config.seed, config.hold_threshold) == (tmp_path / "state", 9, 0.95)
    path.write_text('seed = 1\nhold_threshold = "high"\n')
    with pytest.raises(ConfigError, match=r"fb.toml:2: key 'hold_threshold' must be a float"):
        AppConfig.load(path)
    path.write_text("review_threshold = 0.99\n")
    with pytest.raises(ConfigError, match="review_threshold"):
        AppConfig.load(path)
