"""The refused PAS messages' screen in Debian's Chromium: accessible (axe, WCAG 2.2 A/AA) and
fitting at 360, 768 and 1280 px, and worked by keyboard alone: a retry that applies once the
admission has arrived; an unreadable message's dismissal refused without a reason, then made
with one.

The messages come through the service's own configured interface (rvy-pas, organisation
SEFTON-CTH) into the session's database, which the server under test reads; the test resolves
every message it made, and finds its own by id among any others.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.adt.sample import synthetic_nhs_numbers as nhs_numbers
from app.timeutil import utcnow
from tests.browser import (
    WIDTHS,
    accessibility_violations,
    check_page,
    horizontal_overflow,
    new_page,
    sign_in_with_token,
)
from tests.web.adt_helpers import PasFeed

LIST = "/adt/dead-letters"


def _accessible_everywhere(page: Any) -> None:
    """The page as it is now (a form's errors are the answer to a post, not an address)."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert accessibility_violations(page) == [], width
        assert horizontal_overflow(page) == 0, width
    page.set_viewport_size({"width": 1280, "height": 900})


def _press_enter_on(page: Any, selector: str) -> None:
    page.focus(selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_resolving_refused_messages_by_keyboard(
    browser: Any, live_server: str, client: TestClient, make_user: Any
) -> None:
    feed = PasFeed.configured(client, "rvy-pas")
    team = make_user("discharge_team", org=feed.organisation)
    (waiting,) = nhs_numbers(7300, 1)
    now = utcnow()
    transfer = feed.send("A02", waiting, at=now - timedelta(minutes=40), received=now)
    stray = feed.send_unreadable("HELLO FROM THE PAS TEST HARNESS\rnot HL7", received=now)
    assert (transfer.error_code, stray.error_code) == ("no_open_spell", "unparseable")
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(page, live_server, team.token, next_path=LIST)
        assert page.url == f"{live_server}{LIST}"
        for width, found in check_page(page, f"{live_server}{LIST}").items():
            assert found == {"violations": [], "overflow": 0}, width
        page.set_viewport_size({"width": 1280, "height": 900})

        # The raw message opens from its summary by keyboard, a segment a line.
        card = f"#message-{transfer.message_id}"
        page.focus(f"{card} .nhsuk-details summary >> nth=0")
        page.keyboard.press("Enter")
        raw = page.locator(f"{card} pre.app-hl7")
        assert raw.is_visible()
        assert raw.inner_text().split("\n")[2].startswith(f"PID|1||{waiting}")

        # The admission arrives; Retry applies the transfer to the new case.
        admitted = feed.send(
            "A01", waiting, at=now - timedelta(hours=3), received=now, location="W11^^3^SDGH"
        )
        assert admitted.outcome == "applied"
        _press_enter_on(page, f"{card} form[action$='/retry'] button")
        banner = page.locator(".nhsuk-notification-banner")
        assert "was applied to case" in banner.inner_text()
        assert "Ward transfer" in banner.locator("li").all_inner_texts()
        assert page.locator(card).count() == 0
        for width, found in check_page(page, page.url).items():
            assert found == {"violations": [], "overflow": 0}, width
        page.set_viewport_size({"width": 1280, "height": 900})

        # Dismiss the other: its form opens from the keyboard; no reason is refused first.
        card = f"#message-{stray.message_id}"
        page.focus(f"{card} .nhsuk-details summary >> nth=1")
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == f"reason-{stray.message_id}"
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.title().startswith("Error: ")
        summary = page.locator(".nhsuk-error-summary")
        assert "Enter why this message is dismissed" in summary.inner_text()
        _accessible_everywhere(page)
        summary.get_by_role("link", name="Enter why this message is dismissed").click()
        assert page.evaluate("document.activeElement.id") == f"reason-{stray.message_id}"
        page.keyboard.type("A test from the PAS supplier, not a patient's message.")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Dismissed" in page.locator(".nhsuk-notification-banner").inner_text()
        assert page.locator(card).count() == 0

        # Each message's own page says what became of it.
        for message_id in (transfer.message_id, stray.message_id):
            address = f"{live_server}{LIST}/{message_id}"
            for width, found in check_page(page, address).items():
                assert found == {"violations": [], "overflow": 0}, (message_id, width)
        assert "Dismissed" in page.locator("main").inner_text()
        assert [e for e in problems.errors if "status of 4" not in e] == []
    finally:
        context.close()
