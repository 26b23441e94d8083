"""A real webhook receiver on 127.0.0.1 that can fail, stall and see repeats, counting effects per key."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fraud_brain.actions.adapters.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)

SECRET = b"test-secret"


class Receiver:
    """An idempotent receiver: applies each idempotency key's effect once and replays its answer.

    ``plan[key]`` is a list of behaviours consumed one per delivery of that key:
    ``"500"`` (fail before any effect), ``"stall"`` (apply the effect, then answer only after
    ``stall_s``, past the client's timeout), ``"409"`` (answer a repeat with 409 instead of a
    replay), ``"400"`` (reject the request). Deliveries without a plan are answered normally.
    ``hang_on_delivery`` makes the n-th fresh delivery apply its effect and then hang (the
    crash test kills the sender meanwhile).
    """

    def __init__(self, secret: bytes = SECRET):
        self.secret = secret
        self.lock = threading.Lock()
        self.effects: Counter[str] = Counter()
        self.deliveries: Counter[str] = Counter()
        self.bodies: dict[str, bytes] = {}
        self.answers: dict[str, dict] = {}
        self.plan: dict[str, list[str]] = {}
        self.bad_signatures = 0
        self.body_mismatches = 0
        self.stall_s = 1.0
        self.hang_on_delivery: int | None = None
        self.hanging = threading.Event()
        self.url = ""

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        signature = headers.get(SIGNATURE_HEADER, "")
        if not verify_signature(self.secret, body, headers.get(TIMESTAMP_HEADER, ""), signature,
                                key=headers.get(IDEMPOTENCY_HEADER, "")):
            with self.lock:
                self.bad_signatures += 1
            return 401, {"error": "bad signature"}
        key = headers.get(IDEMPOTENCY_HEADER, "")
        document = json.loads(body)
        with self.lock:
            self.deliveries[key] += 1
            steps = self.plan.get(key) or []
            step = steps.pop(0) if steps else "ok"
            if key in self.bodies and self.bodies[key] != body:
                self.body_mismatches += 1
            if step == "500":
                return 500, {"error": "planned failure"}
            if step == "400":
                return 400, {"error": "planned rejection"}
            repeat = key in self.answers
            if not repeat:
                self.effects[key] += 1
                self.bodies[key] = body
                self.answers[key] = self._answer(document)
            answer = dict(self.answers[key])
            hang = (
                not repeat
                and self.hang_on_delivery is not None
                and sum(self.effects.values()) == self.hang_on_delivery
            )
        if hang:
            self.hanging.set()
            time.sleep(30)
        if step == "stall":
            time.sleep(self.stall_s)
        if repeat and step == "409":
            return 409, {"error": "already processed"}
        return 200, {**answer, "duplicate": repeat}

    @staticmethod
    def _answer(document: dict) -> dict:
        if document["kind"] == "stop_payment":
            return {"outcome": "held", "amount_held": document["payload"]["amount"]}
        if document["kind"] == "officer_alert":
            return {"outcome": "delivered"}
        return {"outcome": "accepted"}


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, answer = receiver.handle(dict(self.headers.items()), body)
            payload = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # The client gave up (timed out or was killed); the effect stands.

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver; ``receiver.url`` is its endpoint on a free port of 127.0.0.1."""
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/actions"
    yield state
    server.shutdown()
    server.server_close()
