"""A real ``fraud-brain serve`` process on a free 127.0.0.1 port, with a fresh store and one key per role."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from fraud_brain.api.auth import ROLES, hash_key

AGENTS = ("alice", "bob")
ROOT_MODELS = Path(__file__).resolve().parents[2] / "models"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server: its base URL, store file, and the key of each user."""

    url: str
    store: Path
    process: subprocess.Popen
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, user: str | None, **kwargs: object) -> httpx.Client:
        """An HTTP client authenticated as ``user`` (a role name, or an agent's name)."""
        headers = {"Authorization": f"Bearer {self.keys[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


def start_server(tmp: Path, *extra: str) -> Server:
    """Start ``fraud-brain serve`` (desk-only: the pipeline is not wired in) and wait for /health."""
    keys = {role: f"key-{role}-{os.urandom(6).hex()}" for role in ROLES}
    keys.update({name: f"key-{name}-{os.urandom(6).hex()}" for name in AGENTS})
    lines = []
    for user, key in keys.items():
        role = "agent" if user in AGENTS else user
        lines.append(f'[[key]]\nname = "{user}"\nrole = "{role}"\nsha256 = "{hash_key(key)}"\n')
    keys_file = tmp / "keys.toml"
    keys_file.write_text("\n".join(lines))
    store = tmp / "store.sqlite"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "FRAUD_BRAIN_API_KEYS"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from fraud_brain.cli import main; main()", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--keys", str(keys_file), "--store", str(store), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {process.stdout.read().decode() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Server(url, store, process, keys)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not become healthy within 60 s")


def stop_server(server: Server) -> None:
    """Stop the server process we started."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server per test module."""
    running = start_server(tmp_path_factory.mktemp("api"))
    yield running
    stop_server(running)


def decision(event_id: str, victim: str, **fields: object) -> dict[str, object]:
    """A rule decision in the rules layer's contract, for /v1/decisions."""
    return {"event_id": event_id, "time": "2026-11-01T08:00:00Z", "rule": "long_call_then_transfer", "tier": "minute",
            "actions": ["voice_bot"], "victim_key": victim, "score": 0.9,
            "reasons": [f"a 25-minute call to {victim} from a SIM activated 2 days ago"], **fields}
