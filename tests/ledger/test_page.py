"""The manager's delay ledger screen: figures as the API gives them, drill-down, publishing a
statement from the form; and in a real browser: accessible at every width, no CSP violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.browser import check_page, new_page, sign_in_with_token
from tests.helpers import signed_in
from tests.ledger.month import NHS, TEST_CONFIG, Ward

NOV = "from=2026-11-01&to=2026-11-30"


@pytest.fixture
def configured(client: TestClient) -> Iterator[None]:
    before = client.app.state.ledger_config
    client.app.state.ledger_config = TEST_CONFIG
    yield
    client.app.state.ledger_config = before


def _one_patient(client: TestClient, headers: dict[str, str]) -> Ward:
    ward = Ward(client, headers, None)
    ward.admit("A", "2026-11-01T09:00:00Z")
    ward.fire("A", "set_pathway", "2026-11-01T10:00:00Z", pathway="P1")
    ward.fire("A", "not_meeting_ctr", "2026-11-03T10:00:00Z")
    ward.delay("A", "capacity-p1-services", "2026-11-03T11:00:00Z")
    ward.discharge("A", "2026-11-06T10:00:00Z", "P1")  # 3, 4, 5 Nov: 3 days at £300
    return ward


def test_the_page_shows_the_figures_drills_down_and_publishes(
    client: TestClient, make_user: Any, configured: None
) -> None:
    manager = make_user("discharge_team", "manager")
    ward = _one_patient(client, manager.headers)
    browser = signed_in(client, manager.token)
    page = browser.get(f"/dashboard/ledger?{NOV}")
    assert page.status_code == 200
    html = page.text
    assert "3.0 delayed bed days, £900.00, 1 patient" in html
    assert '<meter min="0" max="100" value="100.0"' in html
    assert 'data-key="capacity-p1-services"' in html
    assert 'data-key="LA"' in html
    link = re.search(r'href="(/dashboard/ledger/patients\?[^"]*reason=capacity-p1-services)"', html)
    assert link is not None
    detail = browser.get(link.group(1).replace("&amp;", "&"))
    assert detail.status_code == 200
    assert NHS["A"] in detail.text
    assert f"/tracker/cases/{ward.ids['A']}" in detail.text

    # Publishing from the form; the statement then shows in the list.
    r = browser.post(
        "/dashboard/ledger/statements",
        data={"month": "2026-11", "responsible": "LA"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    listed = browser.get(f"/dashboard/ledger?{NOV}").text
    assert "The statement is published and frozen." not in listed  # only right after
    assert "Local authority (LA)" in listed
    assert "2026-11" in listed

    # A role that reads the figures but may not publish sees no form, and is refused.
    analyst = make_user("analyst", org=manager.org)
    reader = signed_in(client, analyst.token)
    assert "Publish the statement" not in reader.get("/dashboard/ledger").text
    refused = reader.post(
        "/dashboard/ledger/statements", data={"month": "2026-10", "responsible": "LA"}
    )
    assert refused.status_code == 403
    # The analyst's drill-down carries no NHS numbers.
    anonymous = reader.get(link.group(1).replace("&amp;", "&"))
    assert anonymous.status_code == 200
    assert NHS["A"] not in anonymous.text


def test_the_dashboard_links_to_the_ledger_for_those_who_read_it(
    client: TestClient, make_user: Any
) -> None:
    manager = make_user("manager")
    assert 'href="/dashboard/ledger"' in signed_in(client, manager.token).get("/dashboard").text
    clinician = make_user("ward_clinician")
    assert "/dashboard/ledger" not in signed_in(client, clinician.token).get("/dashboard").text


def test_in_a_browser(
    browser: Any, live_server: str, client: TestClient, make_user: Any, backend: str
) -> None:
    manager = make_user("discharge_team", "manager")
    _one_patient(client, manager.headers)
    context, page, problems = new_page(browser)
    try:
        address = f"/dashboard/ledger?{NOV}"
        sign_in_with_token(page, live_server, manager.token, next_path="/dashboard/ledger")
        for width, found in check_page(page, f"{live_server}{address}", backend=backend).items():
            assert found == {"violations": [], "overflow": 0}, width
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{live_server}{address}")
        assert page.locator("#h-reason + div table tbody tr").count() == 1
        # Publish by keyboard (the shipped ledger.yaml's organisations).
        page.fill("#month", "2026-11")
        page.select_option("#responsible", "LA")
        page.focus("form[action='/dashboard/ledger/statements'] button")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "The statement is published and frozen." in page.inner_text("main")
        page.click("#h-reason + div table tbody tr th a")
        page.wait_for_load_state("load")
        assert "Delay ledger: patients" in page.title()
    finally:
        context.close()
    assert problems.errors == []
