"""The agents' console in headless Chromium against the real server: live alert, claim, outcome, language toggle.

Needs Debian's ``chromium`` (apt) and the ``playwright`` Python package (no downloaded browsers).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator

import pytest

from tests.api.conftest import Server, decision

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# CI (.ci/run) installs chromium and sets FRAUD_BRAIN_REQUIRE_BROWSER: there a missing browser fails.
if os.environ.get("FRAUD_BRAIN_REQUIRE_BROWSER") and shutil.which("chromium") is None:
    raise RuntimeError("FRAUD_BRAIN_REQUIRE_BROWSER is set but Debian's chromium is not installed (make browser)")
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)",
)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def _sign_in(page: object, server: Server, user: str) -> None:
    page.goto(f"{server.url}/console/")
    page.fill("#key", server.keys[user])
    page.click("#login")
    page.wait_for_selector("#live.on", timeout=10_000)


def test_alert_appears_live_then_agent_claims_and_resolves_it(server: Server, browser: object) -> None:
    page = browser.new_page()
    # The console runs under the server's Content-Security-Policy: nothing it does may break it.
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    try:
        _sign_in(page, server, "alice")
        with server.client("feed") as feed:
            alert = decision("ui-1", "13812340001", transfer_id="T-ui", payee_account="MULE-UI",
                             payee_bank="ABC", amount=8000.0, tier="hour", score=0.6)
            feed.post("/v1/decisions", json=[alert]).raise_for_status()
        row = page.locator("#queue tbody tr", has_text="138****0001")
        row.wait_for(timeout=10_000)  # arrived through the event stream, no reload
        row.click()
        page.wait_for_selector("#detail:not([hidden])")
        assert page.text_content("#d-victim") == "138****0001"
        assert "a 25-minute call to 138****0001" in page.text_content("#d-reasons")

        page.click("#claim")
        expect(page.locator("#d-assignee")).to_have_text("alice")
        assert page.text_content("#d-victim") == "13812340001"  # unmasked once it is hers

        page.click("#call")
        expect(page.locator("#message")).to_contain_text("13812340001")
        # The timeline reloads after the message is shown: wait for it rather than race it.
        expect(page.locator("#d-timeline")).to_contain_text("agent_call", timeout=10_000)

        page.click("#stop")
        expect(page.locator("#message")).to_contain_text("T-ui")
        page.select_option("#disposition", "prevented")
        page.fill("#note", "victim stopped after the call")
        page.click("#record")
        expect(page.locator("#d-status")).to_have_attribute("data-status", "closed")
        assert "prevented" in page.text_content("#d-timeline")
        assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    finally:
        page.close()
    with sqlite3.connect(server.store) as db:
        case = db.execute("SELECT status, resolution FROM cases WHERE victim_key = '13812340001'").fetchone()
        outcome = db.execute("SELECT source, outcome, detail FROM outcomes WHERE source = 'agent' "
                             "AND case_id = (SELECT case_id FROM cases WHERE victim_key = '13812340001')").fetchone()
        stop = db.execute("SELECT kind, subject FROM actions "
                          "WHERE kind = 'stop_payment' AND subject = 'MULE-UI'").fetchone()
    assert case == ("closed", "prevented")
    assert outcome[:2] == ("agent", "prevented") and "victim stopped" in outcome[2]
    assert stop == ("stop_payment", "MULE-UI")


def test_console_switches_to_chinese(server: Server, browser: object) -> None:
    page = browser.new_page()
    try:
        _sign_in(page, server, "bob")
        assert page.text_content("h1") == "Anti-fraud agents' console"
        page.click("#lang")
        assert page.text_content("h1") == "反诈坐席工作台"
        assert page.text_content("#claim") == "认领"
        assert page.get_attribute("html", "lang") == "zh-CN"
        page.click("#lang")
        assert page.text_content("#claim") == "Claim"
    finally:
        page.close()


def test_a_wrong_key_shows_the_error(server: Server, browser: object) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/console/")
        page.evaluate("sessionStorage.clear()")
        page.fill("#key", "nope")
        page.click("#login")
        page.wait_for_selector("#message.error")
        assert page.text_content("#message").startswith("401")
    finally:
        page.close()
