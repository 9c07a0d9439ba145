"""Referrals in Chromium: the ward sends one from the case page by keyboard, the hub accepts it
from its queue, and the ward's case shows it; axe-core (WCAG 2.2 A/AA) on both pages at the
widths tests/browser.py sweeps."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser import check_page, new_page, sign_in_with_token
from tests.discharge.helpers import NHS, TEAM

HUB = "LIV-CTH"


def _open_case(base: str, headers: dict[str, str]) -> int:
    with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
        r = api.post(
            "/api/v1/cases",
            json={
                "workflow": "discharge",
                "site": "AINTREE",
                "patient_ref": NHS[8],
                "data": {
                    "hospital_system": "LUHFT",
                    "ward": "Ward 3",
                    "admitted_at": "2026-01-05T09:00:00Z",
                },
                "occurred_at": "2026-01-05T09:00:00Z",
                "reason": "entered from the ward list",
            },
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


def test_ward_sends_hub_accepts(
    browser: Any, live_server: str, make_user: Any, backend: str
) -> None:
    ward = make_user(*TEAM)
    hub = make_user("discharge_team", org=HUB)
    case_id = _open_case(live_server, ward.headers)
    path = f"/tracker/cases/{case_id}"
    one, page, problems = new_page(browser)
    two, other, other_problems = new_page(browser)
    try:
        sign_in_with_token(page, live_server, ward.token, next_path=path)
        for width, found in check_page(page, f"{live_server}{path}", backend=backend).items():
            assert found == {"violations": [], "overflow": 0}, width
        page.set_viewport_size({"width": 1280, "height": 900})
        # Choose the hub with the keyboard, write a note, send.
        page.focus("#referral-partner")
        page.select_option("#referral-partner", f"hub|{HUB}")
        page.fill("#referral-note", "Lives alone; P1 package")
        page.focus("#send-referral button")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"{path}#referrals")
        table = page.locator("#referrals-table").inner_text()
        assert "Liverpool care transfer hub" in table
        assert "Sent" in table

        sign_in_with_token(other, live_server, hub.token, next_path="/referrals")
        for width, found in check_page(other, f"{live_server}/referrals", backend=backend).items():
            assert found == {"violations": [], "overflow": 0}, width
        other.set_viewport_size({"width": 1280, "height": 900})
        row = other.locator("#referral-queue tbody tr").filter(has_text=NHS[8])
        assert row.count() == 1
        row.locator("summary", has_text="Accept").click()
        with other.expect_navigation():
            row.locator("form[action$='/events/accept'] button").click()
        assert "Saved: Accepted" in other.locator(".nhsuk-notification-banner").inner_text()

        page.reload()
        assert "Accepted" in page.locator("#referrals-table").inner_text()
        assert problems.errors == []
        assert other_problems.errors == []
    finally:
        one.close()
        two.close()
