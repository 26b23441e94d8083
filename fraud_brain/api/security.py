"""Security headers on every response: what a browser may load, frame, sniff and cache.

The console is served from this origin with no inline script or style, so its policy is
``'self'`` only; nothing may frame it (click-jacking an agent's "stop payment" button);
content types are never sniffed; and JSON answers — they carry phone numbers and case data —
are never stored by a browser or proxy cache. The interactive API docs (``/docs``, ``/redoc``)
load their own script and style and keep a looser policy.

>>> [name for name, _ in headers_for("/v1/cases", "application/json")][:3]
[b'x-content-type-options', b'referrer-policy', b'x-frame-options']
>>> dict(headers_for("/v1/cases", "application/json"))[b'cache-control']
b'no-store'
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The policy of the console and every API answer."""
DOCS_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
"""The interactive docs load their own script and style; they still may not be framed."""
_DOCS_PATHS = ("/docs", "/redoc")
_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def headers_for(path: str, content_type: str) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to ``path`` with ``content_type``."""
    headers = list(_ALWAYS)
    policy = DOCS_POLICY if path.startswith(_DOCS_PATHS) else CONTENT_SECURITY_POLICY
    headers.append((b"content-security-policy", policy.encode("ascii")))
    if "json" in content_type or "event-stream" in content_type:
        headers.append((b"cache-control", b"no-store"))
    return headers


class SecurityHeaders:
    """ASGI middleware adding :func:`headers_for` to every HTTP response (a header the app set wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = list(message.get("headers", []))
                names = {name.lower() for name, _ in existing}
                content_type = next((value.decode("latin-1") for name, value in existing
                                     if name.lower() == b"content-type"), "")
                extra = [(name, value) for name, value in headers_for(path, content_type) if name not in names]
                message["headers"] = existing + extra
            await send(message)

        await self.app(scope, receive, with_headers)
