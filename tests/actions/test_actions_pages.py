"""The screens of actions (issue 17, item 4): "My actions" and a case page's actions and
milestones, each event that names an action offering the case's actions by name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.timeutil import utcnow
from tests.browser import check_page, new_page, sign_in_with_token
from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api
from tests.web.test_case_page import Page, browser_for, post

ROLES = (*TEAM, "manager")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _patient_with_actions(api: Api, nhs: str) -> tuple[int, str, str]:
    """A P1 patient with an overdue action and one due tomorrow: (case id, late ref, ref)."""
    case = open_case(api, nhs, site=f"PG-{uuid.uuid4().hex[:6].upper()}", pathway="P1")
    late = fire(
        api,
        case["id"],
        "add_action",
        data={
            "action_title": "Chase the OT report",
            "action_due": _iso(utcnow() - timedelta(hours=3)),
        },
    )
    later = fire(
        api,
        case["id"],
        "add_action",
        data={
            "action_title": "Order the commode",
            "action_due": _iso(utcnow() + timedelta(days=1)),
        },
    )
    return case["id"], f"A{late['event']['seq']}", f"A{later['event']['seq']}"


def test_my_actions_lists_the_overdue_first_and_links_each_to_its_case(
    client: TestClient, make_user
) -> None:
    team = make_user(*ROLES)
    api = Api(client, team.headers)
    case_id, late, later = _patient_with_actions(api, NHS[6])
    browser = browser_for(client, team.token)
    page = browser.get("/actions", params={"assignee": "my-organisation"})
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index(f'id="action-{case_id}-{late}"') < html.index(
        f'id="action-{case_id}-{later}"'
    )
    assert "2 items, 1 overdue" in html
    assert f'href="/tracker/cases/{case_id}#actions"' in html
    assert "Overdue" in html
    assert "999 000 0077".replace(" ", "") in html.replace(" ", "")
    only_late = browser.get(
        "/actions", params={"assignee": "my-organisation", "overdue": "true"}
    ).text
    assert f"action-{case_id}-{late}" in only_late
    assert f"action-{case_id}-{later}" not in only_late
    # Mine alone: nothing is assigned to this person.
    assert "Nothing is waiting" in browser.get("/actions", params={"assignee": "me"}).text
    # The home page counts the organisation's overdue actions.
    assert "1 of your organisation&#39;s action is overdue." in browser.get("/").text
    # An analyst has no grant of actions: the screen is not theirs.
    analyst = make_user("analyst", org=team.org)
    refused = browser_for(client, analyst.token).get("/actions")
    assert refused.status_code == 403


def test_the_case_page_lists_them_and_completes_one_chosen_by_name(
    client: TestClient, make_user
) -> None:
    team = make_user(*ROLES)
    api = Api(client, team.headers)
    case_id, late, later = _patient_with_actions(api, NHS[7])
    browser = browser_for(client, team.token)
    html = browser.get(f"/tracker/cases/{case_id}").text
    assert 'id="actions"' in html
    assert f'id="action-{late}"' in html
    assert f'id="action-{later}"' in html
    page = Page(html)
    action = f"/tracker/cases/{case_id}/events/complete_action"
    assert page.selects[action]["action_ref"] == ["", late, later] or page.selects[action][
        "action_ref"
    ] == [late, later]
    # Only the late one can be explained.
    explain = f"/tracker/cases/{case_id}/events/explain_late_action"
    assert [v for v in page.selects[explain]["action_ref"] if v] == [late]
    # Complete the one due tomorrow, chosen from the list.
    form = {**page.form(case_id, "complete_action"), "action_ref": later}
    done = post(browser, case_id, "complete_action", form)
    assert done.status_code == 303, done.text
    rows = {
        a["ref"]: a
        for a in api.client.get(f"/api/v1/cases/{case_id}/actions", headers=api.headers).json()[
            "items"
        ]
    }
    assert rows[later]["status"] == "done"
    # A reference the list does not offer (a stale page, a hand-made post) is refused by the
    # pathway's rule, saying why, and nothing is written.
    form = {
        **Page(browser.get(f"/tracker/cases/{case_id}").text).form(case_id, "complete_action"),
        "action_ref": "A999",
    }
    wrong = post(browser, case_id, "complete_action", form)
    assert wrong.status_code == 409
    assert "This case has no action" in wrong.text
    assert len(api.history(case_id)) == 4


def test_my_actions_in_a_browser(
    browser: Any, live_server: str, client: TestClient, make_user, backend: str
) -> None:  # noqa: ANN001
    team = make_user(*ROLES)
    api = Api(client, team.headers)
    case_id, late, _later = _patient_with_actions(api, NHS[8])
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(
            page, live_server, team.token, next_path="/actions?assignee=my-organisation"
        )
        assert page.locator("h1").inner_text() == "My actions"
        # From the list to the case, by the keyboard.
        page.focus(f"#action-{case_id}-{late} a")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"/tracker/cases/{case_id}#actions")
        assert "Chase the OT report" in page.locator("#actions-table").inner_text()
        for url in (
            f"{live_server}/actions?assignee=my-organisation",
            f"{live_server}/tracker/cases/{case_id}",
        ):
            for found in check_page(page, url, backend=backend).values():
                assert found == {"violations": [], "overflow": 0}
        assert problems.errors == []
    finally:
        context.close()
