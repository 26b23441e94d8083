"""The live brain on its state folder: what was acknowledged survives a crash, exactly once.

A crash is simulated in process the way ``kill -9`` leaves things: the brain is abandoned
without a checkpoint or close, and only its lock is let go (the kernel does that for a killed
process). The real ``kill -9`` of ``fraud-brain serve`` is tests/api/test_crash_live.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fraud_brain.errors import StateError
from fraud_brain.pipeline.assembly import Assembly
from fraud_brain.pipeline.brain import Brain
from fraud_brain.pipeline.config import AppConfig
from tests.conftest import write_sample_window

HOURS = 6


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_window(tmp_path_factory.mktemp("window"), HOURS)


@pytest.fixture(scope="module")
def batches(window: Path) -> list[tuple[str, pl.DataFrame]]:
    """Calls, transfers and labels in time order, cut in small batches of one kind (seeded sizes)."""
    calls = pl.read_parquet(window / "calls.parquet")
    transfers = pl.read_parquet(window / "transfers.parquet")
    index = pl.int_range(pl.len()).alias("i")
    events = pl.concat(
        [calls.select(pl.lit("call").alias("kind"), pl.col("start_time").alias("t"), index),
         transfers.select(pl.lit("transfer").alias("kind"), pl.col("time").alias("t"), index)]
    ).sort("t", "kind")
    rng = np.random.default_rng(11)
    out: list[tuple[str, pl.DataFrame]] = []
    start = 0
    while start < events.height:
        chunk = events.slice(start, int(rng.integers(50, 400)))
        start += chunk.height
        runs = chunk.with_columns((pl.col("kind") != pl.col("kind").shift()).fill_null(True).cum_sum().alias("run"))
        for run in runs.partition_by("run", maintain_order=True):
            kind = run["kind"][0]
            out.append((kind, (calls if kind == "call" else transfers)[run["i"]]))
        if len(out) % 5 == 0:  # now and then the bank confirms some of the transfers seen so far
            seen = [f for k, f in out if k == "transfer"][-1]["transfer_id"].head(5).to_list()
            known_at = chunk["t"].max().isoformat()
            out.append(("label", pl.DataFrame({
                "label_id": [f"l{len(out)}-{i}" for i in range(len(seen))], "entity_type": ["transfer"] * len(seen),
                "entity_id": seen, "is_fraud": [i % 2 == 0 for i in range(len(seen))], "typology": [None] * len(seen),
                "known_at": [known_at] * len(seen), "source": ["bank"] * len(seen)})))
    return out


def _config(folder: Path, window: Path, **fields: object) -> AppConfig:
    return AppConfig(state_dir=folder, subscribers=window / "subscribers.parquet", snapshot_records=700,
                     **fields)  # type: ignore[arg-type]


def _send(brain: Brain, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    report = brain.add_labels(frame, source="bank") if kind == "label" else brain.ingest(kind, frame, source="feed")
    return report.scored


def _crash(brain: Brain) -> None:
    """What kill -9 leaves: nothing checkpointed or closed; the kernel drops the lock."""
    assert brain.durable is not None
    brain.durable.lock.release()


def _outcome(brain: Brain) -> dict[str, pl.DataFrame]:
    """The store's alerts, cases and outbox rows, without the wall-clock columns."""
    store = brain.store
    alerts = store.table("alerts").select("event_id", "rule", "score", "victim_key", "tier").sort("event_id", "rule")
    cases = store.table("cases").select("case_uid", "victim_key", "rule", "max_score", "last_alert_at").sort("case_uid")
    actions = store.table("actions").select("kind", "idempotency_key", "subject", "payload").sort("idempotency_key")
    return {"alerts": alerts, "cases": cases, "actions": actions}


def _scores(parts: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat([p for p in parts if p.height]).sort("id")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, window: Path,
                  batches: list[tuple[str, pl.DataFrame]]) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    brain = Assembly(_config(tmp_path_factory.mktemp("straight"), window)).brain()
    scores = _scores([_send(brain, kind, frame) for kind, frame in batches])
    outcome = _outcome(brain)
    brain.close()
    assert outcome["alerts"].height > 0 and outcome["actions"].height > 0, "the window must raise alerts"
    return scores, outcome


def test_a_crash_at_any_point_recovers_exactly_the_uninterrupted_state(
        tmp_path: Path, window: Path, batches: list[tuple[str, pl.DataFrame]],
        uninterrupted: tuple[pl.DataFrame, dict[str, pl.DataFrame]]) -> None:
    """Crashes after acknowledged batches and between the log append and the engine: re-sending
    what was not acknowledged gives the uninterrupted run's scores, alerts, cases and outbox."""
    rng = np.random.default_rng(5)
    crashes = set(rng.choice(np.arange(1, len(batches) - 1), size=6, replace=False).tolist())
    torn = set(list(crashes)[:3])  # of those, the batch was logged but the engine never took it
    config = _config(tmp_path / "state", window)
    brain = Assembly(config).brain()
    parts: list[pl.DataFrame] = []
    answered: set[int] = set()
    i = 0
    while i < len(batches):
        kind, frame = batches[i]
        if i in crashes:
            crashes.discard(i)
            if i in torn and kind != "label":
                brain._log("ingest", frame, stream=kind, source="feed")  # on disk, no answer sent
            _crash(brain)
            brain = Assembly(config).brain()
            continue  # the feed got no answer: it sends the batch again
        scored = _send(brain, kind, frame)
        parts.append(scored)
        answered.add(i)
        i += 1
    straight_scores, straight_outcome = uninterrupted
    got = _scores(parts)
    # a batch logged before a crash was scored in the replay (its answer lost): the re-send is all duplicates
    assert got["id"].is_unique().all()
    assert set(got["id"]) <= set(straight_scores["id"])
    joined = straight_scores.join(got, on="id", suffix="_crash")
    assert np.allclose(joined["score"].to_numpy(), joined["score_crash"].to_numpy(), rtol=0, atol=1e-12)
    outcome = _outcome(brain)
    for name, frame in straight_outcome.items():
        assert outcome[name].equals(frame), name
    brain.close()


def test_a_torn_snapshot_falls_back_to_the_previous_one_and_says_so(
        tmp_path: Path, window: Path, batches: list[tuple[str, pl.DataFrame]],
        uninterrupted: tuple[pl.DataFrame, dict[str, pl.DataFrame]]) -> None:
    config = _config(tmp_path / "state", window)
    brain = Assembly(config).brain()
    half = len(batches) // 2
    for kind, frame in batches[:half]:
        _send(brain, kind, frame)
    brain.checkpoint()
    _crash(brain)
    snapshots = sorted((tmp_path / "state" / "snapshots").glob("*"))
    assert len(snapshots) >= 2
    newest = max(snapshots, key=lambda p: p.name)
    engine_state = next(newest.rglob("state.npz"))
    engine_state.write_bytes(engine_state.read_bytes()[: engine_state.stat().st_size // 2])  # torn
    brain = Assembly(config).brain()
    recovery = brain.recovery
    assert recovery["skipped_snapshots"] and newest.name in recovery["skipped_snapshots"][0]
    assert recovery["snapshot"] != newest.name
    for kind, frame in batches[half:]:
        _send(brain, kind, frame)
    outcome = _outcome(brain)
    for name, frame in uninterrupted[1].items():
        assert outcome[name].equals(frame), name
    brain.close()


def test_a_second_brain_on_the_same_folder_is_refused(tmp_path: Path, window: Path) -> None:
    config = _config(tmp_path / "state", window)
    brain = Assembly(config).brain()
    with pytest.raises(StateError, match="is in use by pid"):
        Assembly(config).brain()
    brain.close()
    Assembly(config).brain().close()  # free again once the owner closed it


GOOD_RULES = ('version = 1\n[[rule]]\nname = "long_calls"\nevent = "call"\nwhen = "call_minutes >= 1"\n'
              'actions = ["officer_alert"]\nvictim = "callee"\ncooldown = "1h"\n')


def test_a_broken_rule_file_found_by_the_automatic_reload_loses_no_batch(
        tmp_path: Path, window: Path, batches: list[tuple[str, pl.DataFrame]]) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(GOOD_RULES)
    brain = Assembly(_config(tmp_path / "state", window, rules_path=rules)).brain()
    calls = [frame for kind, frame in batches if kind == "call"]
    scored = [brain.ingest("call", calls[0], source="feed").scored]
    version = brain.versions["rules"]
    rules.write_text(GOOD_RULES.replace("call_minutes >= 1", "call_minutes >=") + "\n# broken\n")
    report = brain.ingest("call", calls[1], source="feed")
    assert report.accepted == calls[1].height and report.duplicates == 0
    scored += [report.scored, brain.flush().scored]
    ids = set(pl.concat([p for p in scored if p.height])["id"].to_list())
    assert set(calls[1]["call_id"].to_list()) <= ids  # every record of the batch was scored
    assert brain.versions["rules"] == version  # the running rules stay
    assert brain.reload()["rules"]["status"] == "kept"
    assert brain.ingest("call", calls[1], source="feed").duplicates == calls[1].height  # taken once, not lost
    brain.close()


def test_a_rule_file_broken_at_start_refuses_the_batch_before_the_engine_takes_it(
        tmp_path: Path, window: Path, batches: list[tuple[str, pl.DataFrame]]) -> None:
    from fraud_brain.errors import ConfigError

    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nname = \n")
    brain = Assembly(_config(tmp_path / "state", window, rules_path=rules)).brain()
    calls = next(frame for kind, frame in batches if kind == "call")
    with pytest.raises(ConfigError):
        brain.ingest("call", calls, source="feed")
    rules.write_text(GOOD_RULES)
    report = brain.ingest("call", calls, source="feed")
    assert (report.accepted, report.duplicates) == (calls.height, 0)  # the re-sent batch is new, not a duplicate
    brain.close()
