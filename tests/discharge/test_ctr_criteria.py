"""Criteria to reside recorded as codes (issue 16, PUBLISHED-RULES.md row 20), and the date of
birth, on the discharge pathway (version 3).

The 2020 list (Hospital Discharge Service: Policy and Operating Model, Annex A): "Every person on
every general ward should be reviewed on a twice daily ward round against the following clinical
criteria: Requiring ITU or HDU care? Requiring oxygen therapy/NIV? Requiring intravenous fluids?
…". `meets_ctr_again` may say which criteria the patient meets (`ctr_criteria_met`), checked
against the list in force on the event's day; the ward sees them on the tracker and the case page
until the patient next stops meeting the criteria.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS, TEAM, fire, london, open_case, today
from tests.helpers import Api

SIGN_IN_ORIGIN = {"Origin": "http://testserver"}
OXYGEN = "Requiring oxygen therapy/NIV?"
FLUIDS = "Requiring intravenous fluids?"


def _site() -> str:
    return f"CTR{uuid.uuid4().hex[:8].upper()}"


def _browser(client: TestClient, token: str) -> TestClient:
    b = TestClient(client.app)
    b.headers.update(SIGN_IN_ORIGIN)
    r = b.post("/sign-in/token", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return b


def _attributes(api: Api, case_id: int) -> dict[str, Any]:
    return dict(api.get(case_id).json()["attributes"])


def test_criteria_met_are_recorded_shown_and_cleared(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    site = _site()
    case_id = int(open_case(api, NHS[0], site=site)["id"])
    fire(api, case_id, "not_meeting_ctr", days_ago=4)
    fire(
        api,
        case_id,
        "meets_ctr_again",
        days_ago=2,
        data={"ctr_criteria_met": ["oxygen-niv", "iv-fluids"], "ctr_note": "spiked a temp"},
    )
    assert _attributes(api, case_id)["ctr_criteria_met"] == ["oxygen-niv", "iv-fluids"]
    recorded = next(e for e in api.history(case_id) if e["event"] == "meets_ctr_again")
    # The code and the list version in force that day are both kept (docs/domain.md §5.5).
    assert recorded["data"]["_codelists"]["ctr_criteria_met"] == "criteria-to-reside@2020"

    browser = _browser(client, team.token)
    tracker = browser.get("/tracker", params={"site": site})
    assert tracker.status_code == 200
    assert f"Meets: {OXYGEN}; {FLUIDS}" in tracker.text.replace("&#39;", "'")
    page = browser.get(f"/tracker/cases/{case_id}")
    assert page.status_code == 200
    assert f"{OXYGEN} (oxygen-niv); {FLUIDS} (iv-fluids)" in page.text

    # No longer meeting the criteria: the recorded criteria no longer describe the patient.
    fire(api, case_id, "not_meeting_ctr", days_ago=1)
    assert _attributes(api, case_id).get("ctr_criteria_met") is None
    tracker = browser.get("/tracker", params={"site": site})
    assert OXYGEN not in tracker.text
    assert "Not meeting since" in tracker.text
    # The form of "meets CtR again" offers the criteria as checkboxes, labelled with the
    # published questions.
    page = browser.get(f"/tracker/cases/{case_id}")
    assert 'type="checkbox"' in page.text
    assert 'name="ctr_criteria_met"' in page.text
    assert "Undergone thorax-abdominal/pelvic surgery with 72 hrs?" in page.text


def test_the_tracker_api_row_names_the_criteria(client: TestClient, make_user) -> None:
    """The tracker's rows (app.discharge.tracker) carry each criterion's code and label."""
    from app.auth.access import Grant
    from app.discharge.tracker import TrackerQuery, tracker_page, vocabulary
    from app.timeutil import utcnow

    team = make_user(*TEAM)
    api = Api(client, team.headers)
    site = _site()
    case_id = int(open_case(api, NHS[1], site=site)["id"])
    fire(api, case_id, "not_meeting_ctr", days_ago=3)
    fire(api, case_id, "meets_ctr_again", days_ago=1, data={"ctr_criteria_met": ["itu-hdu"]})
    state = client.app.state  # type: ignore[attr-defined]
    with state.sessions() as session:
        page = tracker_page(
            session,
            TrackerQuery(site=site),
            organisation=team.org,
            grant=Grant("rfd.read", "full"),
            vocab=vocabulary(state.engine.catalogue),
            codes=state.codes,
            now=utcnow(),
        )
    (row,) = page.rows
    assert row.meets_criteria
    assert [(c.code, c.label) for c in row.criteria_met] == [
        ("itu-hdu", "Requiring ITU or HDU care?")
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (["no-such-criterion"], "not a current code in criteria-to-reside"),
        ([], "at least one code"),
        (["itu-hdu", "itu-hdu"], "twice"),
        ("itu-hdu", "must be a list of codes"),
        ([1], "must be a list of codes"),
    ],
)
def test_criteria_must_be_codes_of_the_list_in_force(
    client: TestClient, make_user, value: Any, problem: str
) -> None:
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    case_id = int(open_case(api, NHS[2], site=_site())["id"])
    fire(api, case_id, "not_meeting_ctr", days_ago=2)
    r = api.fire(case_id, "meets_ctr_again", expect=422, data={"ctr_criteria_met": value})
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == ["ctr_criteria_met"]
    assert problem in errors[0]["problem"]
    assert api.get(case_id).json()["state"] == "ready_for_discharge"  # nothing was recorded


def test_criteria_are_not_accepted_when_the_patient_stops_meeting_them(
    client: TestClient, make_user
) -> None:
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    case_id = int(open_case(api, NHS[3], site=_site())["id"])
    r = api.fire(case_id, "not_meeting_ctr", expect=422, data={"ctr_criteria_met": ["itu-hdu"]})
    assert r.json()["errors"][0]["problem"] == "not accepted by this event"


def test_date_of_birth_is_kept_and_never_in_the_future(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    case_id = int(open_case(api, NHS[4], site=_site(), date_of_birth="1941-02-28")["id"])
    assert _attributes(api, case_id)["date_of_birth"] == "1941-02-28"
    # Corrected later, by the ward or the PAS.
    fire(api, case_id, "update_details", data={"date_of_birth": "1941-03-01"})
    assert _attributes(api, case_id)["date_of_birth"] == "1941-03-01"
    tomorrow = (today() + timedelta(days=2)).isoformat()
    r = api.fire(case_id, "update_details", expect=422, data={"date_of_birth": tomorrow})
    assert r.json()["errors"][0]["field"] == "date_of_birth"
    assert "must not be after the event's date" in r.json()["errors"][0]["problem"]
    # A backdated event is checked against its own day, not today.
    r = api.fire(
        case_id,
        "update_details",
        expect=422,
        data={"date_of_birth": (today() - timedelta(days=1)).isoformat()},
        occurred_at=london(3),
        reason="entered late",
    )
    assert _attributes(api, case_id)["date_of_birth"] == "1941-03-01"
