"""Settings of the serving API: where the keys are, how large a request may be, how busy the server may get.

>>> ApiSettings().max_in_flight
64
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ApiSettings:
    """Limits and key sources of one API server.

    ``max_body_bytes`` bounds bulk ingest bodies, ``max_small_body_bytes`` every other body.
    ``max_in_flight`` bounds concurrent requests (beyond it: 429), so memory stays below about
    ``max_in_flight * max_body_bytes`` however hard clients push. Keys come from ``keys_file``
    (TOML) and the ``keys_env`` environment variable; both hold sha256 hashes, never keys.

    >>> ApiSettings(max_in_flight=2).max_in_flight
    2
    """

    keys_file: Path | None = None
    keys_env: str = "FRAUD_BRAIN_API_KEYS"
    max_body_bytes: int = 32 * 1024 * 1024
    max_small_body_bytes: int = 1024 * 1024
    max_in_flight: int = 64
    max_event_streams: int = 32
    event_queue_size: int = 256
    """Alerts buffered per console stream; a console that falls further behind gets a resync."""
    pump_seconds: float = 5.0
    """How often the engine's action workflow runs its timers and delivers due actions (0: never)."""
    metrics_public: bool = True
    """Serve ``/metrics`` without a key (scrapers on a private network); else analyst/admin only."""
