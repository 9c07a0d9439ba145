"""Event data the database or the calendar cannot hold is a 422 naming the field, never a 500:
integers beyond a signed 64-bit column, date-times beyond the calendar once in UTC, and dates
and date-times so near the calendar's ends that a time-zone change or a few days' arithmetic
would fall off it. One rule in the engine's field typing covers every pathway's fields."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS, TEAM
from tests.helpers import Api
from tests.ic.helpers import IC_TEAM, Ic, fresh_site

BIGINT_MAX = 2**63 - 1


def _ready(ic: Ic, nhs: str) -> int:
    cid = int(ic.refer(nhs)["id"])
    ic.fire(cid, "triage", priority="high", planned_model="bed_based_ic")
    return cid


@pytest.mark.parametrize("service_id", [BIGINT_MAX + 1, 10**30])
def test_an_ic_start_with_a_service_id_beyond_bigint_is_422(
    client: TestClient, make_user, service_id: int
) -> None:
    ic = Ic(client, make_user(*IC_TEAM).headers, fresh_site())
    cid = _ready(ic, NHS[0])
    r = ic.fire(cid, "start_bed_based_ic", service_id=service_id, expect=422)
    assert r["code"] == "validation_failed"
    assert r["errors"] == [{"field": "service_id", "problem": f"must be at most {BIGINT_MAX}"}]
    assert ic.case(cid)["state"] == "triaged"


def test_an_integer_beyond_bigint_is_422_when_opening(client: TestClient, make_user) -> None:
    ic = Ic(client, make_user(*IC_TEAM).headers, fresh_site())
    r = ic.refer(NHS[1], previous_episode_id=BIGINT_MAX + 1, expect=422)
    assert r["errors"] == [
        {"field": "previous_episode_id", "problem": f"must be at most {BIGINT_MAX}"}
    ]
    # The largest that fits is an ordinary value.
    opened = ic.refer(NHS[1], previous_episode_id=BIGINT_MAX)
    assert opened["attributes"]["previous_episode_id"] == BIGINT_MAX


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:00:00-05:00",  # past the calendar once in UTC
        "0001-01-01T00:30:00+01:00",  # before it once in UTC
        "9999-12-31T12:00:00Z",  # the 91-day follow-up would fall off the calendar
    ],
)
def test_an_ic_date_time_beyond_the_calendar_is_422(
    client: TestClient, make_user, value: str
) -> None:
    ic = Ic(client, make_user(*IC_TEAM).headers, fresh_site())
    r = ic.refer(NHS[2], direction="step_down", hospital_discharge_at=value, expect=422)
    assert r["errors"] == [
        {
            "field": "hospital_discharge_at",
            "problem": "must be between 1900-01-01 and 2199-12-31",
        }
    ]


def test_a_discharge_admitted_on_the_first_day_of_the_calendar_is_422(
    client: TestClient, make_user
) -> None:
    """London time on 1 January of year 1 is in year 0: the spell read model failed on it."""
    api = Api(client, make_user(*TEAM).headers)
    data = {"hospital_system": "LUHFT", "ward": "Ward 7", "admitted_at": "0001-01-01T00:00:00Z"}
    r = api.create("discharge", site="AINTREE", patient_ref=NHS[3], data=data, expect=422)
    assert r.json()["errors"] == [
        {"field": "admitted_at", "problem": "must be between 1900-01-01 and 2199-12-31"}
    ]


def test_a_chc_date_near_the_end_of_the_calendar_is_422(client: TestClient, make_user) -> None:
    api = Api(client, make_user("chc_assessor").headers)
    r = api.create(
        "chc",
        site="SEFTON",
        patient_ref=NHS[4],
        data={"referral_date": "9999-12-31"},
        expect=422,
    )
    assert {"field": "referral_date", "problem": "must be between 1900-01-01 and 2199-12-31"} in (
        r.json()["errors"]
    )


def test_a_clinical_time_at_the_start_of_the_calendar_is_422(client: TestClient, make_user) -> None:
    ic = Ic(client, make_user(*IC_TEAM).headers, fresh_site())
    body = {
        "workflow": "intermediate_care",
        "site": ic.site,
        "patient_ref": NHS[5],
        "occurred_at": "0001-01-01T00:00:00Z",
        "reason": "entered from the paper referral",
        "data": {"direction": "step_up", "referrer": "gp"},
    }
    r = client.post("/api/v1/cases", headers=ic.headers, json=body)
    # Refused by the body's own checks, before the engine's time policy sees it.
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert "occurred_at" in str(r.json()["errors"])
