"""The real server over HTTP: roles, masking, audit log, body formats, 413, 422, 429, metrics, live events."""

from __future__ import annotations

import io
import socket
import threading
import time

import httpx
import orjson
import polars as pl
import pytest

from tests.api.conftest import Server, decision, start_server, stop_server

CALL = {"call_id": "c-1", "start_time": "2026-11-01T08:00:00Z", "caller": "17012345678", "callee": "13800000001",
        "duration_s": 1500, "disposition": "answered", "caller_type": "mobile"}

# (method, path, body, roles allowed); admin is allowed everywhere.
ENDPOINTS = [
    ("GET", "/v1/cases", None, {"agent", "analyst", "admin"}),
    ("GET", "/v1/audit", None, {"admin"}),
    ("POST", "/v1/validate/call", [CALL], {"feed", "bank", "analyst", "admin"}),
    ("POST", "/v1/decisions", [decision("role-probe", "13900000000")], {"feed", "admin"}),
    ("POST", "/v1/ingest/call", [CALL], {"feed", "admin"}),
    ("POST", "/v1/ingest/transfer", [CALL], {"bank", "admin"}),
    ("POST", "/v1/admin/reload", None, {"admin"}),
    ("GET", "/v1/entities/number/13800000001", None, {"bank", "analyst", "admin"}),
]


def _seed_case(server: Server, event_id: str, victim: str, **fields: object) -> int:
    with server.client("feed") as feed:
        reply = feed.post("/v1/decisions", json=[decision(event_id, victim, **fields)])
        assert reply.status_code == 200, reply.text
    with server.client("admin") as admin:
        cases = admin.get("/v1/cases", params={"status": "all", "limit": 1000}).json()["cases"]
    return next(c["case_id"] for c in cases if c["victim"] == victim)


@pytest.mark.parametrize("method,path,body,allowed", ENDPOINTS)
def test_each_endpoint_admits_only_its_roles(
    server: Server, method: str, path: str, body: object, allowed: set[str],
) -> None:
    with server.client(None) as anonymous:
        reply = anonymous.request(method, path, json=body)
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == "Bearer"
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer not-a-key"}) as wrong:
        assert wrong.request(method, path, json=body).status_code == 401
    for role in ("feed", "bank", "agent", "analyst", "admin"):
        with server.client(role) as client:
            status = client.request(method, path, json=body).status_code
        if role in allowed:
            # Allowed roles pass the gate; scoring endpoints then say the pipeline is not wired in (503).
            assert status not in (401, 403), (role, path, status)
        else:
            assert status == 403, (role, path, status)


def test_x_api_key_header_works_like_bearer(server: Server) -> None:
    reply = httpx.get(f"{server.url}/v1/cases", headers={"X-API-Key": server.keys["analyst"]})
    assert reply.status_code == 200


def test_agents_see_masked_numbers_until_they_claim_the_case(server: Server) -> None:
    case_id = _seed_case(server, "mask-1", "13811112222")
    with server.client("alice") as alice, server.client("bob") as bob, server.client("analyst") as analyst:
        listed = {c["case_id"]: c for c in alice.get("/v1/cases").json()["cases"]}
        assert listed[case_id]["victim"] == "138****2222" and listed[case_id]["masked"]
        detail = alice.get(f"/v1/cases/{case_id}").json()
        assert "13811112222" not in orjson.dumps(detail).decode()  # also inside reasons and payloads
        assert detail["alerts"][0]["reasons"][0].startswith("a 25-minute call to 138****2222")

        assert alice.post(f"/v1/cases/{case_id}/claim").json()["assignee"] == "alice"
        mine = alice.get(f"/v1/cases/{case_id}").json()
        assert mine["victim"] == "13811112222" and not mine["masked"]
        # Another agent still sees it masked and cannot act on it or take it.
        assert bob.get(f"/v1/cases/{case_id}").json()["victim"] == "138****2222"
        assert bob.post(f"/v1/cases/{case_id}/claim").status_code == 409
        assert bob.post(f"/v1/cases/{case_id}/outcome", json={"disposition": "prevented"}).status_code == 403
        # Analysts are not agents: they see numbers.
        assert analyst.get(f"/v1/cases/{case_id}").json()["victim"] == "13811112222"


def test_claim_call_outcome_and_stop_payment_are_stored_and_audited(server: Server) -> None:
    case_id = _seed_case(server, "flow-1", "13833334444", tier="hour", score=0.6, transfer_id="T-9",
                         payee_account="MULE9", payee_bank="ICBC", amount=20000.0)
    with server.client("alice") as alice:
        assert alice.post(f"/v1/cases/{case_id}/call").status_code == 403  # not claimed yet
        alice.post(f"/v1/cases/{case_id}/claim").raise_for_status()
        assert alice.post(f"/v1/cases/{case_id}/call", json={"note": "first try"}).json()["dial"] == "13833334444"
        stop = alice.post(f"/v1/cases/{case_id}/stop-payment", json={})
        assert stop.status_code == 200, stop.text
        assert stop.json()["payee_account"] == "MULE9"
        assert alice.post(f"/v1/cases/{case_id}/stop-payment", json={}).status_code == 409  # not twice for one transfer
        closed = alice.post(f"/v1/cases/{case_id}/outcome", json={"disposition": "prevented", "note": "she hung up"})
        assert closed.status_code == 200 and closed.json()["resolution"] == "prevented"
        assert alice.post(f"/v1/cases/{case_id}/outcome", json={"disposition": "false_alarm"}).status_code == 409
        detail = alice.get(f"/v1/cases/{case_id}").json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert {"claimed", "agent_call", "agent_outcome", "closed"} <= set(kinds)
    assert any(a["kind"] == "stop_payment" and a["payload"].get("requested_by") == "alice" for a in detail["actions"])
    with server.client("admin") as admin:
        entries = admin.get("/v1/audit", params={"limit": 1000}).json()["entries"]
    ops = [(e["actor"], e["op"]) for e in entries if e["detail"].get("case_id") == case_id]
    for op in ("claim_case", "call_victim", "request_stop_payment", "record_outcome", "view_case"):
        assert ("agent:alice", op) in ops, op
    # The outcome is in the store itself, not only in the reply.
    import sqlite3

    with sqlite3.connect(server.store) as db:
        row = db.execute("SELECT status, resolution FROM cases WHERE case_id = ?", (case_id,)).fetchone()
    assert row == ("closed", "prevented")


def test_admin_views_are_audited_and_admin_can_force_a_claim(server: Server) -> None:
    case_id = _seed_case(server, "force-1", "13855556666")
    with server.client("bob") as bob, server.client("admin") as admin:
        bob.post(f"/v1/cases/{case_id}/claim").raise_for_status()
        assert admin.post(f"/v1/cases/{case_id}/claim", json={"force": False}).status_code == 409
        assert admin.post(f"/v1/cases/{case_id}/claim", json={"force": True}).json()["assignee"] == "admin"
        admin.get(f"/v1/cases/{case_id}").raise_for_status()
        entries = admin.get("/v1/audit").json()["entries"]
    mine = [
        (e["actor"], e["op"]) for e in entries
        if e["subject"].startswith("case-") and e["detail"].get("case_id") == case_id
    ]
    assert ("admin:admin", "claim_case") in mine and ("admin:admin", "view_case") in mine


def test_validation_errors_name_each_bad_record(server: Server) -> None:
    bad = [CALL, {**CALL, "call_id": "c-2", "duration_s": -3}, {**CALL, "call_id": "c-3", "start_time": "yesterday"}]
    with server.client("feed") as feed:
        reply = feed.post("/v1/validate/call", json=bad)
    assert reply.status_code == 200
    errors = reply.json()["errors"]
    assert {(e["index"], e["record_id"], e["field"]) for e in errors} == {
        (1, "c-2", "duration_s"), (2, "c-3", "start_time"),
    }
    assert reply.json()["valid"] == 1


@pytest.mark.parametrize("fmt", ["json", "jsonl", "arrow", "parquet"])
def test_bulk_bodies_in_every_format_decode_the_same(server: Server, fmt: str) -> None:
    records = [
        *({**CALL, "call_id": f"c-{i}", "duration_s": i} for i in range(50)),
        {**CALL, "call_id": "bad", "caller": "x"},
    ]
    frame = pl.DataFrame(records)
    if fmt == "json":
        body, media = orjson.dumps(records), "application/json"
    elif fmt == "jsonl":
        body, media = b"\n".join(orjson.dumps(r) for r in records), "application/x-ndjson"
    elif fmt == "arrow":
        sink = io.BytesIO()
        frame.write_ipc_stream(sink)
        body, media = sink.getvalue(), "application/vnd.apache.arrow.stream"
    else:
        sink = io.BytesIO()
        frame.write_parquet(sink)
        body, media = sink.getvalue(), "application/vnd.apache.parquet"
    with server.client("feed") as feed:
        reply = feed.post("/v1/validate/call", content=body, headers={"Content-Type": media})
    assert reply.status_code == 200, reply.text
    assert reply.json()["valid"] == 50 and reply.json()["invalid"] == 1
    assert reply.json()["errors"][0]["index"] == 50 and reply.json()["errors"][0]["field"] == "caller"


@pytest.mark.parametrize("body,media,status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 422),
    (b'{"a": 1}\n{oops', "application/x-ndjson", 400),
    (b"PAR1garbage", "application/vnd.apache.parquet", 400),
    (b"<xml/>", "application/xml", 415),
    (b"[]", "application/json", 422),
])
def test_bad_bodies_are_4xx_not_500(server: Server, body: bytes, media: str, status: int) -> None:
    with server.client("feed") as feed:
        reply = feed.post("/v1/validate/call", content=body, headers={"Content-Type": media})
    assert reply.status_code == status, reply.text
    assert reply.json()["detail"]


def test_pipeline_endpoints_say_503_without_a_pipeline(server: Server) -> None:
    with server.client("feed") as feed:
        reply = feed.post("/v1/ingest/call", json=[CALL])
    assert reply.status_code == 503 and "pipeline" in reply.json()["detail"]


def test_bodies_over_the_limit_get_413(tmp_path) -> None:
    small = start_server(tmp_path, "--max-body-mb", "0.01")
    try:
        with small.client("feed") as feed:
            records = [{**CALL, "call_id": f"c-{i}"} for i in range(200)]  # ~30 kB > 10 kB
            declared = feed.post("/v1/validate/call", json=records)
            assert declared.status_code == 413 and "exceeds" in declared.json()["detail"]

            def chunks():
                # No Content-Length: the limit must hold while streaming, too.
                for i in range(200):
                    yield orjson.dumps({**CALL, "call_id": f"c-{i}"}) + b"\n"

            streamed = feed.post(
                "/v1/validate/call", content=chunks(), headers={"Content-Type": "application/x-ndjson"},
            )
            assert streamed.status_code == 413
            assert feed.post("/v1/validate/call", json=records[:5]).status_code == 200
        metrics = httpx.get(f"{small.url}/metrics").text
        assert 'fraud_brain_rejected_requests_total{reason="too_large"} 2.0' in metrics
    finally:
        stop_server(small)


def _hold_open(url: str, key: str, release: threading.Event) -> socket.socket:
    """A request whose body never finishes arriving: it stays in flight until ``release``."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        f"POST /v1/validate/call HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[".encode()
    )
    return sock


def test_overload_answers_429_and_recovers(tmp_path) -> None:
    busy = start_server(tmp_path, "--max-in-flight", "3")
    sockets: list[socket.socket] = []
    try:
        release = threading.Event()
        sockets = [_hold_open(busy.url, busy.keys["feed"], release) for _ in range(3)]
        with busy.client("feed") as feed:
            deadline = time.monotonic() + 10
            status = None
            while time.monotonic() < deadline:
                status = feed.post("/v1/validate/call", json=[CALL]).status_code
                if status == 429:
                    break
                time.sleep(0.05)
            assert status == 429
            assert httpx.get(f"{busy.url}/health").status_code == 200  # health is never refused
            for sock in sockets:
                sock.close()
            sockets = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and status == 429:
                status = feed.post("/v1/validate/call", json=[CALL]).status_code
                time.sleep(0.05)
            assert status == 200
    finally:
        for sock in sockets:
            sock.close()
        stop_server(busy)


def test_health_and_metrics(server: Server) -> None:
    health = httpx.get(f"{server.url}/health").json()
    assert health == {"status": "ok", "engine": False, "store": True, "event_streams": 0}
    with server.client("analyst") as analyst:
        analyst.get("/v1/cases").raise_for_status()
    text = httpx.get(f"{server.url}/metrics").text
    assert 'fraud_brain_request_seconds_count{method="GET",route="/v1/cases",status="2xx"}' in text
    assert 'fraud_brain_queue_depth{queue="outbox",state="pending"}' in text


def test_event_stream_delivers_new_alerts(server: Server) -> None:
    received: list[tuple[str, dict]] = []
    ready = threading.Event()

    def listen() -> None:
        with server.client("alice") as alice, alice.stream("GET", "/v1/events") as stream:
            kind = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    received.append((kind, orjson.loads(line[6:])))
                    if kind == "hello":
                        ready.set()
                    if kind == "alerts":
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    _seed_case(server, "live-1", "13877778888")
    thread.join(10)
    assert ("alerts", {"count": 1, "kind": "decision"}) in received
    assert received[0] == ("hello", {"user": "alice", "role": "agent"})


def test_decisions_with_bad_fields_are_422(server: Server) -> None:
    with server.client("feed") as feed:
        bad_time = decision("d-bad", "13800000009", time="soon")
        bad_actions = decision("d-bad2", "13800000009", actions="voice_bot")
        unknown_field = {**decision("d-bad3", "13800000009"), "colour": "red"}
        assert feed.post("/v1/decisions", json=[bad_time]).status_code == 422
        assert feed.post("/v1/decisions", json=[bad_actions]).status_code == 422
        assert feed.post("/v1/decisions", json=[unknown_field]).status_code == 422


def _arrow_stream(table) -> bytes:
    import pyarrow.ipc as pa_ipc

    sink = io.BytesIO()
    with pa_ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _hostile_bodies() -> list[tuple[str, bytes, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pa_parquet

    good = {"call_id": "c1", "start_time": "2026-11-01T08:00:00Z", "caller": "13800000001", "callee": "13900000002",
            "duration_s": 60, "disposition": "answered", "caller_type": "mobile"}
    bad = {**good, "call_id": "c2"}
    arrow = "application/vnd.apache.arrow.stream"
    parquet_sink = io.BytesIO()
    table = pa.table({k: [v, v] for k, v in good.items()})
    binary = table.set_column(2, "caller", pa.array([b"13800000001", b"\x00\xff"], pa.binary()))
    binary = binary.set_column(0, "call_id", pa.array(["c1", "c2"]))
    pa_parquet.write_table(binary, parquet_sink)
    listed = table.set_column(0, "call_id", pa.array([["c1"], ["c2"]])).append_column("extra", pa.array([[1], [2]]))
    return [
        ("list column", _arrow_stream(pa.table({**{k: [v] for k, v in good.items()}, "extra": [[1, 2]]})), arrow),
        ("list id", _arrow_stream(listed), arrow),
        ("duplicate columns", _arrow_stream(pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])],
                                                                 names=["call_id", "call_id"])), arrow),
        ("struct column", _arrow_stream(pa.table({**{k: [v] for k, v in bad.items()}, "caller": [{"x": 1}]})), arrow),
        ("binary parquet", parquet_sink.getvalue(), "application/vnd.apache.parquet"),
        ("truncated arrow", _arrow_stream(table)[:-40], arrow),
        ("arrow file as stream", b"ARROW1" + bytes(64), arrow),
    ]


@pytest.mark.parametrize("name", [name for name, _, _ in _hostile_bodies()])
def test_hostile_arrow_and_parquet_bodies_get_4xx_or_per_record_reasons(server: Server, name: str) -> None:
    _, body, media = next(case for case in _hostile_bodies() if case[0] == name)
    with server.client("feed") as feed:
        reply = feed.post("/v1/validate/call", content=body, headers={"Content-Type": media})
        assert reply.status_code in (200, 400, 422), reply.text
        if reply.status_code == 200 and name != "list column":
            answer = reply.json()
            assert answer["invalid"] >= 1 and all(error["reason"] for error in answer["errors"])
        assert feed.get("/health").status_code == 200  # the server is still there
    if name == "list column":  # an extra nested column does not spoil a good record
        assert (reply.json()["valid"], reply.json()["invalid"]) == (1, 0)
    if name == "binary parquet":
        assert reply.json()["valid"] == 1 and reply.json()["errors"][0]["field"] == "caller"
