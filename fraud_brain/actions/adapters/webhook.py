"""A real HTTP webhook adapter: signed JSON, timeouts, retries with backoff, an idempotency key.

Each request carries ``Idempotency-Key`` (the action's key, the same on every retry and after
a crash), ``X-Fraud-Brain-Timestamp`` and ``X-Fraud-Brain-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``"<timestamp>.<idempotency key>.<body>"`` under a shared secret: the body,
the time it was sent and the key the receiver deduplicates on are all covered, so none of
them can be swapped on a replayed request. The timestamp is whole epoch seconds in decimal
digits (``"nan"``, ``"1e9"`` or ``"-5"`` never verify). Receivers check it with
:func:`verify_signature` and apply each key's effect once; a ``409 Conflict`` (key already
processed) counts as success, as does a 2xx replay of the first answer.

>>> body = b'{"a": 1}'
>>> sig = sign(b"secret", "1700000000", body, key="k1")
>>> verify_signature(b"secret", body, "1700000000", sig, key="k1", now=1700000010)
True
>>> verify_signature(b"secret", body + b" ", "1700000000", sig, key="k1", now=1700000010)
False
>>> verify_signature(b"secret", body, "1700000000", sig, key="k2", now=1700000010)
False
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from fraud_brain.actions.adapters.base import AdapterResult
from fraud_brain.store.models import Action

SIGNATURE_HEADER = "X-Fraud-Brain-Signature"
TIMESTAMP_HEADER = "X-Fraud-Brain-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_EPOCH_SECONDS = re.compile(r"[0-9]{1,12}")


def sign(secret: bytes, timestamp: str, body: bytes, *, key: str) -> str:
    """The signature header value for a body with idempotency ``key`` sent at ``timestamp``.

    ``timestamp`` is epoch seconds as decimal text.

    >>> sign(b"k", "0", b"{}", key="a")[:7]
    'sha256='
    >>> sign(b"k", "0", b"{}", key="a") == sign(b"k", "0", b"{}", key="b")
    False
    """
    message = b".".join((timestamp.encode("ascii"), key.encode("utf-8"), body))
    digest = hmac.new(secret, message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    key: str,
    now: float | None = None,
    tolerance_s: float = 300.0,
) -> bool:
    """Whether a webhook request is authentic and fresh (within ``tolerance_s`` of ``now``).

    >>> verify_signature(b"k", b"{}", "0", sign(b"k", "0", b"{}", key="a"), key="a", now=1000)
    False
    >>> verify_signature(b"k", b"{}", "nan", sign(b"k", "nan", b"{}", key="a"), key="a", now=1000)
    False
    """
    if not isinstance(timestamp, str) or not _EPOCH_SECONDS.fullmatch(timestamp):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body, key=key), signature)


def request_body(action: Action) -> bytes:
    """The JSON body sent for an action (stable across retries of the same action).

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> json.loads(request_body(Action(3, 1, "officer_alert", "k3", {"victim": "138"}, "in_flight", 1, t, t)))["kind"]
    'officer_alert'
    """
    document = {
        "idempotency_key": action.idempotency_key,
        "action_id": action.action_id,
        "case_id": action.case_id,
        "kind": action.kind,
        "payload": action.payload,
        "created_at": action.created_at.isoformat(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass
class WebhookAdapter:
    """POSTs actions to a receiver URL, retrying transient failures within one dispatch.

    Retried: connection errors, timeouts, 429 and 5xx. Not retried: other 4xx (the request
    itself is wrong; the outbox marks the action dead). The outbox retries again later on
    a retryable failure, with the same idempotency key.

    >>> adapter = WebhookAdapter("http://127.0.0.1:9/hook", b"secret", max_retries=0, timeout_s=0.2)
    >>> adapter.backoff_s(2, 0.0)
    0.1
    """

    url: str
    secret: bytes
    timeout_s: float = 5.0
    max_retries: int = 3
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 5.0
    jitter: float = 0.5
    seed: int | None = None
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError(f"webhook {self.url}: an empty signing secret is not allowed")
        self._rng = random.Random(self.seed)
        if self.client is None:
            self.client = httpx.Client(timeout=self.timeout_s)

    def backoff_s(self, retry: int, unit_random: float) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): exponential, capped, with jitter."""
        base = float(min(self.backoff_base_s * 2 ** (retry - 1), self.backoff_cap_s))
        return round(base * (1 + self.jitter * unit_random), 6)

    def send(self, action: Action) -> AdapterResult:
        body = request_body(action)
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.sleep(self.backoff_s(attempt, self._rng.random()))
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                IDEMPOTENCY_HEADER: action.idempotency_key,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self.secret, timestamp, body, key=action.idempotency_key),
            }
            try:
                assert self.client is not None
                response = self.client.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
            except httpx.TimeoutException:
                last_error = (
                    f"{action.kind} {action.idempotency_key}: timed out after {self.timeout_s}s at {self.url}"
                )
                continue
            except httpx.TransportError as exc:
                last_error = f"{action.kind} {action.idempotency_key}: cannot reach {self.url}: {exc}"
                continue
            if response.status_code == 409 or 200 <= response.status_code < 300:
                return self._success(response)
            last_error = (
                f"{action.kind} {action.idempotency_key}: {self.url} answered HTTP {response.status_code}"
            )
            if response.status_code != 429 and response.status_code < 500:
                return AdapterResult.failure(last_error, retryable=False)
        return AdapterResult.failure(last_error, retryable=True)

    @staticmethod
    def _success(response: httpx.Response) -> AdapterResult:
        try:
            answer: Any = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {"answer": answer}
        duplicate = response.status_code == 409 or bool(answer.get("duplicate"))
        outcome = str(answer.get("outcome") or ("duplicate_accepted" if duplicate else "accepted"))
        held = answer.get("amount_held")
        detail = {"http_status": response.status_code, "duplicate": duplicate, **answer}
        return AdapterResult.success(outcome, detail, amount_held=None if held is None else float(held))

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self.client is not None:
            self.client.close()
