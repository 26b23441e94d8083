"""Only the caller's mistakes answer 4xx: a bug of ours is a 500 with a request id, logged with its traceback.

No user can make the engine crash on purpose, so the bugs here come from a stand-in engine whose
methods raise what a bug would (a stray ValueError, a KeyError); everything around it — the
app, its routes, validation, keys — is the real one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fraud_brain.actions.cases import CaseService
from fraud_brain.api import ApiSettings, create_app
from fraud_brain.api.auth import KeyRing, hash_key
from fraud_brain.errors import ConflictError, InputError, MissingInputError
from fraud_brain.store import SQLiteRepository

KEY = "bank-key"
TRANSFER = {"transfer_id": "t-1", "time": "2026-11-01T08:05:00Z", "payer_account": "ACC001",
            "payer_phone": "13800000001", "payee_account": "MULE77", "payee_bank": "ICBC", "amount": 5000.0,
            "channel": "mobile_app"}


class StandInEngine:
    """The engine port whose every method raises ``failure`` (what a bug, or a refusal, would raise)."""

    def __init__(self) -> None:
        self.store = SQLiteRepository(":memory:")
        self.cases = CaseService(self.store)
        self.versions: dict[str, str] = {}
        self.failure: BaseException = RuntimeError("no failure set")

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise self.failure

    def _idle(self, *args: Any, **kwargs: Any) -> Any:
        return {}

    ingest = ingest_validated = check_transfer = entity_risk = add_labels = reload = _fail
    # the app's own housekeeping (timers, shutdown) is not what these tests break
    flush = pump = snapshot = _idle


@pytest.fixture
def engine() -> StandInEngine:
    return StandInEngine()


@pytest.fixture
def client(engine: StandInEngine) -> Iterator[TestClient]:
    keys = KeyRing.parse_env(f"bank:bank:{hash_key(KEY)}")
    app = create_app(engine, ApiSettings(pump_seconds=0), keys=keys)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {KEY}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as test_client:
        yield test_client


def _check(client: TestClient, body: dict[str, Any] | None = None) -> Any:
    return client.post("/v1/check/transfer", json=body or TRANSFER)


def _risk(client: TestClient) -> Any:
    return client.get("/v1/entities/account/ACC001")


BUGS: list[BaseException] = [ValueError("could not convert string to float: 'x'"), KeyError("payer_account"),
                             TypeError("unsupported operand"), ZeroDivisionError("division by zero")]


@pytest.mark.parametrize("bug", BUGS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("call", [_check, _risk], ids=["check", "risk"])
def test_a_bug_is_a_500_with_a_request_id_and_a_logged_traceback(
    client: TestClient, engine: StandInEngine, caplog: pytest.LogCaptureFixture,
    bug: BaseException, call: Callable[[TestClient], Any],
) -> None:
    engine.failure = bug
    with caplog.at_level(logging.ERROR, logger="fraud_brain.api"):
        response = call(client)
    assert response.status_code == 500, response.text
    body = response.json()
    request_id = body["request_id"]
    assert request_id and response.headers["x-request-id"] == request_id and request_id in body["detail"]
    # No internals go to the caller.
    assert str(bug) not in response.text and type(bug).__name__ not in response.text
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None and logged[0].exc_info[1] is bug


def test_a_given_request_id_is_kept(client: TestClient, engine: StandInEngine) -> None:
    engine.failure = ValueError("a bug")
    response = client.post("/v1/check/transfer", json=TRANSFER, headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 500 and response.json()["request_id"] == "trace-42"


@pytest.mark.parametrize(("failure", "status"), [
    (InputError("amount 5000 exceeds the payer's daily limit"), 422),
    (MissingInputError("account ACC001 is not known to the engine"), 404),
    (ConflictError("the models are being reloaded"), 409),
], ids=["input", "missing", "conflict"])
def test_the_callers_mistakes_are_4xx_with_the_reason(
    client: TestClient, engine: StandInEngine, failure: Exception, status: int
) -> None:
    engine.failure = failure
    response = _risk(client) if status == 404 else _check(client)
    assert response.status_code == status, response.text
    assert str(failure) in response.json()["detail"]


def test_a_bad_record_is_a_422_naming_the_field(client: TestClient, engine: StandInEngine) -> None:
    engine.failure = AssertionError("the engine must not see a bad record")
    response = _check(client, {**TRANSFER, "amount": -5.0})
    assert response.status_code == 422
    assert "amount -5" in response.json()["detail"]
    missing = _check(client, {k: v for k, v in TRANSFER.items() if k != "payee_bank"})
    assert missing.status_code == 422 and "payee_bank" in missing.json()["detail"]
