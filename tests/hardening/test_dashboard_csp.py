"""The Content-Security-Policy does not break the dashboard page in a real browser."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.helpers import Api

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE_BROWSER = os.environ.get("HOMEFIRST_REQUIRE_BROWSER") == "1"


def test_the_dashboard_renders_under_its_policy(live_server: str, client, make_user) -> None:
    if not os.path.exists(CHROMIUM):
        if REQUIRE_BROWSER:
            pytest.fail(f"Chromium is required (HOMEFIRST_REQUIRE_BROWSER=1); {CHROMIUM} missing")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    user = make_user("discharge_team", "manager")
    Api(client, user.headers).create()
    violations: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = browser.new_page()
            page.on("console", lambda m: violations.append(m.text))
            response = page.goto(f"{live_server}/dashboard")  # sent to sign in, then back
            assert response is not None
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            if not page.is_visible("#token"):
                page.click("summary")
            page.fill("#token", user.token)
            page.press("#token", "Enter")
            page.wait_for_url(f"{live_server}/dashboard")
            assert page.locator("svg").count() > 0  # the inline SVG charts and diagrams
            # The same-origin stylesheet applied: the body no longer has the browser's margin.
            margin = page.evaluate("getComputedStyle(document.body).marginTop")
            assert margin != "8px"
            assert page.locator("#tile-nctr-remaining").count() == 1
        finally:
            browser.close()
    assert [v for v in violations if "Content Security Policy" in v] == []
