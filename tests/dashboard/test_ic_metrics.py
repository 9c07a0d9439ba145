"""Intermediate-care figures in the daily metrics and on the dashboard page data."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS, today
from tests.ic.helpers import IC_TEAM, Ic, fresh_site, london_at, make_service


def test_ic_figures_for_a_day(client: TestClient, make_user) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    crisis = make_service(client, user.headers, site=ic.site, model="crisis_response", capacity=4)
    referral = london_at(5, 10)
    for n, minutes in ((0, 60), (1, 150)):  # reached after 1 hour (met) and 2.5 hours (breached)
        case_id = int(ic.refer(NHS[n], at=referral)["id"])
        ic.fire(case_id, "flag_urgent_response", at=referral)
        ic.fire(
            case_id,
            "start_crisis_response",
            at=referral + timedelta(minutes=minutes),
            service_id=crisis["id"],
        )
    day = str(today() - timedelta(days=5))
    r = client.get(
        "/api/v1/dashboard/metrics", params={"date": day, "site": ic.site}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    figures = r.json()["intermediate_care"]
    assert figures["ucr_2_hour"]["within_2_hours"] == {
        "count": 2,
        "met": 1,
        "breached": 1,
        "pending": 0,
        "percent_met": 50.0,
    }
    assert figures["ucr_2_hour"]["meets_standard"] is False
    assert [(o["code"], o["capacity"], o["occupied"]) for o in figures["occupancy"]] == [
        (crisis["code"], 4, 2)
    ]
    # Nothing was referred the day before.
    before = client.get(
        "/api/v1/dashboard/metrics",
        params={"date": str(today() - timedelta(days=6)), "site": ic.site},
        headers=user.headers,
    ).json()["intermediate_care"]
    assert before["ucr_2_hour"]["within_2_hours"]["count"] == 0
