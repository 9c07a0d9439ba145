"""The case page `/tracker/cases/{id}` and recording events from it, on both databases.

Everything written through the page is checked through the API (the same use case), and every
refusal is checked to have written nothing.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models import AccessRecord, AccessRecordCase
from app.web.case_actions import RECORDED_ELSEWHERE
from app.web.eventforms import CLINICAL_TIME, REASON
from tests.discharge.helpers import NHS
from tests.helpers import SAMPLE, Api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:starlette")


class Page(HTMLParser):
    """The parts of a page the tests read: each form's action and inputs, the error summary,
    the text of elements by id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}  # action -> input name -> value
        self.selects: dict[str, dict[str, list[str]]] = {}  # action -> select -> option values
        self._form: str | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self.ids: set[str] = set()
        self.text = text
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "form":
            self._form = a.get("action", "")
            self.forms[self._form] = {}
            self.selects[self._form] = {}
        elif self._form is not None and tag in ("input", "textarea", "select") and "name" in a:
            inputs = self.forms[self._form]
            if a.get("type") == "radio":
                if "checked" in a:
                    inputs[a["name"]] = a.get("value", "")
                else:
                    inputs.setdefault(a["name"], "")
            else:
                inputs[a["name"]] = a.get("value", "")
            if tag == "textarea":
                self._textarea = a["name"]
            if tag == "select":
                self._select = a["name"]
                self.selects[self._form][a["name"]] = []
        elif tag == "option" and self._form is not None and self._select is not None:
            self.selects[self._form][self._select].append(a.get("value", ""))
            if "selected" in a:
                self.forms[self._form][self._select] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea is not None:
            # A browser drops the one line break that follows <textarea>.
            self.forms[self._form][self._textarea] += data.removeprefix("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None

    def form(self, case_id: int, event: str) -> dict[str, str]:
        return self.forms[f"/tracker/cases/{case_id}/events/{event}"]

    def events(self, case_id: int) -> set[str]:
        prefix = f"/tracker/cases/{case_id}/events/"
        return {a.removeprefix(prefix) for a in self.forms if a.startswith(prefix)}


def browser_for(client: TestClient, token: str) -> TestClient:
    """A signed-in browser session (cookie), as the sign-in page makes one."""
    browser = TestClient(client.app)
    browser.headers["Origin"] = "http://testserver"  # a browser's own form posts say so
    r = browser.post("/sign-in/token", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def open_discharge(api: Api, nhs: str = NHS[0]) -> dict[str, Any]:
    return dict(
        api.create(
            "discharge",
            site="AINTREE",
            patient_ref=nhs,
            data={
                "hospital_system": "LUHFT",
                "ward": "Ward 1",
                "admitted_at": "2026-01-05T09:00:00Z",
            },
            occurred_at="2026-01-05T09:00:00Z",
            reason="entered from the ward list",
        ).json()
    )


@pytest.fixture
def team(make_user) -> Any:  # noqa: ANN001
    return make_user("discharge_team", "ward_clinician")


def post(browser: TestClient, case_id: int, event: str, form: dict[str, str]) -> Any:
    return browser.post(
        f"/tracker/cases/{case_id}/events/{event}", data=form, follow_redirects=False
    )


# -- reading ---------------------------------------------------------------------------------


def test_the_page_has_a_form_for_each_event_the_api_allows_and_every_refusal(
    client: TestClient, team: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    api.fire(case["id"], "accept", data={"pathway": "P1"})
    read = api.get(case["id"]).json()
    page = Page(browser_for(client, team.token).get(f"/tracker/cases/{case['id']}").text)

    allowed = {e["event"] for e in read["allowed_events"] if e["allowed"]}
    refused = {e["event"] for e in read["allowed_events"]} - allowed
    # Refused by a rule (not by the person's roles) still has its form: rules are judged on an
    # empty form, and changing the pathway needs only a reason to pass. Two kinds have none:
    # the referral's own status (recorded by the referral), and, on a case with no action yet,
    # the events that name an action (said to apply to none).
    names_an_action = {"update_action", "complete_action", "explain_late_action", "cancel_action"}
    assert page.events(case["id"]) == (allowed | refused) - RECORDED_ELSEWHERE - names_an_action
    assert page.text.count("There is no action it applies to.") == len(names_an_action)
    for entry in read["allowed_events"]:
        if entry["event"] in RECORDED_ELSEWHERE | names_an_action:
            continue
        inputs = page.form(case["id"], entry["event"])
        fields = set(entry["requires"]) | set(entry["accepts"])
        for name in fields:
            assert name in inputs or f"{name}[day]" in inputs, (entry["event"], name)
        assert inputs["version"] == str(read["version"])
        assert {CLINICAL_TIME, REASON} <= set(inputs)
        if not entry["allowed"]:
            for reason in entry["reasons"]:
                assert reason in page.text
    assert "The pathway is already P1; give a reason for changing it." in page.text
    for shown in ("Ward 1", "999 000 0018", "Accept", "entered from the ward list"):
        assert shown in page.text  # facts and timeline


def test_a_person_sees_events_their_roles_do_not_allow_as_refused_without_a_form(
    client: TestClient, make_user: Any, team: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    clinician = make_user("ward_clinician", org=team.org)
    page = Page(browser_for(client, clinician.token).get(f"/tracker/cases/{case['id']}").text)
    assert "accept" not in page.events(case["id"])  # discharge_team only
    assert "needs one of the roles: discharge_team" in page.text
    assert "update_details" in page.events(case["id"])


def test_delay_codes_are_the_list_in_force_today_with_their_labels(
    client: TestClient, team: Any, codes: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    api.fire(case["id"], "not_meeting_ctr")
    browser = browser_for(client, team.token)
    page = Page(browser.get(f"/tracker/cases/{case['id']}").text)
    from app.timeutil import london_date, utcnow

    listed = codes.current("delay-reasons-acute", london_date(utcnow()))
    action = f"/tracker/cases/{case['id']}/events/open_delay"
    assert page.selects[action]["delay_code"] == ["", *[e.code for e in listed.codes]]
    assert listed.codes[0].label in page.text


def test_the_page_read_is_in_the_access_audit(
    client: TestClient, team: Any, sessions: sessionmaker[Session]
) -> None:
    case = open_discharge(Api(client, team.headers))
    assert browser_for(client, team.token).get(f"/tracker/cases/{case['id']}").status_code == 200
    with sessions() as db:
        endpoints = db.scalars(
            select(AccessRecord.endpoint)
            .join(AccessRecordCase, AccessRecordCase.record_id == AccessRecord.id)
            .where(
                AccessRecordCase.case_id == case["id"], AccessRecord.user_id == team.actor.user_id
            )
        ).all()
    assert "/tracker/cases/{case_id}" in endpoints


def test_another_organisations_case_is_not_found_and_cannot_be_changed(
    client: TestClient, team: Any, make_user: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    stranger = browser_for(client, make_user("discharge_team").token)
    r = stranger.get(f"/tracker/cases/{case['id']}")
    assert r.status_code == 404
    assert "Ward 1" not in r.text
    r = post(stranger, case["id"], "accept", {"version": "1", "pathway": "P2"})
    assert r.status_code == 404
    assert api.get(case["id"]).json()["version"] == 1


def test_any_workflow_gets_its_case_page(client: TestClient, make_user: Any) -> None:
    """The sample referral has no template of its own: its forms come from its pathway file."""
    coordinator = make_user("ic_coordinator")
    api = Api(client, coordinator.headers)
    case = api.create(SAMPLE, data={"priority": "urgent"}).json()
    browser = browser_for(client, coordinator.token)
    page = Page(browser.get(f"/tracker/cases/{case['id']}").text)
    assert page.events(case["id"]) == {"triage", "withdraw"}
    action = f"/tracker/cases/{case['id']}/events/triage"
    assert page.selects[action]["priority"] == ["", "routine", "urgent"]
    r = post(
        browser, case["id"], "triage", {"version": "1", "priority": "routine", "triage_note": "ok"}
    )
    assert r.status_code == 303
    history = api.history(case["id"])
    assert (history[-1]["event"], history[-1]["data"]) == (
        "triage",
        {"priority": "routine", "triage_note": "ok"},
    )


# -- recording -------------------------------------------------------------------------------


def test_recording_goes_through_the_api_use_case_and_comes_back_with_a_banner(
    client: TestClient, team: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    browser = browser_for(client, team.token)
    form = Page(browser.get(f"/tracker/cases/{case['id']}").text).form(case["id"], "accept")
    form.update(
        {
            "pathway": "P2",
            "expected_discharge_date[day]": "20",
            "expected_discharge_date[month]": "1",
            "expected_discharge_date[year]": "2026",
            CLINICAL_TIME: "2026-01-06T10:30",
            REASON: "recorded after the board round",
        }
    )
    r = post(browser, case["id"], "accept", form)
    assert r.status_code == 303
    assert r.headers["location"] == f"/tracker/cases/{case['id']}?recorded=accept"
    assert "Recorded: Accept" in browser.get(r.headers["location"]).text
    event = api.history(case["id"])[-1]
    assert event["event"] == "accept"
    assert event["data"] == {"pathway": "P2", "expected_discharge_date": "2026-01-20"}
    assert event["occurred_at"] == "2026-01-06T10:30:00Z"  # GMT in January
    assert (event["reason"], event["backdated"]) == ("recorded after the board round", True)
    assert event["actor"]["username"] == team.actor.username


def test_form_errors_answer_422_with_a_summary_and_write_nothing(
    client: TestClient, team: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    api.fire(case["id"], "not_meeting_ctr")
    browser = browser_for(client, team.token)
    form = Page(browser.get(f"/tracker/cases/{case['id']}").text).form(case["id"], "open_delay")
    form.update({"delay_note": "waiting on a bed", CLINICAL_TIME: "2026-01-07T09:00"})
    r = post(browser, case["id"], "open_delay", form)
    assert r.status_code == 422
    page = Page(r.text)
    assert "There is a problem" in r.text
    assert 'href="#open_delay-delay_code"' in r.text
    assert "Select delay code" in r.text
    assert "Enter why this is recorded more than 15 minutes after it happened" in r.text
    assert f'href="#open_delay-{REASON}"' in r.text
    assert re.search(r"<title>\s*Error: ", r.text)
    # What was typed is shown again, and the version is still the one the person read.
    again = page.form(case["id"], "open_delay")
    assert again["delay_note"] == "waiting on a bed"
    assert again[CLINICAL_TIME] == "2026-01-07T09:00"
    assert again["version"] == form["version"]
    assert api.get(case["id"]).json()["version"] == int(form["version"])


def test_the_engines_own_refusals_are_shown_and_write_nothing(
    client: TestClient, team: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    api.fire(case["id"], "accept", data={"pathway": "P1"})
    browser = browser_for(client, team.token)
    form = Page(browser.get(f"/tracker/cases/{case['id']}").text).form(case["id"], "set_pathway")
    form["pathway"] = "P3"
    r = post(browser, case["id"], "set_pathway", form)  # a change needs a reason (a rule)
    assert r.status_code == 409
    assert "The pathway is already P1; give a reason for changing it." in r.text
    assert 'href="#event-set_pathway"' in r.text
    assert api.get(case["id"]).json()["attributes"]["pathway"] == "P1"
    form[REASON] = "needs a care home bed"
    assert post(browser, case["id"], "set_pathway", form).status_code == 303
    assert api.get(case["id"]).json()["attributes"]["pathway"] == "P3"
    # A clinical time before the admission: the engine's time rule, next to the time input.
    form = Page(browser.get(f"/tracker/cases/{case['id']}").text).form(case["id"], "update_details")
    form.update({"ward": "Ward 9", CLINICAL_TIME: "2026-01-01T09:00", REASON: "late"})
    r = post(browser, case["id"], "update_details", form)
    assert r.status_code == 422
    assert f'href="#update_details-{CLINICAL_TIME}"' in r.text
    floor = "must not be before 5 January 2026, 09:00 (start of the hospital spell)"
    assert f"The time it happened {floor}" in r.text
    assert api.get(case["id"]).json()["attributes"]["ward"] == "Ward 1"


def test_an_event_the_persons_roles_do_not_allow_is_refused(
    client: TestClient, team: Any, make_user: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    clinician = browser_for(client, make_user("ward_clinician", org=team.org).token)
    r = post(clinician, case["id"], "accept", {"version": "1", "pathway": "P1"})
    assert r.status_code == 403
    assert "needs one of the roles: discharge_team" in r.text
    assert api.get(case["id"]).json()["version"] == 1


def test_a_stale_version_shows_what_changed_and_offers_the_same_form_again(
    client: TestClient, team: Any, make_user: Any
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    api.fire(case["id"], "not_meeting_ctr")
    browser = browser_for(client, team.token)
    form = Page(browser.get(f"/tracker/cases/{case['id']}").text).form(case["id"], "open_delay")
    read_version = int(form["version"])
    # Someone else records an escalation in between.
    colleague = make_user("discharge_team", org=team.org)
    Api(client, colleague.headers).fire(
        case["id"], "raise_escalation", data={"escalation_reason": "no P1 capacity this week"}
    )
    form.update({"delay_code": "hospital-therapy-review", "delay_note": "therapy on Monday"})
    r = post(browser, case["id"], "open_delay", form)

    assert r.status_code == 409
    assert "This case was changed while you were working on it." in r.text
    assert (
        f"version {read_version} when you read it and is now at version {read_version + 1}"
        in r.text
    )
    assert colleague.actor.username in r.text
    assert "no P1 capacity this week" in r.text
    assert "Raise escalation" in r.text
    assert api.get(case["id"]).json()["attributes"].get("open_delays") in (None, [])
    again = Page(r.text).form(case["id"], "open_delay")
    assert again["delay_code"] == "hospital-therapy-review"
    assert again["delay_note"] == "therapy on Monday"
    assert again["version"] == str(read_version + 1)  # re-applies against the case as it is now
    assert post(browser, case["id"], "open_delay", again).status_code == 303
    assert api.get(case["id"]).json()["attributes"]["open_delays"] == ["hospital-therapy-review"]


def test_a_double_submission_is_recorded_once(client: TestClient, team: Any) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    browser = browser_for(client, team.token)
    form = Page(browser.get(f"/tracker/cases/{case['id']}").text).form(
        case["id"], "raise_escalation"
    )
    form["escalation_reason"] = "waiting 10 days"
    assert post(browser, case["id"], "raise_escalation", form).status_code == 303
    assert post(browser, case["id"], "raise_escalation", form).status_code == 303  # replayed
    events = [e["event"] for e in api.history(case["id"])]
    assert events.count("raise_escalation") == 1


@pytest.mark.parametrize(
    "form",
    [
        {},  # no version at all
        {"version": "abc"},
        {"version": ["3", "4"]},
        {"version": "0"},
    ],
)
def test_a_form_without_a_readable_version_is_refused(
    client: TestClient, team: Any, form: dict[str, Any]
) -> None:
    api = Api(client, team.headers)
    case = open_discharge(api)
    browser = browser_for(client, team.token)
    r = post(browser, case["id"], "accept", {"pathway": "P1", **form})
    assert r.status_code == 422
    assert "did not say which version of the case you read" in r.text
    assert api.get(case["id"]).json()["version"] == 1


def test_an_event_the_pathway_does_not_have_is_not_found(client: TestClient, team: Any) -> None:
    case = open_discharge(Api(client, team.headers))
    r = post(browser_for(client, team.token), case["id"], "no_such_event", {"version": "1"})
    assert r.status_code == 404
