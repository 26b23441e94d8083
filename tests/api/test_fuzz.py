"""Schemathesis fuzzes every operation of the OpenAPI spec against the real server: never a 500.

Requests go out as the admin (admitted everywhere) so the fuzzing reaches the handlers rather than
stopping at the key check; a second pass without a key must get 401s, never a 500 either.
The event stream (``/v1/events``) never ends by design, so it is exercised in test_app instead.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from fraud_brain.api import ApiSettings, create_app
from fraud_brain.api.auth import KeyRing
from fraud_brain.store import SQLiteRepository
from tests.api.conftest import Server, decision

schemathesis = pytest.importorskip("schemathesis")

# The spec the server publishes, built in-process so operations can be listed at collection time.
SPEC = create_app(None, ApiSettings(), store=SQLiteRepository(":memory:"), keys=KeyRing()).openapi()
OPERATIONS = [(method.upper(), path) for path, item in SPEC["paths"].items() for method in item if path != "/v1/events"]


@pytest.fixture(scope="module")
def api_schema(server: Server):
    with server.client("feed") as feed:
        # Some cases to act on, so case routes reach past "not found" for small ids.
        cases = [
            decision(f"fz-{i}", f"1380000{i:04d}", transfer_id=f"T{i}", payee_account=f"M{i}",
                     payee_bank="B", amount=100.0 + i)
            for i in range(5)
        ]
        feed.post("/v1/decisions", json=cases).raise_for_status()
    loaded = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    served = sorted(
        (m.upper(), p) for p, item in loaded.raw_schema["paths"].items() for m in item if p != "/v1/events"
    )
    assert served == sorted(OPERATIONS)
    return loaded


def _fuzz(api_schema, server: Server, method: str, path: str, key: str | None, examples: int) -> list[int]:
    operation = api_schema[path][method].ok() if hasattr(api_schema[path][method], "ok") else api_schema[path][method]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    statuses: list[int] = []

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def run(case) -> None:
        response = case.call(base_url=server.url, headers=headers, timeout=30)
        statuses.append(response.status_code)
        described = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:400]}"
        assert response.status_code < 500 or (response.status_code == 503 and "pipeline" in response.text), described
        if key is None and path not in ("/health", "/metrics"):
            assert response.status_code in (401, 413), described

    run()
    assert statuses, f"{method} {path}: no request was generated"
    return statuses


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_no_server_errors_as_admin(api_schema, server: Server, method: str, path: str) -> None:
    statuses = _fuzz(api_schema, server, method, path, server.keys["admin"], examples=40)
    assert 401 not in statuses and 403 not in statuses


@pytest.mark.parametrize("method,path", OPERATIONS)
def test_no_server_errors_without_a_key(api_schema, server: Server, method: str, path: str) -> None:
    _fuzz(api_schema, server, method, path, None, examples=5)
