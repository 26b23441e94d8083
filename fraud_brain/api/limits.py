"""Request limits as ASGI middleware: body size (413) and requests in flight (429).

Both act before any route reads the body, so an oversized or excess request costs the server
almost nothing: bounded memory however many clients push at once.

>>> limits = RequestLimits(max_in_flight=2, max_body_bytes=10, max_small_body_bytes=5, bulk_prefixes=("/bulk",))
>>> limits.body_limit("/bulk/x"), limits.body_limit("/small")
(10, 5)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    """A body that turned out larger than allowed while it was being read."""


@dataclass(frozen=True)
class RequestLimits:
    """Which limits apply where; paths under ``exempt_prefixes`` are never counted in flight."""

    max_in_flight: int
    max_body_bytes: int
    max_small_body_bytes: int
    bulk_prefixes: tuple[str, ...] = ("/v1/ingest/", "/v1/validate/", "/v1/labels", "/v1/decisions")
    exempt_prefixes: tuple[str, ...] = ("/health", "/metrics", "/v1/events", "/console", "/docs", "/openapi.json")

    def body_limit(self, path: str) -> int:
        """The largest body accepted on ``path``."""
        return self.max_body_bytes if path.startswith(self.bulk_prefixes) else self.max_small_body_bytes


async def _reply(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps({"detail": detail})
    await send({
        "type": "http.response.start", "status": status,
        "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or []),
        ],
    })
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    """Rejects excess concurrent requests with 429 and oversized bodies with 413.

    The in-flight counter is a plain integer: the server runs one event loop, so no lock is needed.
    """

    def __init__(self, app: ASGIApp, limits: RequestLimits, on_reject: Callable[[str], None] | None = None):
        self.app = app
        self.limits = limits
        self.in_flight = 0
        self._on_reject = on_reject or (lambda reason: None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.limits.body_limit(path)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            self._on_reject("too_large")
            await _reply(
                send, 413, f"request body of {int(declared)} bytes exceeds the limit of {limit} bytes for {path}",
            )
            return
        counted = not path.startswith(self.limits.exempt_prefixes)
        if counted and self.in_flight >= self.limits.max_in_flight:
            self._on_reject("overloaded")
            await _reply(
                send, 429,
                f"server busy: {self.in_flight} requests in flight (limit {self.limits.max_in_flight}); retry shortly",
                [(b"retry-after", b"1")],
            )
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        if counted:
            self.in_flight += 1
        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            self._on_reject("too_large")
            if not started:
                await _reply(send, 413, f"request body exceeds the limit of {limit} bytes for {path}")
        finally:
            if counted:
                self.in_flight -= 1
