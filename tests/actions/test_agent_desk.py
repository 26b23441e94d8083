"""The simulated agent desk."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from fraud_brain.actions import ManualClock, Orchestrator, SimulatedAgentDesk, decision_frame
from fraud_brain.store import SQLiteRepository

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def test_pickup_delays_have_a_median_near_six_minutes_and_a_tail() -> None:
    desk = SimulatedAgentDesk(seed=1)
    delays = sorted(desk.pickup_delay(i).total_seconds() / 60 for i in range(2000))
    assert 5.0 < delays[1000] < 7.0
    assert delays[-100] > 10.0  # some minute-tier SLAs (10 min) will be breached


def test_high_scores_get_more_fraud_dispositions() -> None:
    desk = SimulatedAgentDesk(seed=2)
    high = Counter(desk.disposition(i, 0.95) for i in range(2000))
    low = Counter(desk.disposition(i, 0.05) for i in range(2000))
    assert high["prevented"] + high["victim_confirmed_scam"] > 2 * (
        low["prevented"] + low["victim_confirmed_scam"]
    )
    assert low["false_alarm"] > 3 * high["false_alarm"]


def test_work_closes_tasks_once_their_pickup_time_comes() -> None:
    clock = ManualClock(T0)
    store = SQLiteRepository(":memory:")
    orch = Orchestrator(store, clock=clock)
    orch.ingest(
        decision_frame(
            [
                {
                    "event_id": f"e{i}",
                    "time": T0,
                    "victim_key": f"1380000000{i}",
                    "actions": ["agent_followup"],
                }
                for i in range(5)
            ]
        )
    )
    desk = SimulatedAgentDesk(seed=3)
    pickups = sorted(T0 + desk.pickup_delay(t.task_id) for t in store.open_agent_tasks())
    clock.set(pickups[1])
    assert desk.work(orch, clock.now()) == 2
    assert len(store.open_agent_tasks()) == 3
    clock.set(pickups[-1] + timedelta(seconds=1))
    assert desk.work(orch, clock.now()) == 3 and store.open_agent_tasks() == []
    assert store.table("cases")["status"].to_list() == ["closed"] * 5
