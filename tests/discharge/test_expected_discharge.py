"""The expected discharge date (issue 17, item 1): set on admission, changed only with a reason,
its history kept in the events; per case and in the day's figures (inpatients with an EDD, those
past it, how far discharges landed from the first EDD)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS, TEAM, facts, fire, london, open_case, today
from tests.helpers import Api

ROLES = (*TEAM, "manager")


def _day(days: int) -> str:
    return (today() + timedelta(days=days)).isoformat()


def _edd(client: TestClient, api: Api, site: str, **params: Any) -> dict[str, Any]:
    r = client.get(
        "/api/v1/dashboard/metrics", params={"site": site, **params}, headers=api.headers
    )
    assert r.status_code == 200, r.text
    return dict(r.json()["discharge"]["expected_discharge"])


def test_a_change_needs_a_reason_and_the_history_says_why(client: TestClient, make_user) -> None:
    api = Api(client, make_user(*ROLES).headers)
    site = f"EDD-{uuid.uuid4().hex[:6].upper()}"
    case = open_case(api, NHS[0], site=site, admitted_days_ago=3, expected_discharge_date=_day(-1))
    etag = api.get(case["id"]).headers["ETag"]
    # Changing a set EDD without a reason is refused, with a body that says why.
    refused = api.fire(
        case["id"],
        "update_details",
        etag=etag,
        expect=409,
        data={"expected_discharge_date": _day(2)},
    ).json()
    assert refused["code"] == "guard_rejected", refused
    assert "give a reason" in refused["detail"]
    # The same date again, or another detail, needs none.
    api.fire(case["id"], "update_details", data={"expected_discharge_date": _day(-1), "bed": "4"})
    fire(
        api,
        case["id"],
        "update_details",
        reason="package start moved by the provider",
        data={"expected_discharge_date": _day(2)},
    )
    edd = facts(api, case["id"])["expected_discharge"]
    assert (edd["current"], edd["first"], edd["missed"]) == (_day(2), _day(-1), False)
    assert edd["landed_days_from_first"] is None  # still in hospital
    assert [(h["expected_discharge_date"], h["reason"]) for h in edd["history"]] == [
        (_day(-1), "referral entered from the ward"),
        (_day(-1), None),
        (_day(2), "package start moved by the provider"),
    ]


def test_the_days_figures_of_expected_discharge_dates(client: TestClient, make_user) -> None:
    """Three patients admitted four days ago: A expected yesterday, moved (with a reason, two days
    ago) to the day after tomorrow; B expected yesterday and still in; C expected two days ago
    and discharged yesterday, a day later than first planned."""
    api = Api(client, make_user(*ROLES).headers)
    site = f"EDD-{uuid.uuid4().hex[:6].upper()}"
    a = open_case(api, NHS[1], site=site, admitted_days_ago=4, expected_discharge_date=_day(-1))
    open_case(api, NHS[2], site=site, admitted_days_ago=4, expected_discharge_date=_day(-1))
    c = open_case(api, NHS[3], site=site, admitted_days_ago=4, expected_discharge_date=_day(-2))
    fire(
        api,
        a["id"],
        "update_details",
        occurred_at=london(2, 10),
        reason="waiting for a care home bed",
        data={"expected_discharge_date": _day(2)},
    )
    fire(api, c["id"], "not_meeting_ctr", days_ago=2)
    fire(
        api,
        c["id"],
        "discharge",
        occurred_at=london(1, 14),
        reason="entered from the discharge letter",
        data={"discharge_pathway": "P0", "destination_code": "19"},
    )
    assert facts(api, c["id"])["expected_discharge"]["landed_days_from_first"] == 1

    # Yesterday (stored): A (EDD the day after tomorrow) and B (EDD yesterday: not before the
    # day) are in; C left a day after its first EDD.
    yesterday = _edd(client, api, site, date=_day(-1))
    assert yesterday == {
        "inpatients_with_edd": 2,
        "inpatients_with_edd_percent": 100.0,
        "inpatients_past_edd": 0,
        "discharges_from_first_edd": {
            "earlier": 0,
            "on_the_day": 0,
            "1": 1,
            "2-3": 0,
            "4-7": 0,
            "8+": 0,
        },
        "discharges_without_edd": 0,
        "discharges_average_days_from_first_edd": 1.0,
    }
    # Two days ago at 09:00, before A's change, all three were in; C's EDD was that day.
    morning = _edd(client, api, site, date=_day(-2), at="09:00")
    assert (morning["inpatients_with_edd"], morning["inpatients_past_edd"]) == (3, 0)
    # Today (the spell read model): B is past its EDD; A is not.
    now = _edd(client, api, site)
    assert (now["inpatients_with_edd"], now["inpatients_past_edd"]) == (2, 1)
    assert now["discharges_from_first_edd"]["1"] == 0  # C left yesterday, not today
