"""The national-return exports: a known day and a known quarter, checked by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient

from app.dashboard.repository import DashboardRepository
from app.db import UnitOfWork
from app.models import MetricSnapshot
from tests.chc.helpers import TEAM, ChcApi, checklist, dst
from tests.dashboard.known_day import build

WHY = "entered from the CSU spreadsheet"


def _csv(r) -> list[dict[str, str]]:  # noqa: ANN001
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(r.text)))


def test_acute_daily_return(client: TestClient, make_user) -> None:
    user = make_user("discharge_team", "ward_clinician", "huddle_chair", "manager")
    site, _ = build(client, user.headers)
    r = client.get(
        "/api/v1/dashboard/exports/acute-discharge-daily.csv",
        params={"from": "2026-03-28", "to": "2026-03-29", "site": site},
        headers=user.headers,
    )
    rows = _csv(r)
    nctr = "Number of patients who no longer meet the criteria to reside"
    remaining = "Number of patients remaining in hospital who no longer meet the criteria to reside"
    # The additional bed days are a weekly snapshot (PUBLISHED-RULES.md row 11: "A weekly
    # snapshot group that sits with the delay reasons"), no longer daily columns: the old
    # daily Σ(LOS − N) over all inpatients was not the national figure.
    assert list(rows[0]) == [
        "Date",
        "Hospital system",
        "Site",
        nctr,
        "Number of patients discharged",
        remaining,
        # HomeFirst's own, after the national columns: which figures each row gives.
        "Figures",
        "Restated at",
    ]
    assert {(row["Figures"], row["Restated at"]) for row in rows} == {("as reported", "")}
    assert [
        (
            row["Date"],
            row["Site"],
            row["Hospital system"],
            row[nctr],
            row["Number of patients discharged"],
            row[remaining],
        )
        for row in rows
    ] == [
        ("2026-03-28", site, "LUHFT", "4", "0", "4"),
        # 29th: A, B and H discharged, each not meeting the criteria when they left (row 10:
        # "the number of patients discharged … or remaining in hospital" of the NCTR ones).
        ("2026-03-29", site, "LUHFT", "6", "3", "2"),
    ]
    r = client.get(
        "/api/v1/dashboard/exports/acute-discharge-daily.csv",
        params={"from": "2026-01-01", "to": "2026-06-01"},
        headers=user.headers,
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")


def _open(api: ChcApi, at: str) -> int:
    return api.open_chc({}, occurred_at=at, reason=WHY)


def _at(api: ChcApi, case_id: int, event: str, at: str, **data) -> None:  # noqa: ANN003
    api.fire(case_id, event, data=data, occurred_at=at, reason=WHY)


def _screened_out(api: ChcApi, opened: str, decided: str) -> None:
    case_id = _open(api, opened)
    _at(api, case_id, "allocate", opened, allocated_to="CSU team B")
    _at(api, case_id, "start_screening", opened)
    _at(api, case_id, "record_checklist", opened, **checklist())
    _at(api, case_id, "screen_out", decided, decision_outcome="not_eligible")


def test_chc_quarterly_collection(client: TestClient, make_user) -> None:
    user = make_user(*TEAM, "manager")
    api = ChcApi(client, user.headers)
    _screened_out(api, "2026-01-10T12:00:00Z", "2026-01-25T12:00:00Z")  # P: 15 days
    _screened_out(api, "2025-12-01T12:00:00Z", "2026-01-20T12:00:00Z")  # Q: 50 days
    _open(api, "2026-02-10T12:00:00Z")  # R: undecided, 21.5 days over at the quarter's end
    _open(api, "2026-03-20T12:00:00Z")  # S: undecided, inside 28 days
    t = _open(api, "2026-02-01T12:00:00Z")  # T: Fast Track
    _at(
        api,
        t,
        "fast_track",
        "2026-02-01T13:00:00Z",
        fast_track_clinician="Dr A Patel",
        fast_track_clinician_profession="registered_medical_practitioner",
    )
    _at(api, t, "accept_fast_track", "2026-02-02T12:00:00Z", decision_outcome="chc_eligible")
    u = _open(api, "2026-01-05T12:00:00Z")  # U: full assessment in hospital, eligible
    _at(api, u, "allocate", "2026-01-05T13:00:00Z", allocated_to="CSU team A")
    _at(api, u, "start_screening", "2026-01-06T12:00:00Z")
    _at(api, u, "record_checklist", "2026-01-07T12:00:00Z", **checklist(breathing="A"))
    _at(api, u, "start_full_assessment", "2026-01-08T12:00:00Z")
    _at(
        api,
        u,
        "record_dst",
        "2026-01-20T12:00:00Z",
        **dst(setting="acute", breathing="priority"),
        acute_exception_reason="end of life",
    )
    _at(api, u, "refer_to_panel", "2026-01-21T12:00:00Z")
    _at(
        api,
        u,
        "record_panel_recommendation",
        "2026-01-27T12:00:00Z",
        panel_recommendation="chc_eligible",
    )
    _at(api, u, "decide", "2026-01-28T12:00:00Z", decision_outcome="chc_eligible")

    r = client.get(
        "/api/v1/dashboard/exports/chc-quarterly.csv",
        params={"fy": 2025, "q": 4},
        headers=user.headers,
    )
    [row] = _csv(r)
    # Published definitions (PUBLISHED-RULES rows 28-29; the CHC rules in full are in
    # tests/chc/test_quarterly_return.py): negative Checklists (P, Q) are not referrals for
    # "full consideration"; Fast Track (T) is reported apart from the standard 28-day figures;
    # "Number eligible" is a snapshot at the quarter's end; the unit is the sub-ICB location.
    assert row == {
        "Quarter": "2025/26 Q4",
        "Sub-ICB location code": "",
        "Sub-ICB location name": "not configured (pathways/config/chc-local.yaml)",
        "Sub-ICB location code verified": "no",
        "HomeFirst organisation": user.org,
        "Number eligible at quarter end": "2",
        "Number eligible at quarter end - standard": "1",
        "Number eligible at quarter end - Fast Track": "1",
        "Number of new referrals": "3",
        "Number of referrals completed": "1",
        "Number of referrals completed within 28 days": "1",
        "Incomplete referrals over 28 days": "1",
        "Incomplete referrals over 28 days - up_to_2_weeks": "0",
        "Incomplete referrals over 28 days - 2_to_4_weeks": "1",
        "Incomplete referrals over 28 days - 4_to_12_weeks": "0",
        "Incomplete referrals over 28 days - 12_to_26_weeks": "0",
        "Incomplete referrals over 28 days - over_26_weeks": "0",
        "Number of assessments completed": "1",
        "Number assessed as eligible": "1",
        "Number assessed as not eligible": "0",
        "Number no longer eligible": "0",
        "Assessment conversion rate (%)": "100.0",
        "Referral conversion rate (%)": "100.0",
        "DSTs completed in acute setting": "1",
        "DSTs completed in non-acute setting": "0",
        "NHS-funded Nursing Care decisions": "0",
        "Fast Track referrals": "1",
        "Fast Track referrals found eligible": "1",
        "Negative Checklists (not referrals for full consideration)": "2",
        "Local requests for review": "0",
        "Reviews recorded as no longer eligible (pathway v1, not a decision)": "0",
    }
    # Another organisation's assessor sees only their own (empty) figures.
    other = make_user(*TEAM)
    [row] = _csv(
        client.get(
            "/api/v1/dashboard/exports/chc-quarterly.csv",
            params={"fy": 2025, "q": 4},
            headers=other.headers,
        )
    )
    assert row["Number of new referrals"] == "0"
    nurse = make_user("discharge_team")
    r = client.get(
        "/api/v1/dashboard/exports/chc-quarterly.csv",
        params={"fy": 2025, "q": 4},
        headers=nurse.headers,
    )
    assert r.status_code == 403


def test_chc_figures_in_the_daily_metrics(client: TestClient, make_user) -> None:
    user = make_user(*TEAM, "manager")
    api = ChcApi(client, user.headers)
    _screened_out(api, "2026-01-10T12:00:00Z", "2026-01-25T12:00:00Z")
    _open(api, "2026-01-25T09:00:00Z")

    def chc(day: str, headers: dict[str, str]) -> dict:
        r = client.get("/api/v1/dashboard/metrics", params={"date": day}, headers=headers)
        assert r.status_code == 200, r.text
        return dict(r.json()["chc"])

    figures = chc("2026-01-25", user.headers)
    assert (figures["available"], figures["organisation"]) == (True, user.org)
    # A negative Checklist is neither a referral for full consideration nor a decision in the
    # 28-day figures (PUBLISHED-RULES row 28): the day's one referral is the case opened on it.
    assert (figures["referrals"], figures["decisions"], figures["decisions_within_28_days"]) == (
        1,
        0,
        0,
    )
    assert figures["decisions_within_28_days_pct"] is None
    assert chc("2026-01-10", user.headers)["referrals"] == 0
    nurse = make_user("discharge_team")
    assert chc("2026-01-25", nurse.headers) == {
        "available": False,
        "reason": "CHC figures need one of the roles: chc_assessor, chc_panel, "
        "chc_decision_maker, broker, manager, admin, analyst",
    }


def test_a_day_stored_under_the_old_definitions_keeps_its_figures_and_leaves_the_new_cells_empty(
    client: TestClient, make_user, sessions
) -> None:  # noqa: ANN001
    """A reported day never changes: a day stored before the national definitions (no
    `definitions` in its figures) is not recomputed, and the returns do not pass its count of
    every discharge off as "Number of patients discharged" (NCTR discharges, row 10)."""
    user = make_user("manager")
    site = "OLD-DEFS"
    old = {
        "nctr_on_day": 5,
        "nctr_remaining": 3,
        "discharged": 4,
        "length_of_stay": {"7_plus": {"patients": 2, "bed_days_beyond": 9}},
        "by_site": [{"hospital_system": "LUHFT", "site": site}],
    }
    at = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    with sessions() as session, UnitOfWork(session):
        DashboardRepository(session).add_snapshot(
            MetricSnapshot(
                day=date(2026, 3, 1),
                site=site,
                organisation=user.org,
                snapshot_at=at,
                computed_at=at,
                payload={"discharge": old},
            )
        )
    params = {"from": "2026-03-01", "to": "2026-03-01", "site": site}
    r = client.get(
        "/api/v1/dashboard/exports/acute-discharge-daily.csv", params=params, headers=user.headers
    )
    (row,) = _csv(r)
    assert row["Number of patients who no longer meet the criteria to reside"] == "5"
    assert row["Number of patients discharged"] == ""
    # 1 March 2026 is a Sunday: its weekly bed days are empty too, and no reasons are made up.
    r = client.get(
        "/api/v1/dashboard/exports/acute-discharge-weekly.csv", params=params, headers=user.headers
    )
    rows = _csv(r)
    assert [(x["Metric Group"], x["Value"]) for x in rows] == [("Additional bed days", "")] * 3
