"""Security headers on every response of a real server: framing, sniffing, caching, scripts."""

from __future__ import annotations

from tests.api.conftest import Server


def test_every_response_carries_the_security_headers(server: Server) -> None:
    with server.client("agent") as client:
        for path in ("/health", "/v1/cases", "/console/", "/console/console.js", "/v1/nope"):
            response = client.get(path)
            headers = response.headers
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["x-frame-options"] == "DENY", path
            assert "frame-ancestors 'none'" in headers["content-security-policy"], path
            assert "script-src 'self'" in headers["content-security-policy"], path
            assert headers["referrer-policy"] == "no-referrer", path


def test_json_with_personal_data_is_never_cached(server: Server) -> None:
    with server.client("agent") as client:
        response = client.get("/v1/cases")
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "no-store"
    with server.client(None) as anonymous:
        refused = anonymous.get("/v1/cases")
        assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"


def test_the_docs_may_load_their_own_script_but_not_be_framed(server: Server) -> None:
    with server.client(None) as client:
        response = client.get("/docs")
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" not in policy
