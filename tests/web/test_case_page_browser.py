"""The case page in Chromium: recording events by keyboard, a conflict between two browsers,
and accessibility (axe-core, WCAG 2.2 A/AA) at three widths of the page, its errors and its
conflict view (swept on tests/browser.py's LAYOUT_BACKEND)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser import (
    accessibility_violations,
    check_page,
    horizontal_overflow,
    new_page,
    sign_in_with_token,
    sweep_widths,
)
from tests.discharge.helpers import NHS


def _api(base: str, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=base, headers=headers, timeout=30)


def _open_ready_case(api: httpx.Client) -> int:
    r = api.post(
        "/api/v1/cases",
        json={
            "workflow": "discharge",
            "site": "AINTREE",
            "patient_ref": NHS[3],
            "data": {
                "hospital_system": "LUHFT",
                "ward": "Ward 4",
                "admitted_at": "2026-01-05T09:00:00Z",
            },
            "occurred_at": "2026-01-05T09:00:00Z",
            "reason": "entered from the ward list",
        },
    )
    assert r.status_code == 201, r.text
    case_id = int(r.json()["id"])
    etag = r.headers["ETag"]
    r = api.post(
        f"/api/v1/cases/{case_id}/events",
        json={"event": "not_meeting_ctr"},
        headers={"If-Match": etag},
    )
    assert r.status_code == 200, r.text
    return case_id


def _accessible_everywhere(page: Any, backend: str) -> None:
    """The page as it is now (an error or a conflict is the answer to a post, not an address):
    axe at each width swept on `backend`, and nothing wider than the screen."""
    for width in sweep_widths(backend):
        page.set_viewport_size({"width": width, "height": 900})
        assert accessibility_violations(page) == [], width
        assert horizontal_overflow(page) == 0, width


def _script_errors(errors: list[str]) -> list[str]:
    """Console errors other than Chromium noting a 4xx answer: a form's errors and a conflict
    are pages answered 422 and 409 on purpose."""
    return [e for e in errors if "the server responded with a status of 4" not in e]


def _submit(page: Any, event: str) -> None:
    page.focus(f"#event-{event} button")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_recording_by_keyboard_with_errors_then_success(
    browser: Any, live_server: str, make_user: Any, backend: str
) -> None:
    team = make_user("discharge_team")
    case_id = _open_ready_case(_api(live_server, team.headers))
    url = f"{live_server}/tracker/cases/{case_id}"
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(page, live_server, team.token, next_path=f"/tracker/cases/{case_id}")
        assert page.url == url
        for width, found in check_page(page, url, backend=backend).items():
            assert found == {"violations": [], "overflow": 0}, width
        page.set_viewport_size({"width": 1280, "height": 900})

        # Open the "Open delay" form from the keyboard and send it without a reason chosen.
        page.focus("#event-open_delay summary")
        page.keyboard.press("Enter")
        assert page.is_visible("#open_delay-delay_code")
        _submit(page, "open_delay")
        assert page.title().startswith("Error: ")
        summary = page.locator(".nhsuk-error-summary")
        assert "Select delay code" in summary.inner_text()
        _accessible_everywhere(page, backend)
        page.set_viewport_size({"width": 1280, "height": 900})

        # The summary links to the input; choose the first reason with the arrow keys.
        summary.get_by_role("link", name="Select delay code").click()
        assert page.evaluate("document.activeElement.id") == "open_delay-delay_code"
        page.keyboard.press("ArrowDown")
        chosen = page.eval_on_selector("#open_delay-delay_code", "e => e.value")
        assert chosen != ""
        _submit(page, "open_delay")
        assert page.url == f"{url}?recorded=open_delay"
        assert "Recorded: Open delay" in page.locator(".nhsuk-notification-banner").inner_text()
        history = _api(live_server, team.headers).get(f"/api/v1/cases/{case_id}/events").json()
        assert (history[-1]["event"], history[-1]["data"]["delay_code"]) == ("open_delay", chosen)
        assert _script_errors(problems.errors) == []
    finally:
        context.close()


def test_a_second_browser_changes_the_case_and_the_first_sees_the_conflict(
    browser: Any, live_server: str, make_user: Any, backend: str
) -> None:
    first = make_user("discharge_team")
    second = make_user("discharge_team", org=first.org)
    case_id = _open_ready_case(_api(live_server, first.headers))
    path = f"/tracker/cases/{case_id}"
    one, page, problems = new_page(browser)
    two, other, _ = new_page(browser)
    try:
        sign_in_with_token(page, live_server, first.token, next_path=path)
        sign_in_with_token(other, live_server, second.token, next_path=path)

        # The first person starts raising an escalation...
        page.focus("#event-raise_escalation summary")
        page.keyboard.press("Enter")
        page.focus("#raise_escalation-escalation_reason")
        page.keyboard.type("No package of care for 9 days")
        # ...while the second records a new ward in the other browser.
        other.click("#event-update_details summary")
        other.fill("#update_details-ward", "Ward 12")
        _submit(other, "update_details")
        assert "Recorded: Update details" in other.content()

        _submit(page, "raise_escalation")
        banner = page.locator(".nhsuk-notification-banner")
        assert "This case was changed while you were working on it." in banner.inner_text()
        assert second.actor.username in banner.inner_text()
        assert "Ward 12" in banner.inner_text()
        # Nothing was overwritten, and the form is there again as it was typed.
        assert (
            page.input_value("#raise_escalation-escalation_reason")
            == "No package of care for 9 days"
        )
        api = _api(live_server, first.headers)
        assert api.get(f"/api/v1/cases/{case_id}").json()["attributes"].get("escalated") is not True
        _accessible_everywhere(page, backend)
        page.set_viewport_size({"width": 1280, "height": 900})

        # Re-applied against the case as it is now.
        _submit(page, "raise_escalation")
        assert page.url.endswith(f"{path}?recorded=raise_escalation")
        read = api.get(f"/api/v1/cases/{case_id}").json()
        assert read["attributes"]["ward"] == "Ward 12"
        assert read["attributes"]["escalation_reason"] == "No package of care for 9 days"
        assert _script_errors(problems.errors) == []
    finally:
        one.close()
        two.close()
