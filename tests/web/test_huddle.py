"""`/huddle`: the daily escalation call's agenda, its notes and escalation from the page.

Cases are built through the API as the discharge team would; the page is used as a browser
would (a signed-in session, forms posted from this site), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.discharge import huddle
from app.models import Huddle, HuddleNote
from app.models.event import AppendOnlyViolation
from app.timeutil import utcnow
from tests.browser import accessibility_violations, check_page, new_page, sign_in_with_token
from tests.conftest import TestUser as User
from tests.discharge.helpers import NHS, TEAM, fire, open_case, today
from tests.helpers import Api

SECTIONS = ("escalated", "longest", "new")


def signed_in(client: TestClient, user: User) -> TestClient:
    browser = TestClient(client.app, raise_server_exceptions=False)
    browser.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
    r = browser.post("/sign-in/token", data={"token": user.token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def sections(html: str) -> dict[str, list[int]]:
    """The case ids each agenda section lists, in order."""
    found = {}
    for key in SECTIONS:
        start = html.index(f'id="section-{key}"')
        end = html.index("</section>", start)
        found[key] = [int(x) for x in re.findall(r'href="/tracker/cases/(\d+)"', html[start:end])]
    return found


def version_in_form(html: str, case_id: int, form: str) -> int:
    match = re.search(
        rf'action="/huddle/cases/{case_id}/{form}".*?name="version" value="(\d+)"', html, re.S
    )
    assert match, f"no {form} form for case {case_id}"
    return int(match.group(1))


def admit(api: Api, nhs: str, site: str, *, ready_days_ago: int | None, **data: Any) -> int:
    case_id = int(open_case(api, nhs, site=site, admitted_days_ago=45, **data)["id"])
    fire(api, case_id, "accept", days_ago=44)
    if ready_days_ago is not None:
        fire(api, case_id, "not_meeting_ctr", days_ago=ready_days_ago)
    return case_id


@pytest.fixture
def ward(client: TestClient, make_user) -> dict[str, Any]:  # noqa: ANN001
    """One organisation's site: four patients on the Ready-for-Discharge list, one who meets
    the criteria, one at another site; and another organisation's patient at the same site."""
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    ids = {
        "ada": admit(api, NHS[0], site, ready_days_ago=20, responsible_person="Nurse Ada"),
        "ben": admit(api, NHS[1], site, ready_days_ago=10, ward="Ward 9"),
        "cy": admit(api, NHS[2], site, ready_days_ago=2),
        "di": admit(api, NHS[3], site, ready_days_ago=0),
        "eve": admit(api, NHS[4], site, ready_days_ago=None),  # meets the criteria
        "fay": admit(api, NHS[5], "ELSEWHERE", ready_days_ago=30),
    }
    fire(api, ids["ada"], "open_delay", days_ago=19, data={"delay_code": "capacity-p1-services"})
    fire(api, ids["ada"], "raise_escalation", data={"escalation_reason": "20 days, no package"})
    fire(api, ids["di"], "raise_escalation", data={"escalation_reason": "family concerns"})
    other = make_user(*TEAM)
    stranger = admit(Api(client, other.headers), NHS[6], site, ready_days_ago=40)
    return {
        "team": team,
        "api": api,
        "site": site,
        "ids": ids,
        "other": other,
        "stranger": stranger,
    }


def test_the_sections_hold_the_right_patients(client: TestClient, ward) -> None:  # noqa: ANN001
    ids, site = ward["ids"], ward["site"]
    state = client.app.state
    config = state.discharge_config
    state.discharge_config = config.model_copy(update={"huddle_longest_waits": 2})
    try:
        page = signed_in(client, ward["team"]).get("/huddle", params={"site": site})
    finally:
        state.discharge_config = config
    assert page.status_code == 200
    assert sections(page.text) == {
        "escalated": [ids["ada"], ids["di"]],
        "longest": [ids["ada"], ids["ben"]],  # the two most days since the DRD
        # No earlier huddle for the site: the last 24 hours, by clinical or recorded time.
        "new": [ids["ada"], ids["ben"], ids["cy"], ids["di"]],
    }
    # Each patient has one place to record the outcome, whatever sections list them.
    for case_id in (ids["ada"], ids["ben"], ids["cy"], ids["di"]):
        assert page.text.count(f'id="case-{case_id}"') == 1
    assert f"/tracker/cases/{ids['eve']}" not in page.text  # meets the criteria
    assert f"/tracker/cases/{ids['fay']}" not in page.text  # another site
    # The row says what the API's list says.
    listed = client.get("/api/v1/rfd", params={"site": site}, headers=ward["team"].headers).json()
    ada = next(r for r in listed["items"] if r["case_id"] == ids["ada"])
    row = _row(page.text, "escalated", ids["ada"])
    assert "999 000 0018" in row
    assert ada["primary_reason"]["label"] in row
    assert "Nurse Ada" in row
    assert "20 days, no package" in row
    assert ">20<" in row
    # System-wide: every site of the organisation.
    everywhere = signed_in(client, ward["team"]).get("/huddle")
    assert ids["fay"] in sections(everywhere.text)["longest"]


def _row(html: str, section: str, case_id: int) -> str:
    start = html.index(f'id="section-{section}"')
    start = html.index(f'href="/tracker/cases/{case_id}"', start)
    return html[start : html.index("</tr>", start)]


def test_another_organisations_patients_never_appear_nor_take_notes(
    client: TestClient, ward, make_user
) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    browser = signed_in(client, chair)
    stranger, site = ward["stranger"], ward["site"]
    for params in ({"site": site}, {}, {"site": site, "print": "1"}):
        page = browser.get("/huddle", params=params)
        assert f"/tracker/cases/{stranger}" not in page.text
        assert "999 000 0077" not in page.text  # NHS[6], the other organisation's patient
    assert browser.post("/huddle/start", data={"site": site}).status_code == 200
    noted = browser.post(f"/huddle/cases/{stranger}/discussed", data={"site": site})
    assert noted.status_code == 404
    r = browser.post(
        f"/huddle/cases/{stranger}/escalate", data={"site": site, "version": 3, "reason": "x"}
    )
    assert r.status_code == 404
    owner = Api(client, ward["other"].headers)
    assert [e["event"] for e in owner.history(stranger)][-1] == "not_meeting_ctr"
    with client.app.state.sessions() as db:
        assert huddle.notes(db, organisation=chair.org, case_id=stranger) == []


def test_newly_not_meeting_since_the_previous_huddle_started(
    client: TestClient, make_user, sessions
) -> None:  # noqa: ANN001
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    before = admit(api, NHS[0], site, ready_days_ago=5)
    with sessions() as db:  # yesterday's huddle started after that was recorded
        db.add(
            Huddle(
                organisation=team.org,
                site=site,
                held_on=today() - timedelta(days=1),
                started_at=utcnow(),
                started_by_user_id=team.actor.user_id,
                started_by_username=team.actor.username,
            )
        )
        db.commit()
    since_today = admit(api, NHS[1], site, ready_days_ago=0)
    # Recorded after the huddle, though the clinical time is before it: new to the call.
    recorded_late = admit(api, NHS[2], site, ready_days_ago=3)
    page = signed_in(client, team).get("/huddle", params={"site": site})
    found = sections(page.text)
    assert found["new"] == [recorded_late, since_today]
    assert before in found["longest"]
    assert "since the previous huddle began" in page.text
    # The same patients a day and a half on, with no huddle in between: the window is the
    # previous huddle's start still, so all three recorded after it stay new...
    later = datetime.now(UTC) + timedelta(hours=36)
    with sessions() as db:
        agenda = huddle.agenda(
            db,
            catalogue=client.app.state.engine.catalogue,
            codes=client.app.state.codes,
            config=client.app.state.discharge_config,
            grant=client.app.state.access.grant("rfd.read", {"discharge_team"}),
            organisation=team.org,
            site=site,
            now=later,
        )
    assert {i.row.case_id for i in agenda.sections[huddle.Section.NEW]} == {
        recorded_late,
        since_today,
    }
    # ...while another site with no huddle at all looks back 24 hours only.
    other_site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    admit(api, NHS[3], other_site, ready_days_ago=0)
    with sessions() as db:
        args = {
            "catalogue": client.app.state.engine.catalogue,
            "codes": client.app.state.codes,
            "config": client.app.state.discharge_config,
            "grant": client.app.state.access.grant("rfd.read", {"discharge_team"}),
            "organisation": team.org,
            "site": other_site,
        }
        assert len(huddle.agenda(db, now=utcnow(), **args).sections[huddle.Section.NEW]) == 1
        assert huddle.agenda(db, now=later, **args).sections[huddle.Section.NEW] == []


def test_start_then_mark_discussed_appends_notes_and_keeps_history(
    client: TestClient, ward, make_user, sessions
) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    browser = signed_in(client, chair)
    site, ben = ward["site"], ward["ids"]["ben"]
    page = browser.get("/huddle", params={"site": site})
    assert "Start today&#39;s huddle" in page.text or "Start today's huddle" in page.text
    assert f'action="/huddle/cases/{ben}/discussed"' not in page.text  # not started yet
    # Not started: a note is refused with the reason, and the typed action is kept.
    refused = browser.post(
        f"/huddle/cases/{ben}/discussed", data={"site": site, "action": "Chase the agency"}
    )
    assert refused.status_code == 409
    assert "has not started" in refused.text
    assert 'value="Chase the agency"' in refused.text

    r = browser.post("/huddle/start", data={"site": site}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/huddle?site={site}&done=started")
    again = browser.post("/huddle/start", data={"site": site}, follow_redirects=False)
    assert again.status_code == 303  # the same huddle, not a second one
    with sessions() as db:
        held = db.execute(select(Huddle).where(Huddle.organisation == chair.org)).scalars().all()
    assert [(h.site, h.held_on, h.started_by_username) for h in held] == [
        (site, today(), chair.actor.username)
    ]
    due = today() + timedelta(days=2)
    r = browser.post(
        f"/huddle/cases/{ben}/discussed",
        data={
            "site": site,
            "action": "Chase the agency",
            "owner": "Sam Patel",
            "due_day": str(due.day),
            "due_month": str(due.month),
            "due_year": str(due.year),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/huddle?site={site}&done=discussed&case={ben}#case-{ben}"
    r = browser.post(
        f"/huddle/cases/{ben}/discussed",
        data={"site": site, "action": "Book transport", "owner": "Jo"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = browser.get(r.headers["location"])
    row = _row(page.text, "longest", ben)
    assert "Discussed" in row
    assert "Book transport" in row
    assert "Jo" in row
    assert "Chase the agency" not in row  # the latest note is what the agenda shows
    assert "Marked as discussed." in page.text
    with sessions() as db:
        history = huddle.notes(db, organisation=chair.org, case_id=ben)
        assert [(n.action, n.action_owner, n.action_due, n.discussed) for n in history] == [
            ("Chase the agency", "Sam Patel", due, True),
            ("Book transport", "Jo", None, True),
        ]
        note = db.execute(select(HuddleNote).where(HuddleNote.case_id == ben)).scalars().first()
        assert note is not None
        note.action = "rewritten"
        with pytest.raises(AppendOnlyViolation):
            db.flush()
    # Another patient is not discussed yet.
    assert "Not yet discussed" in _row(page.text, "longest", ward["ids"]["ada"])


def test_a_bad_note_is_shown_with_what_was_typed(client: TestClient, ward, make_user) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    browser = signed_in(client, chair)
    site, cy = ward["site"], ward["ids"]["cy"]
    browser.post("/huddle/start", data={"site": site})
    r = browser.post(
        f"/huddle/cases/{cy}/discussed",
        data={"site": site, "action": "x" * 501, "owner": "Al", "due_day": "31", "due_month": "2"},
    )
    assert r.status_code == 422
    assert "nhsuk-error-summary" in r.text
    assert "The action must be 500 characters or fewer" in r.text
    assert "The due date must be a real date" in r.text
    assert 'value="Al"' in r.text
    assert f'href="#due-{cy}-day"' in r.text
    with client.app.state.sessions() as db:
        assert huddle.notes(db, organisation=chair.org, case_id=cy) == []


def test_escalate_and_de_escalate_fire_the_pathway_events(
    client: TestClient, ward, make_user
) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    browser = signed_in(client, chair)
    api, site, ids = ward["api"], ward["site"], ward["ids"]
    page = browser.get("/huddle", params={"site": site})
    version = version_in_form(page.text, ids["cy"], "escalate")
    # The reason is required: nothing is fired without it.
    r = browser.post(f"/huddle/cases/{ids['cy']}/escalate", data={"site": site, "version": version})
    assert r.status_code == 422
    assert "Enter the reason for escalating" in r.text
    assert "raise_escalation" not in [e["event"] for e in api.history(ids["cy"])]

    r = browser.post(
        f"/huddle/cases/{ids['cy']}/escalate",
        data={"site": site, "version": version, "reason": "No P1 package in sight"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"done=escalated&case={ids['cy']}#case-{ids['cy']}")
    last = api.history(ids["cy"])[-1]
    assert (last["event"], last["data"], last["actor"]["username"]) == (
        "raise_escalation",
        {"escalation_reason": "No P1 package in sight"},
        chair.actor.username,
    )
    page = browser.get(r.headers["location"])
    assert ids["cy"] in sections(page.text)["escalated"]

    version = version_in_form(page.text, ids["ada"], "de-escalate")
    r = browser.post(
        f"/huddle/cases/{ids['ada']}/de-escalate",
        data={"site": site, "version": version, "outcome": "Package agreed for Monday"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    last = api.history(ids["ada"])[-1]
    assert (last["event"], last["data"]) == (
        "clear_escalation",
        {"escalation_outcome": "Package agreed for Monday"},
    )
    page = browser.get(r.headers["location"])
    assert ids["ada"] not in sections(page.text)["escalated"]
    assert "Escalation cleared." in page.text


def test_a_stale_version_is_refused_with_a_clear_message_and_nothing_lost(
    client: TestClient, ward, make_user
) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    browser = signed_in(client, chair)
    api, site, ben = ward["api"], ward["site"], ward["ids"]["ben"]
    read = version_in_form(browser.get("/huddle", params={"site": site}).text, ben, "escalate")
    # Someone else changes the patient meanwhile.
    fire(api, ben, "update_details", data={"responsible_person": "Dr Who"})
    r = browser.post(
        f"/huddle/cases/{ben}/escalate",
        data={"site": site, "version": read, "reason": "Waiting 10 days"},
    )
    assert r.status_code == 412
    assert "Someone else changed this patient" in r.text
    assert "Waiting 10 days</textarea>" in r.text  # what was typed is kept
    assert "raise_escalation" not in [e["event"] for e in api.history(ben)]
    fresh = version_in_form(r.text, ben, "escalate")
    assert fresh == read + 1
    assert "Dr Who" in _row(r.text, "longest", ben)
    # Submitting again from the refreshed page works.
    again = browser.post(
        f"/huddle/cases/{ben}/escalate",
        data={"site": site, "version": fresh, "reason": "Waiting 10 days"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert api.history(ben)[-1]["event"] == "raise_escalation"


def test_an_engine_refusal_shows_its_reasons(client: TestClient, ward, make_user) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    browser = signed_in(client, chair)
    api, site, ada = ward["api"], ward["site"], ward["ids"]["ada"]
    version = int(api.get(ada).headers["ETag"].strip('"'))
    r = browser.post(
        f"/huddle/cases/{ada}/escalate",
        data={"site": site, "version": version, "reason": "again"},
    )
    assert r.status_code == 409
    assert "nhsuk-error-summary" in r.text
    assert "The patient is already on the escalation list." in r.text
    # A manager may keep the huddle's notes but the pathway does not let them escalate: no
    # escalation form, and a posted one is refused by the engine with its reason.
    manager = signed_in(client, make_user("manager", org=ward["team"].org))
    page = manager.get("/huddle", params={"site": site})
    assert page.status_code == 200
    assert "/escalate" not in page.text
    cy = ward["ids"]["cy"]
    version = int(api.get(cy).headers["ETag"].strip('"'))
    r = manager.post(
        f"/huddle/cases/{cy}/escalate", data={"site": site, "version": version, "reason": "x"}
    )
    assert r.status_code == 403
    assert "needs one of the roles" in r.text
    assert "raise_escalation" not in [e["event"] for e in api.history(cy)]


@pytest.mark.parametrize("role", ["ward_clinician", "trusted_assessor", "analyst"])
def test_roles_without_writes_read_but_get_403_on_every_write(
    client: TestClient, ward, make_user, role: str
) -> None:  # noqa: ANN001
    reader = signed_in(client, make_user(role, org=ward["team"].org))
    site, ben = ward["site"], ward["ids"]["ben"]
    page = reader.get("/huddle", params={"site": site})
    assert page.status_code == 200
    assert '<form method="post"' not in page.text.split('id="maincontent"')[1]
    if role == "analyst":  # no identifiers: the case number, never the NHS number
        assert "999 000 0026" not in page.text
        assert f"Case {ben}" in page.text
    for path, data in (
        ("/huddle/start", {"site": site}),
        (f"/huddle/cases/{ben}/discussed", {"site": site}),
        (f"/huddle/cases/{ben}/escalate", {"site": site, "version": 1, "reason": "x"}),
        (f"/huddle/cases/{ben}/de-escalate", {"site": site, "version": 1}),
    ):
        r = reader.post(path, data=data)
        assert r.status_code == 403, path
        assert "You do not have access" in r.text


def test_roles_without_the_list_cannot_open_it(client: TestClient, ward, make_user) -> None:  # noqa: ANN001
    for role in ("ig_officer", "chc_assessor", "provider"):
        browser = signed_in(client, make_user(role, org=ward["team"].org))
        assert browser.get("/huddle").status_code == 403
        r = browser.post("/huddle/start", data={"site": ward["site"]})
        assert r.status_code == 403


def test_the_print_view_has_no_forms_and_says_when_and_who(
    client: TestClient, ward, make_user
) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    browser = signed_in(client, chair)
    site = ward["site"]
    browser.post("/huddle/start", data={"site": site})
    page = browser.get("/huddle", params={"site": site, "print": "1"})
    assert page.status_code == 200
    main = page.text.split('id="maincontent"')[1]
    assert "<form" not in main
    assert f"<strong>Site:</strong> {site}" in main
    assert f"by {chair.actor.username}" in main
    assert f"{today().day} {today().strftime('%B %Y')}" in main
    assert sections(page.text)["escalated"] == [ward["ids"]["ada"], ward["ids"]["di"]]


def test_reading_the_agenda_is_in_the_access_audit(client: TestClient, ward, make_user) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    officer = make_user("ig_officer", org=ward["team"].org)
    page = signed_in(client, chair).get("/huddle", params={"site": ward["site"]})
    shown = {cid for ids in sections(page.text).values() for cid in ids}
    r = client.get("/api/v1/audit", params={"user": chair.actor.username}, headers=officer.headers)
    assert r.status_code == 200, r.text
    assert [(x["endpoint"], set(x["case_ids"])) for x in r.json()["items"]] == [("/huddle", shown)]


def test_a_site_that_is_not_a_site_code_is_refused(client: TestClient, ward) -> None:  # noqa: ANN001
    browser = signed_in(client, ward["team"])
    assert browser.get("/huddle", params={"site": "<script>"}).status_code == 422
    r = browser.post("/huddle/start", data={"site": "NOWHERE"})
    assert r.status_code == 404


def test_odd_posts_answer_with_pages_never_a_500(client: TestClient, ward, make_user) -> None:  # noqa: ANN001
    chair = make_user("huddle_chair", org=ward["team"].org)
    browser = signed_in(client, chair)
    api, site, cy = ward["api"], ward["site"], ward["ids"]["cy"]
    browser.post("/huddle/start", data={"site": site})
    version = int(api.get(cy).headers["ETag"].strip('"'))
    answers = {
        "no version": browser.post(f"/huddle/cases/{cy}/escalate", data={"reason": "x"}),
        "a word for a version": browser.post(
            f"/huddle/cases/{cy}/escalate", data={"version": "three", "reason": "x"}
        ),
        "a control character": browser.post(
            f"/huddle/cases/{cy}/escalate", data={"version": version, "reason": "bad\x07bell"}
        ),
        "a reason too long": browser.post(
            f"/huddle/cases/{cy}/escalate", data={"version": version, "reason": "x" * 2001}
        ),
        "an owner on two lines": browser.post(
            f"/huddle/cases/{cy}/discussed", data={"site": site, "action": "a", "owner": "A\nB"}
        ),
        "an owner without an action": browser.post(
            f"/huddle/cases/{cy}/discussed", data={"site": site, "owner": "Al"}
        ),
        "no such case": browser.post("/huddle/cases/999999999/discussed", data={"site": site}),
    }
    assert {what: r.status_code for what, r in answers.items()} == {
        "no version": 422,
        "a word for a version": 422,
        "a control character": 422,
        "a reason too long": 422,
        "an owner on two lines": 422,
        "an owner without an action": 422,
        "no such case": 404,
    }
    assert all("text/html" in r.headers["content-type"] for r in answers.values())
    assert "raise_escalation" not in [e["event"] for e in api.history(cy)]
    with client.app.state.sessions() as db:
        assert huddle.notes(db, organisation=chair.org, case_id=cy) == []


def test_the_chair_runs_the_huddle_with_the_keyboard_alone(
    browser: Any, live_server: str, client: TestClient, make_user, backend: str
) -> None:  # noqa: ANN001
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    first = admit(api, NHS[7], site, ready_days_ago=9, responsible_person="Nurse Kim")
    second = admit(api, NHS[8], site, ready_days_ago=4)
    chair = make_user("huddle_chair", org=team.org)
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(page, live_server, chair.token, next_path="/huddle")
        assert page.locator("h1").inner_text() == "Huddle: all sites"
        # Choose the site: the select, an arrow key, then the button.
        page.focus("#site")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == f"Huddle: {site}"
        page.focus("#start-huddle")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "done=started" in page.url
        assert f"by {chair.actor.username}" in page.locator("main").inner_text()

        # Mark the first patient discussed with an action, its owner and due date.
        due = today() + timedelta(days=3)
        page.focus(f"#action-{first}")
        page.keyboard.type("Call the care agency")
        for value in ("Sam Patel", str(due.day), str(due.month), str(due.year)):
            page.keyboard.press("Tab")
            page.keyboard.type(value)
        page.keyboard.press("Tab")
        assert (
            page.evaluate("document.activeElement.textContent").strip().startswith("Mark discussed")
        )
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"#case-{first}")
        assert "Marked as discussed." in page.locator(f"#case-{first}").inner_text()
        row = page.locator(f"#section-longest ~ div tr:has(a[href='/tracker/cases/{first}'])")
        assert "Call the care agency" in row.inner_text()
        assert "Sam Patel" in row.inner_text()

        # Escalate the second: without a reason first (the error summary says so), then with.
        page.focus(f"#escalate-reason-{second}")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert (
            "Enter the reason for escalating" in page.locator(".nhsuk-error-summary").inner_text()
        )
        assert accessibility_violations(page) == []
        page.focus(f"#escalate-reason-{second}")
        page.keyboard.type("Waiting 4 days for a P1 package")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"#case-{second}")
        escalated = page.locator("#section-escalated ~ div a[href^='/tracker/cases/']")
        assert escalated.all_inner_texts() == ["999 000 0093"]  # NHS[8]
        last = api.history(second)[-1]
        assert (last["event"], last["data"]["escalation_reason"]) == (
            "raise_escalation",
            "Waiting 4 days for a P1 package",
        )

        # The agenda and its print view: axe and no overflow at 360, 768 and 1280 px (on the
        # backend the sweeps run on; opened on the other).
        agenda = check_page(page, f"{live_server}/huddle?site={site}", backend=backend)
        printed = check_page(page, f"{live_server}/huddle?site={site}&print=1", backend=backend)
        for found in (*agenda.values(), *printed.values()):
            assert found == {"violations": [], "overflow": 0}
        assert page.locator("main form").count() == 0  # the print view has no forms
        # The one answer that is not a 2xx is the deliberate 422 of the form without a reason.
        expected = "the server responded with a status of 422"
        assert [e for e in problems.errors if expected not in e] == []
    finally:
        context.close()
