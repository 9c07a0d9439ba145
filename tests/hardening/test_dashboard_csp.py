"""The Content-Security-Policy does not break the dashboard page in a real browser."""

from __future__ import annotations

from tests.helpers import Api


def test_the_dashboard_renders_under_its_policy(
    live_server: str, client, make_user, browser
) -> None:  # noqa: ANN001
    user = make_user("discharge_team", "manager")
    Api(client, user.headers).create()
    violations: list[str] = []
    context = browser.new_context()  # in the run's one browser (tests/conftest.py)
    try:
        page = context.new_page()
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
        context.close()
    assert [v for v in violations if "Content Security Policy" in v] == []
