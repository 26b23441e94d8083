"""A replay-and-dispatch process for the crash test: ingest decisions, deliver them over a webhook.

Run as ``python crash_worker.py DB URL SECRET VICTIMS``. The same decisions are made on every
run, so a restarted worker re-ingests them (duplicates are ignored) and finishes the outbox.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta


def decisions(victims: int) -> list[dict]:
    """Deterministic decisions: each victim gets a fan-out alert with a transfer to one of a few mules."""
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    return [
        {
            "event_id": f"crash-{i}",
            "time": start + timedelta(seconds=i),
            "victim_key": f"1390000{i:04d}",
            "tier": "minute",
            "score": 0.96,
            "typology": "impersonating_police",
            "payee_account": f"MULE{i % 7}",
            "payee_bank": "B",
            "amount": 1000.0 + i,
            "transfer_id": f"CT{i}",
        }
        for i in range(victims)
    ]


def main(db: str, url: str, secret: str, victims: int) -> None:
    from fraud_brain.actions import (
        Dispatcher,
        Orchestrator,
        OutboxSettings,
        SystemClock,
        WebhookAdapter,
        decision_frame,
    )
    from fraud_brain.store import SQLiteRepository

    store = SQLiteRepository(db)
    clock = SystemClock()
    frame = decision_frame(decisions(victims))
    orchestrator = Orchestrator(store, clock=clock)
    for start in range(0, frame.height, 10):
        orchestrator.ingest(frame.slice(start, 10))
    adapter = WebhookAdapter(url, secret.encode(), timeout_s=5.0, max_retries=2, backoff_base_s=0.01)
    settings = OutboxSettings(
        lease=timedelta(seconds=1), max_attempts=10, backoff_base=timedelta(seconds=0.05)
    )
    kinds = ("voice_bot", "agent_followup", "stop_payment", "officer_alert")
    Dispatcher(store, dict.fromkeys(kinds, adapter), clock, settings, batch_size=1).run_until_idle(
        max_wait=timedelta(seconds=5)
    )
    counts = store.action_status_counts()
    print(counts, flush=True)
    sys.exit(0 if set(counts) == {"done"} else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
