"""The managers' dashboard page, in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.known_day import DAY, build
from tests.discharge.helpers import NHS
from tests.helpers import Api

ROLES = ("discharge_team", "ward_clinician", "huddle_chair", "manager")


@pytest.fixture(scope="module")
def two_sites(client: TestClient, make_user_module) -> tuple[str, str, str]:
    user = make_user_module(*ROLES)
    site, _ = build(client, user.headers)
    other = f"KD2-{uuid.uuid4().hex[:6].upper()}"
    api = Api(client, user.headers)
    case = api.create(
        "discharge",
        site=other,
        patient_ref=NHS[7],
        data={"hospital_system": "S&O", "ward": "Ward 3", "admitted_at": "2026-03-27T09:00:00Z"},
        occurred_at="2026-03-27T09:00:00Z",
        reason="entered late",
    ).json()
    api.fire(
        case["id"], "not_meeting_ctr", occurred_at="2026-03-28T12:00:00Z", reason="entered late"
    )
    return site, other, user.token


def _tiles(page) -> dict[str, str]:  # noqa: ANN001
    return {
        tile_id: page.inner_text(f"#{tile_id}")
        for tile_id in (
            "tile-nctr-remaining",
            "tile-nctr-on-day",
            "tile-discharged",
            "tile-delayed-bed-days",
            "tile-escalated",
            "tile-los21",
        )
    }


def test_page_loads_charts_render_and_filter_changes_numbers(
    browser, live_server: str, client: TestClient, two_sites
) -> None:  # noqa: ANN001
    site, other, token = two_sites
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/dashboard?site={site}&date={DAY}")
    assert "/?next=/dashboard" in page.url  # signed out: sent to sign in, then back
    if not page.is_visible("#token"):
        page.click("summary")
    page.fill("#token", token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/dashboard?site={site}&date={DAY}")
    page.wait_for_selector("#chart-nctr-trend")

    metrics = client.get(
        "/api/v1/dashboard/metrics",
        params={"site": site, "date": DAY},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["discharge"]
    assert _tiles(page) == {
        "tile-nctr-remaining": str(metrics["nctr_remaining"]),
        "tile-nctr-on-day": str(metrics["nctr_on_day"]),
        "tile-discharged": str(metrics["discharged"]),
        "tile-delayed-bed-days": str(metrics["remaining_delayed_bed_days"]),
        "tile-escalated": str(metrics["escalated"]),
        "tile-los21": str(metrics["length_of_stay"]["21_plus"]["patients"]),
    }
    assert _tiles(page)["tile-nctr-remaining"] == "2"
    # The trend ends on the chosen day with that day's figure; one point per day.
    points = page.locator("#chart-nctr-trend circle.point")
    assert points.count() == 14
    assert points.last.get_attribute("data-label") == DAY
    assert points.last.get_attribute("data-value") == "2"
    reasons = page.locator("#chart-reasons rect.bar")
    assert reasons.count() == 1
    assert (
        reasons.first.get_attribute("data-label")
        == "Capacity – Residential or nursing home care not yet available"
    )
    assert page.locator("#chart-pathway-mix line.expected").count() == 4
    assert page.locator("svg.diagram").count() >= 2
    assert page.locator("#diagram-discharge g.state[data-state=ready_for_discharge]").count() == 1
    rows = page.locator("#rfd-table tbody tr")
    assert rows.count() >= 2
    # Each waiting patient links through to their case page.
    first = rows.first.locator("td a")
    assert first.get_attribute("href") == f"/tracker/cases/{first.inner_text()}"

    # Keyboard only: choose the other site and submit the filter form.
    page.focus("#site")
    page.select_option("#site", other)
    page.focus("button[type=submit] >> nth=1")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**site={other}**")
    assert _tiles(page)["tile-nctr-remaining"] == "1"
    assert page.locator("#chart-nctr-trend circle.point").last.get_attribute("data-value") == "1"
    # One ward of that site: the patient on Ward 3 counts there and nowhere else.
    page.focus("#ward")
    page.select_option("#ward", "Ward 3")
    page.focus("button[type=submit] >> nth=1")
    page.keyboard.press("Enter")
    page.wait_for_url("**ward=Ward+3**")
    assert _tiles(page)["tile-nctr-remaining"] == "1"
    assert page.locator("#rfd-table tbody tr").count() == 1
    api_link = page.locator("a", has_text="metrics JSON").get_attribute("href")
    assert api_link is not None
    assert "ward=Ward+3" in api_link
    assert errors == []
    page.close()


def test_every_form_control_has_a_label(browser, live_server: str, two_sites) -> None:  # noqa: ANN001
    _, _, token = two_sites
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{live_server}/dashboard")
    if not page.is_visible("#token"):
        page.click("summary")
    page.fill("#token", token)
    page.press("#token", "Enter")
    page.wait_for_selector("#chart-nctr-trend")
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select')]
        .filter(el => !document.querySelector(`label[for="${el.id}"]`)).map(el => el.name)""")
    assert unlabeled == []
    untitled = page.evaluate("""() => [...document.querySelectorAll('svg.chart')]
        .filter(svg => !svg.querySelector('title')).map(svg => svg.id)""")
    assert untitled == []
    assert page.evaluate("document.documentElement.lang") == "en-GB"
    page.close()


def test_sign_in_and_out_without_a_browser(client: TestClient, two_sites) -> None:  # noqa: ANN001
    _, _, token = two_sites
    fresh = TestClient(client.app)
    fresh.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
    r = fresh.get("/dashboard", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/?next=/dashboard")
    r = fresh.post("/sign-in/token", data={"token": "hf_wrong"}, follow_redirects=False)
    assert r.status_code == 401
    assert "Not signed in" in r.text
    r = fresh.post(
        "/sign-in/token", data={"token": token, "next": "/dashboard"}, follow_redirects=False
    )
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/;" in cookie or cookie.endswith("Path=/")
    assert fresh.get("/dashboard").status_code == 200
    assert fresh.get("/dashboard/static/dashboard.css").status_code == 200
    r = fresh.post("/sign-out", follow_redirects=False)
    assert r.status_code == 303
    fresh.cookies.clear()
    assert fresh.get("/dashboard", follow_redirects=False).status_code == 303
