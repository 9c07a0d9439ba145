"""`/ic/board`: the IC coordinators' board, through the page as a browser uses it (TestClient
with a signed-in session) and, once, in Chromium with the keyboard only.

Every figure the tests compare with comes from the API (`/api/v1/ic/...`, `/api/v1/cases/...`),
never from the page's own code.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.browser import (
    accessibility_violations,
    check_page,
    new_page,
    sign_in_with_token,
    sweep_widths,
)
from tests.discharge.helpers import NHS
from tests.ic.helpers import Ic, fresh_site

COORDINATOR = ("ic_coordinator", "manager")  # a manager too, to define the services
# What Chromium logs when a page answers with the API's 409 (a refusal shown as a page).
REFUSED_409 = "Failed to load resource: the server responded with a status of 409 (Conflict)"


def signed_in(client: TestClient, token: str) -> TestClient:
    browser = TestClient(client.app)
    browser.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
    r = browser.post("/sign-in/token", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def service(
    client: TestClient, headers: dict[str, str], name: str, site: str, model: str, capacity: int
) -> dict[str, Any]:
    code = f"{name[:4].upper()}-{uuid.uuid4().hex[:6].upper()}"
    body = {"code": code, "name": name, "site": site, "model": model, "capacity": capacity}
    r = client.post("/api/v1/ic/services", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def waiting(ic: Ic, nhs: str, model: str, priority: str = "high") -> dict[str, Any]:
    """A referral triaged and waiting for a place, through the API."""
    case = ic.refer(nhs)
    ic.fire(case["id"], "triage", priority=priority, planned_model=model)
    return ic.fire(case["id"], "await_capacity")["case"]


def version_on_page(html: str, case_id: int, action: str = "start") -> int:
    """The case version the page's form for this case will send."""
    found = re.search(
        rf'action="/ic/board/{action}[^"]*"[^>]*>\s*<input type="hidden" name="case_id" '
        rf'value="{case_id}">\s*<input type="hidden" name="version" value="(\d+)">',
        html,
    )
    assert found, f"no {action} form for case {case_id}"
    return int(found.group(1))


def api_service(ic: Ic, service_id: int) -> dict[str, Any]:
    return dict(ic.get(f"/services/{service_id}"))


def test_the_board_shows_only_the_organisations_own_services_and_episodes(
    client: TestClient, make_user
) -> None:
    mine, theirs = make_user(*COORDINATOR), make_user(*COORDINATOR)
    site = fresh_site()
    ours = service(client, mine.headers, "Reablement Ours", site, "reablement", 3)
    other = service(client, theirs.headers, "Reablement Theirs", site, "reablement", 3)
    ic_mine, ic_theirs = Ic(client, mine.headers, site), Ic(client, theirs.headers, site)
    wait_mine = waiting(ic_mine, NHS[0], "reablement")
    active_mine = waiting(ic_mine, NHS[1], "reablement")
    ic_mine.fire(active_mine["id"], "start_reablement", service_id=ours["id"])
    wait_theirs = waiting(ic_theirs, NHS[2], "reablement")
    active_theirs = waiting(ic_theirs, NHS[3], "reablement")
    ic_theirs.fire(active_theirs["id"], "start_reablement", service_id=other["id"])

    page = signed_in(client, mine.token).get("/ic/board")
    assert page.status_code == 200
    html = page.text
    assert "Reablement Ours" in html
    assert "Reablement Theirs" not in html
    assert f'id="case-{wait_mine["id"]}"' in html
    assert f'id="case-{active_mine["id"]}"' in html
    assert f'id="case-{wait_theirs["id"]}"' not in html
    assert f'id="case-{active_theirs["id"]}"' not in html
    assert f'/tracker/cases/{wait_mine["id"]}"' in html
    # The occupancy shown is the API's.
    listed = api_service(ic_mine, ours["id"])
    assert (listed["occupied"], listed["free"]) == (1, 2)
    row = re.search(rf'id="service-row-{ours["id"]}" data-occupied="(\d+)" data-free="(\d+)"', html)
    assert row
    assert (int(row.group(1)), int(row.group(2))) == (1, 2)
    # The waiting list is the API's, in its order: urgent before high.
    urgent = waiting(ic_mine, NHS[4], "reablement", priority="urgent")
    html = signed_in(client, mine.token).get("/ic/board").text
    api_order = [r["case_id"] for r in ic_mine.get("/waiting-list")["items"]]
    assert api_order[0] == urgent["id"]
    rows = re.findall(r'<tr class="nhsuk-table__row" role="row" id="case-(\d+)"', html)
    on_page = [int(i) for i in rows]
    assert [i for i in on_page if i in api_order] == api_order
    # Filters: another model's services are left out, and so is its waiting list.
    filtered = signed_in(client, mine.token).get("/ic/board", params={"model": "bed_based_ic"})
    assert f'id="service-row-{ours["id"]}"' not in filtered.text
    assert f'id="service-{ours["id"]}"' not in filtered.text
    assert f'id="case-{wait_mine["id"]}"' not in filtered.text
    assert "Nobody is waiting for this type of service" in filtered.text


def test_the_board_read_is_in_the_access_audit(client: TestClient, make_user) -> None:
    coordinator = make_user(*COORDINATOR)
    officer = make_user("ig_officer", org=coordinator.org)
    site = fresh_site()
    service(client, coordinator.headers, "Reablement", site, "reablement", 2)
    case = waiting(Ic(client, coordinator.headers, site), NHS[5], "reablement")
    assert signed_in(client, coordinator.token).get("/ic/board").status_code == 200
    audit = client.get("/api/v1/audit", params={"case_id": case["id"]}, headers=officer.headers)
    assert [(a["username"], a["endpoint"]) for a in audit.json()["items"]][:1] == [
        (coordinator.actor.username, "/ic/board")
    ]


def test_a_coordinator_starts_an_episode_against_capacity(client: TestClient, make_user) -> None:
    coordinator = make_user(*COORDINATOR)
    site = fresh_site()
    ic = Ic(client, coordinator.headers, site)
    small = service(client, coordinator.headers, "Reablement Small", site, "reablement", 1)
    first, second = waiting(ic, NHS[0], "reablement"), waiting(ic, NHS[1], "reablement")
    browser = signed_in(client, coordinator.token)
    html = browser.get("/ic/board").text
    started = browser.post(
        "/ic/board/start",
        data={
            "case_id": first["id"],
            "version": version_on_page(html, first["id"]),
            "service_id": small["id"],
        },
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    assert started.headers["location"] == f"/ic/board?done=started&case={first['id']}"
    after = browser.get(started.headers["location"]).text
    assert "999 000 0018 started in Reablement Small." in after
    assert ic.case(first["id"])["state"] == "active"
    assert api_service(ic, small["id"])["occupied"] == 1
    assert f'id="service-row-{small["id"]}" data-occupied="1" data-free="0"' in after

    # The service is now full: the second start is refused with the API's reason, as a page.
    full = browser.post(
        "/ic/board/start",
        data={
            "case_id": second["id"],
            "version": version_on_page(after, second["id"]),
            "service_id": small["id"],
        },
    )
    assert full.status_code == 409
    api_refusal = client.post(
        f"/api/v1/cases/{second['id']}/events",
        headers={**coordinator.headers, "If-Match": f'"{second["version"]}"'},
        json={"event": "start_reablement", "data": {"service_id": small["id"]}},
    ).json()
    assert api_refusal["reasons"][0].startswith("Reablement Small is full: 1 of 1 slots")
    assert "nhsuk-error-summary" in full.text
    assert api_refusal["reasons"][0] in full.text
    assert f'href="#start-service-{second["id"]}"' in full.text
    # What the person chose is kept, and the page offers the reason to go over capacity.
    assert re.search(rf'<option value="{small["id"]}" selected>', full.text)
    assert f'id="start-override-{second["id"]}"' in full.text
    assert ic.case(second["id"])["state"] == "waiting_capacity"
    assert api_service(ic, small["id"])["occupied"] == 1

    over = browser.post(
        "/ic/board/start",
        data={
            "case_id": second["id"],
            "version": version_on_page(full.text, second["id"]),
            "service_id": small["id"],
            "capacity_override_reason": "Agreed with the reablement lead on call",
        },
        follow_redirects=False,
    )
    assert over.status_code == 303, over.text
    assert api_service(ic, small["id"])["over_capacity"] is True
    events = Ic(client, coordinator.headers, site).api.history(second["id"])
    assert events[-1]["data"]["capacity_override_reason"] == (
        "Agreed with the reablement lead on call"
    )
    assert "Over capacity" in browser.get("/ic/board").text


def test_a_stale_version_is_refused_and_the_person_can_retry(client: TestClient, make_user) -> None:
    coordinator = make_user(*COORDINATOR)
    colleague = make_user("ic_coordinator", org=coordinator.org)
    site = fresh_site()
    ic = Ic(client, coordinator.headers, site)
    room = service(client, coordinator.headers, "Home IC", site, "home_based_ic", 5)
    case = waiting(ic, NHS[2], "home_based_ic")
    browser = signed_in(client, coordinator.token)
    read = version_on_page(browser.get("/ic/board").text, case["id"])
    # Someone else changes the episode after the board was read.
    Ic(client, colleague.headers, site).fire(case["id"], "update_details", priority="urgent")
    stale = browser.post(
        "/ic/board/start",
        data={"case_id": case["id"], "version": read, "service_id": room["id"]},
    )
    assert stale.status_code == 412
    assert "Someone else changed this episode after you loaded the board" in stale.text
    assert f"Update details by {colleague.actor.username}" in stale.text
    assert ic.case(case["id"])["state"] == "waiting_capacity"  # nothing was overwritten
    now = ic.case(case["id"])["version"]
    assert version_on_page(stale.text, case["id"]) == now == read + 1
    retried = browser.post(
        "/ic/board/start",
        data={"case_id": case["id"], "version": now, "service_id": room["id"]},
        follow_redirects=False,
    )
    assert retried.status_code == 303
    assert ic.case(case["id"])["state"] == "active"


def test_another_organisations_episode_is_not_found(client: TestClient, make_user) -> None:
    mine, theirs = make_user(*COORDINATOR), make_user(*COORDINATOR)
    site = fresh_site()
    ours = service(client, mine.headers, "Reablement", site, "reablement", 4)
    ic_theirs = Ic(client, theirs.headers, site)
    other = waiting(ic_theirs, NHS[6], "reablement")
    answer = signed_in(client, mine.token).post(
        "/ic/board/start",
        data={"case_id": other["id"], "version": other["version"], "service_id": ours["id"]},
    )
    assert answer.status_code == 404
    assert f"There is no episode {other['id']} that your organisation can see." in answer.text
    assert NHS[6] not in answer.text
    assert "999 000 0069" not in answer.text
    after = ic_theirs.case(other["id"])
    assert (after["state"], after["version"]) == ("waiting_capacity", other["version"])
    assert api_service(Ic(client, mine.headers, site), ours["id"])["occupied"] == 0


def test_move_between_models_and_end_an_episode(client: TestClient, make_user) -> None:
    coordinator = make_user(*COORDINATOR)
    site = fresh_site()
    ic = Ic(client, coordinator.headers, site)
    crisis = service(client, coordinator.headers, "Crisis", site, "crisis_response", 3)
    reablement = service(client, coordinator.headers, "Reablement", site, "reablement", 3)
    case = waiting(ic, NHS[7], "crisis_response")
    ic.fire(case["id"], "start_crisis_response", service_id=crisis["id"])
    browser = signed_in(client, coordinator.token)
    html = browser.get("/ic/board").text
    version = version_on_page(html, case["id"], "move")

    no_reason = browser.post(
        "/ic/board/move",
        data={
            "case_id": case["id"],
            "version": version,
            "from_model": "crisis_response",
            "service_id": reablement["id"],
        },
    )
    assert no_reason.status_code == 422
    assert "Enter the reason for the move." in no_reason.text
    assert f'href="#move-reason-{case["id"]}"' in no_reason.text

    moved = browser.post(
        "/ic/board/move",
        data={
            "case_id": case["id"],
            "version": version,
            "from_model": "crisis_response",
            "service_id": reablement["id"],
            "move_reason": "Crisis over; needs reablement",
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text
    now = ic.case(case["id"])
    assert (now["attributes"]["model"], now["attributes"]["service_id"]) == (
        "reablement",
        reablement["id"],
    )
    assert ic.api.history(case["id"])[-1]["event"] == "move_to_reablement"
    assert api_service(ic, crisis["id"])["occupied"] == 0
    assert api_service(ic, reablement["id"])["occupied"] == 1

    html = browser.get("/ic/board").text
    version = version_on_page(html, case["id"], "end")
    refused = browser.post(
        "/ic/board/end",
        data={"case_id": case["id"], "version": version, "outcome": "independent"},
    )
    assert refused.status_code == 409  # a planned end needs the transition plan first
    reasons = client.post(
        f"/api/v1/cases/{case['id']}/events",
        headers={**coordinator.headers, "If-Match": f'"{version}"'},
        json={"event": "end_episode", "data": {"outcome": "independent"}},
    ).json()["reasons"]
    assert reasons
    assert all(r in refused.text for r in reasons)
    assert re.search(r'<option value="independent" selected>', refused.text)
    ic.fire(
        case["id"],
        "record_transition_plan",
        transition_plan="Reducing visits",
        contingency_plan="Ring the single point of access",
    )
    ended = browser.post(
        "/ic/board/end",
        data={
            "case_id": case["id"],
            "version": ic.case(case["id"])["version"],
            "outcome": "independent",
        },
        follow_redirects=False,
    )
    assert ended.status_code == 303
    assert ic.case(case["id"])["state"] == "ended"
    assert api_service(ic, reablement["id"])["occupied"] == 0
    assert "The episode was ended." in browser.get(ended.headers["location"]).text


def test_roles_that_may_not_start_see_the_board_without_the_forms(
    client: TestClient, make_user
) -> None:
    coordinator = make_user(*COORDINATOR)
    triager = make_user("ic_triager", org=coordinator.org)
    site = fresh_site()
    room = service(client, coordinator.headers, "Reablement", site, "reablement", 2)
    case = waiting(Ic(client, coordinator.headers, site), NHS[8], "reablement")
    browser = signed_in(client, triager.token)
    html = browser.get("/ic/board").text
    assert f'id="case-{case["id"]}"' in html
    assert 'action="/ic/board/start' not in html
    refused = browser.post(
        "/ic/board/start",
        data={"case_id": case["id"], "version": case["version"], "service_id": room["id"]},
    )
    assert refused.status_code == 403
    said = re.search(r"Only these roles may start an episode: ([a-z ,]+)\.", refused.text)
    assert said
    assert set(said.group(1).split(", ")) == {"ic coordinator", "ic practitioner"}
    outsider = make_user("chc_assessor", org=coordinator.org)
    denied = signed_in(client, outsider.token).post(
        "/ic/board/start",
        data={"case_id": case["id"], "version": case["version"], "service_id": room["id"]},
    )
    assert denied.status_code == 403
    assert Ic(client, coordinator.headers, site).case(case["id"])["state"] == "waiting_capacity"


def test_bad_form_input_is_refused_as_a_page_and_changes_nothing(
    client: TestClient, make_user
) -> None:
    mine, theirs = make_user(*COORDINATOR), make_user(*COORDINATOR)
    site = fresh_site()
    ic = Ic(client, mine.headers, site)
    ours = service(client, mine.headers, "Reablement", site, "reablement", 2)
    elsewhere = service(client, theirs.headers, "Their reablement", site, "reablement", 2)
    case = waiting(ic, NHS[9], "reablement")
    browser = signed_in(client, mine.token)
    base = {"case_id": case["id"], "version": case["version"]}
    bad_version = browser.post("/ic/board/start", data={**base, "version": "3x"})
    assert bad_version.status_code == 422
    assert "The form was incomplete" in bad_version.text
    their_service = browser.post("/ic/board/start", data={**base, "service_id": elsewhere["id"]})
    assert their_service.status_code == 422
    assert "Choose one of your organisation&#39;s services" in their_service.text
    control = browser.post(
        "/ic/board/start",
        data={**base, "service_id": ours["id"], "capacity_override_reason": "full\x00stop"},
    )
    assert control.status_code == 422
    assert "nhsuk-error-summary" in control.text
    missing = browser.post("/ic/board/start", data={"version": case["version"]})
    assert missing.status_code == 422
    after = ic.case(case["id"])
    assert (after["state"], after["version"]) == ("waiting_capacity", case["version"])
    assert api_service(ic, ours["id"])["occupied"] == 0


# -- in Chromium, keyboard only -----------------------------------------------------------------
def test_keyboard_journey_start_against_capacity_in_a_browser(
    browser, live_server: str, client: TestClient, make_user
) -> None:  # noqa: ANN001
    coordinator = make_user(*COORDINATOR)
    site = fresh_site()
    ic = Ic(client, coordinator.headers, site)
    # Two reablement teams, listed in code order: the first is full, the second has room.
    full = _coded_service(client, coordinator, "REAB-A", "Reablement North", site, 1)
    room = _coded_service(client, coordinator, "REAB-B", "Reablement South", site, 3)
    holder = waiting(ic, NHS[0], "reablement")
    ic.fire(holder["id"], "start_reablement", service_id=full["id"])
    case = waiting(ic, NHS[1], "reablement", priority="urgent")

    context, page, problems = new_page(browser, width=1280)
    try:
        sign_in_with_token(page, live_server, coordinator.token, next_path="/ic/board")
        page.wait_for_url(f"{live_server}/ic/board")
        row = page.locator(f"#case-{case['id']}")
        assert "999 000 0026" in row.inner_text()
        select = f"#start-service-{case['id']}"
        # The form offers the service with room first; the person picks the full one instead.
        assert page.input_value(select) == str(room["id"])
        page.focus(select)
        page.keyboard.press("ArrowUp")
        assert page.input_value(select) == str(full["id"])
        page.keyboard.press("Tab")  # to the Start button
        page.keyboard.press("Enter")
        page.wait_for_selector(".nhsuk-error-summary")
        assert "Reablement North is full: 1 of 1 slots in use" in page.inner_text(
            ".nhsuk-error-summary"
        )
        # From the error summary's link to the field, choose the service with room, by keyboard.
        page.focus(f".nhsuk-error-summary a[href='{select}']")
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.activeElement.id === '{select[1:]}'")
        page.keyboard.press("ArrowDown")
        assert page.input_value(select) == str(room["id"])
        page.keyboard.press("Tab")  # the reason to go over capacity, left empty
        page.keyboard.press("Tab")  # Start
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/ic/board?done=started&case={case['id']}")
        assert "999 000 0026 started in Reablement South." in page.inner_text(
            ".nhsuk-notification-banner"
        )
        occupied = page.get_attribute(f"#service-row-{room['id']}", "data-occupied")
        assert occupied == "1" == str(api_service(ic, room["id"])["occupied"])
        assert ic.case(case["id"])["state"] == "active"
        # The only console line is Chromium noting the refusal's status: nothing else failed.
        assert problems.errors == [REFUSED_409]
    finally:
        context.close()


def test_the_board_passes_axe_and_fits_every_width(
    browser, live_server: str, client: TestClient, make_user, backend: str
) -> None:  # noqa: ANN001
    coordinator = make_user(*COORDINATOR)
    site = fresh_site()
    ic = Ic(client, coordinator.headers, site)
    beds = service(client, coordinator.headers, "Intermediate care beds", site, "bed_based_ic", 1)
    crisis = service(client, coordinator.headers, "Urgent response", site, "crisis_response", 4)
    urgent = ic.refer(NHS[2])
    ic.fire(urgent["id"], "flag_urgent_response", ucr_condition="reduced_function")
    ic.fire(urgent["id"], "start_crisis_response", service_id=crisis["id"])
    in_bed = waiting(ic, NHS[3], "bed_based_ic")
    ic.fire(in_bed["id"], "start_bed_based_ic", service_id=beds["id"])
    waiting(ic, NHS[4], "bed_based_ic", priority="urgent")

    context, page, problems = new_page(browser, width=1280)
    try:
        sign_in_with_token(page, live_server, coordinator.token, next_path="/ic/board")
        found = check_page(page, f"{live_server}/ic/board", backend=backend)
        assert found == {str(w): {"violations": [], "overflow": 0} for w in sweep_widths(backend)}
        # The page with a refusal on it (error summary, an open form) passes too.
        page.goto(f"{live_server}/ic/board")
        page.focus(f"#start-service-{_last_waiting(page)}")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector(".nhsuk-error-summary")
        assert accessibility_violations(page) == []
        assert problems.errors == [REFUSED_409]
    finally:
        context.close()


def _last_waiting(page: Any) -> str:
    ids = page.eval_on_selector_all("#waiting-table tbody tr", "rows => rows.map(r => r.id)")
    return str(ids[-1]).removeprefix("case-")


def _coded_service(
    client: TestClient, user: Any, prefix: str, name: str, site: str, capacity: int
) -> dict[str, Any]:
    body = {
        "code": f"{prefix}-{uuid.uuid4().hex[:4].upper()}",
        "name": name,
        "site": site,
        "model": "reablement",
        "capacity": capacity,
    }
    r = client.post("/api/v1/ic/services", headers=user.headers, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())
