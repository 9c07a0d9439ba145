"""The pathway-fit page in a browser: no accessibility violations or overflow at any width, no
console or CSP problems, and from a figure to the patients to the case by the keyboard."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.browser import check_page, new_page, sign_in_with_token
from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api
from tests.ic.helpers import fresh_site


def test_pathway_fit_page_in_a_browser(
    browser: Any, live_server: str, client: TestClient, make_user, backend: str
) -> None:  # noqa: ANN001
    team = make_user(*TEAM, "manager")
    api, site = Api(client, team.headers), fresh_site()
    case = open_case(api, NHS[7], site=site)
    fire(api, case["id"], "not_meeting_ctr", days_ago=3)
    fire(api, case["id"], "discharge", data={"discharge_pathway": "P0", "destination_code": "19"})
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(
            page, live_server, team.token, next_path=f"/dashboard/pathway-fit?site={site}"
        )
        assert page.locator("h1").inner_text() == "Pathway-fit audit"
        assert "1 discharge." in page.locator("#pathway-fit-count").inner_text()
        page.focus("#pathway-P0 td:nth-of-type(9) a")  # P0's pending count
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "outcome=pending" in page.url
        page.focus(f"#patient-{case['id']} a")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"/tracker/cases/{case['id']}")
        for url in (
            f"{live_server}/dashboard/pathway-fit?site={site}",
            f"{live_server}/dashboard/pathway-fit?site={site}&pathway=P0&outcome=pending",
        ):
            for found in check_page(page, url, backend=backend).values():
                assert found == {"violations": [], "overflow": 0}
        assert problems.errors == []
    finally:
        context.close()
