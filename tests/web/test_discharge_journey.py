"""The discharge team's day in Chromium, through the screens only: sign in with a password,
find the patient on the tracker, record that they no longer meet the criteria to reside, open a
delay, set the pathway and discharge them, every step a generated form on the case page, by
keyboard. The API is used only to admit the patient (as the ward's PAS would) and to check the
history afterwards."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.auth.passwords import issue_password
from app.timeutil import utcnow
from tests.browser import accessibility_violations, new_page
from tests.discharge.helpers import NHS

PASSWORD = "discharge lounge by noon"


def _submit(page: Any, event: str) -> None:
    page.focus(f"#event-{event} button")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _open_form(page: Any, event: str) -> None:
    page.focus(f"#event-{event} summary")
    page.keyboard.press("Enter")


def test_a_discharge_from_tracker_to_home_by_keyboard(
    browser: Any, live_server: str, make_user: Any, sessions: Any
) -> None:
    team = make_user("discharge_team", "ward_clinician")
    with sessions() as session:
        issue_password(
            session,
            organisation=team.org,
            username=team.actor.username,
            set_by=None,
            now=utcnow(),
            password=PASSWORD,
        )
    ward = f"Ward J-{uuid.uuid4().hex[:4]}"
    api = httpx.Client(base_url=live_server, headers=team.headers, timeout=30)
    admitted = api.post(
        "/api/v1/cases",
        json={
            "workflow": "discharge",
            "site": "AINTREE",
            "patient_ref": NHS[5],
            "data": {
                "hospital_system": "LUHFT",
                "ward": ward,
                "admitted_at": "2026-11-20T09:00:00Z",
            },
            "occurred_at": "2026-11-20T09:00:00Z",
            "reason": "admitted before HomeFirst",
        },
    )
    assert admitted.status_code == 201, admitted.text
    case_id = admitted.json()["id"]

    context, page, problems = new_page(browser)
    try:
        # Sign in with the password, by keyboard, on the way to the tracker.
        page.goto(f"{live_server}/tracker")
        page.focus("#organisation")
        page.keyboard.type(team.org)
        page.keyboard.press("Tab")
        page.keyboard.type(team.actor.username)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == f"{live_server}/tracker"

        # Find the patient: filter by their ward, then open their case from the list.
        page.select_option("#ward", ward)
        page.get_by_role("button", name="Apply filters").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        rows = page.locator("table tbody tr")
        assert rows.count() == 1
        link = rows.first.locator("a").first
        assert "999 " in link.inner_text() or link.inner_text().replace(" ", "") == NHS[5]
        link.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == f"{live_server}/tracker/cases/{case_id}"

        # No longer meets the criteria to reside (now).
        _open_form(page, "not_meeting_ctr")
        _submit(page, "not_meeting_ctr")
        assert "Recorded: " in page.locator(".nhsuk-notification-banner").inner_text()

        # Open a delay: the reason chosen with the arrow keys.
        _open_form(page, "open_delay")
        page.focus("#open_delay-delay_code")
        page.keyboard.press("ArrowDown")
        delay = page.eval_on_selector("#open_delay-delay_code", "e => e.value")
        assert delay
        _submit(page, "open_delay")
        assert "Recorded: Open delay" in page.locator(".nhsuk-notification-banner").inner_text()

        # Set the planned pathway.
        _open_form(page, "set_pathway")
        page.select_option("#set_pathway-pathway", "P0")
        _submit(page, "set_pathway")
        assert "Recorded: Set pathway" in page.locator(".nhsuk-notification-banner").inner_text()

        # Discharge home on pathway 0.
        _open_form(page, "discharge")
        page.select_option("#discharge-discharge_pathway", "P0")
        page.select_option("#discharge-destination_code", "19")  # usual place of residence
        _submit(page, "discharge")
        assert "Recorded: Discharge" in page.locator(".nhsuk-notification-banner").inner_text()
        assert accessibility_violations(page) == []
        assert problems.errors == []
    finally:
        context.close()

    history = api.get(f"/api/v1/cases/{case_id}/events").json()
    assert [e["event"] for e in history][-4:] == [
        "not_meeting_ctr",
        "open_delay",
        "set_pathway",
        "discharge",
    ]
    assert history[-3]["data"]["delay_code"] == delay
    assert {e["actor"]["username"] for e in history[-4:]} == {team.actor.username}
    case = api.get(f"/api/v1/cases/{case_id}").json()
    assert case["state"] == "discharged"
