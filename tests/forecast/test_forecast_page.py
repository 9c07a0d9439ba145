"""The forecast screen in a real browser: accessible at every width, no CSP violation; linked
from the managers' dashboard for those who read it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.browser import check_page, new_page, sign_in_with_token
from tests.forecast.test_forecast_api import _build
from tests.helpers import signed_in


def test_the_dashboard_links_to_it_for_those_who_read_it(
    client: TestClient, make_user: Any
) -> None:
    manager = make_user("manager")
    assert 'href="/dashboard/forecast"' in signed_in(client, manager.token).get("/dashboard").text
    clinician = make_user("ward_clinician")
    reader = signed_in(client, clinician.token)
    assert "/dashboard/forecast" not in reader.get("/dashboard").text
    assert reader.get("/dashboard/forecast").status_code == 403


def test_in_a_browser(
    browser: Any, live_server: str, client: TestClient, make_user: Any, backend: str
) -> None:
    manager = make_user("discharge_team", "manager")
    _queue, in_order = _build(client, manager.headers)
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(page, live_server, manager.token, next_path="/dashboard/forecast")
        address = f"{live_server}/dashboard/forecast"
        for width, found in check_page(page, address, backend=backend).items():
            assert found == {"violations": [], "overflow": 0}, width
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(address)
        rows = page.locator("table[data-queue='P1'] tbody tr")
        assert rows.count() == 3
        assert [int(rows.nth(i).get_attribute("data-case") or 0) for i in range(3)] == in_order
        page.click(f"table[data-queue='P1'] tbody tr[data-case='{in_order[0]}'] th a")
        page.wait_for_load_state("load")
        assert f"/tracker/cases/{in_order[0]}" in page.url
    finally:
        context.close()
    assert problems.errors == []
