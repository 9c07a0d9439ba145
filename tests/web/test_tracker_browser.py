"""The tracker in Debian's Chromium: accessible (axe, WCAG 2.2 A/AA) and fitting at 360, 768
and 1280 px (swept on tests/browser.py's LAYOUT_BACKEND), worked by keyboard alone, and
printable."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.browser import check_page, new_page, sign_in_with_token
from tests.discharge.tracker_ward import Ward


@pytest.fixture(scope="module")
def ward(client: TestClient, make_user_module: Any) -> Ward:
    return Ward(client, make_user_module)


def test_the_tracker_is_accessible_at_every_width(
    browser: Any, live_server: str, ward: Ward, backend: str
) -> None:
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(page, live_server, ward.team.token, next_path="/tracker")
        for address in ("/tracker", f"/tracker?site={ward.site_a}&sort=ward", "/tracker?print=1"):
            found = check_page(page, f"{live_server}{address}", backend=backend)
            for width, result in found.items():
                assert result["violations"] == [], (address, width, result["violations"])
                assert result["overflow"] == 0, (address, width)
        assert problems.errors == []
    finally:
        context.close()


def test_filter_and_sort_by_keyboard(browser: Any, live_server: str, ward: Ward) -> None:
    context, page, problems = new_page(browser, width=768)
    try:
        sign_in_with_token(page, live_server, ward.team.token, next_path="/tracker")
        page.wait_for_url(f"{live_server}/tracker")
        assert page.locator("tbody tr").count() == 6
        # Tab from the top of the page to the site filter, choose the second site by arrow key.
        page.keyboard.press("Tab")  # the skip link
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "site":
                break
        assert page.evaluate("document.activeElement.id") == "site"
        sites = page.locator("#site option").all_inner_texts()
        target = sorted([ward.site_a, ward.site_b]).index(ward.site_b) + 1
        for _ in range(target):
            page.keyboard.press("ArrowDown")
        assert sites[target].startswith(ward.site_b)
        # On to "Apply filters" and press Enter.
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent.trim()") == "Apply filters":
                break
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert parse_qs(urlsplit(page.url).query)["site"] == [ward.site_b]
        assert page.locator("tbody tr").count() == 3
        # Sort by ward from its heading, by keyboard.
        heading = page.locator("th a", has_text="Ward")
        heading.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("th[aria-sort]").inner_text().startswith("Ward")
        assert page.locator("th[aria-sort]").get_attribute("aria-sort") == "ascending"
        wards = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
        assert wards == sorted(wards)
        # A row opens its case's page address.
        first = page.locator("tbody tr td:first-child a").first
        assert first.get_attribute("href") == f"/tracker/cases/{ward.ids['shared']}"
        assert problems.errors == []
    finally:
        context.close()


def test_printing_shows_the_table_without_the_controls(
    browser: Any, live_server: str, ward: Ward
) -> None:
    context, page, _ = new_page(browser)
    try:
        sign_in_with_token(page, live_server, ward.team.token, next_path="/tracker")
        page.goto(f"{live_server}/tracker")
        page.emulate_media(media="print")
        assert not page.locator("form[action='/tracker']").is_visible()
        assert not page.locator("header").first.is_visible()
        assert page.locator("tbody tr").first.is_visible()
    finally:
        context.close()
