"""Signing in and the home page in a real browser: by keyboard, accessible, at three widths."""

from __future__ import annotations

from typing import Any

from app.auth.passwords import issue_password
from app.timeutil import utcnow
from tests.browser import accessibility_violations, check_page, new_page

PASSWORD = "ward round at nine"


def test_sign_in_with_a_password_by_keyboard_then_home_lists_the_persons_screens(
    browser: Any, live_server: str, make_user, sessions
) -> None:  # noqa: ANN001
    manager = make_user("manager")
    with sessions() as session:
        issue_password(
            session,
            organisation=manager.org,
            username=manager.actor.username,
            set_by=None,
            now=utcnow(),
            password=PASSWORD,
        )
    context, page, problems = new_page(browser)
    try:
        page.goto(f"{live_server}/dashboard")  # a bookmark: sign in first, then back there
        assert "/?next=/dashboard" in page.url
        assert page.title() == "Sign in – HomeFirst"
        # Keyboard only: the skip link is the first stop, then the form's fields in order.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == (
            "Skip to main content"
        )
        page.focus("#organisation")
        page.keyboard.type(manager.org)
        page.keyboard.press("Tab")
        page.keyboard.type(manager.actor.username)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "password"
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server}/dashboard")
        page.goto(f"{live_server}/")
        assert page.locator("h1").inner_text() == "Your screens"
        cards = page.locator(".nhsuk-card__heading").all_inner_texts()
        assert [c.strip() for c in cards] == [
            "Tracker",
            "My actions",
            "Huddle",
            "CHC queue",
            "IC board",
            "Referrals",
            "Dashboard",
            "Data quality",
            "PAS messages",
            "API documentation",
        ]
        assert manager.actor.username in page.locator(".nhsuk-header__account").inner_text()
        # Sign out from the header: back to the sign-in page, and the dashboard is closed.
        page.click("button.nhsuk-header__account-button")
        page.wait_for_url(f"{live_server}/?signed_out=1")
        page.goto(f"{live_server}/dashboard")
        assert "/?next=/dashboard" in page.url
        assert problems.errors == []
    finally:
        context.close()


def test_a_person_without_the_dashboard_does_not_see_it(
    browser: Any, live_server: str, make_user
) -> None:  # noqa: ANN001
    officer = make_user("ig_officer")
    context, page, _ = new_page(browser)
    try:
        page.goto(f"{live_server}/")
        if not page.is_visible("#token"):
            page.click("summary")
        page.fill("#token", officer.token)
        page.press("#token", "Enter")
        page.wait_for_url(f"{live_server}/")
        cards = page.locator(".nhsuk-card__heading").all_inner_texts()
        assert [c.strip() for c in cards] == ["API documentation"]
        response = page.goto(f"{live_server}/dashboard")
        assert response is not None
        assert response.status == 403
        assert "You do not have access" in page.locator("h1").inner_text()
    finally:
        context.close()


def test_sign_in_and_home_pages_are_accessible_at_every_width(
    browser: Any, live_server: str, make_user, backend: str
) -> None:  # noqa: ANN001
    user = make_user("discharge_team", "manager")
    context, page, problems = new_page(browser)
    try:
        signed_out = check_page(page, f"{live_server}/", backend=backend)
        if not page.is_visible("#token"):
            page.click("summary")
        page.fill("#token", user.token)
        with page.expect_navigation():
            page.press("#token", "Enter")
        assert page.locator("h1").inner_text() == "Your screens"
        home = check_page(page, f"{live_server}/", backend=backend)
        # A failed sign-in shows the error summary: that state must be accessible too.
        context.clear_cookies()
        page.goto(f"{live_server}/")
        if not page.is_visible("#token"):
            page.click("summary")
        page.fill("#token", "hf_not_a_token")
        page.press("#token", "Enter")
        page.wait_for_selector(".nhsuk-error-summary")
        failed = {"violations": accessibility_violations(page)}
        for result in (*signed_out.values(), *home.values()):
            assert result == {"violations": [], "overflow": 0}
        assert failed == {"violations": []}
        assert [e for e in problems.errors if "401" not in e] == []
    finally:
        context.close()
