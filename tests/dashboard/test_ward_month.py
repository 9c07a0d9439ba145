"""The returns a manager signs, end to end over a hand-built ward month (tests/dashboard/
ward_month.py): the monthly DRD return, the daily and weekly acute returns, the patient-level
extract and each case's DRD bucket, with every figure worked out by hand below."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.codelists.loader import CodeSetRegistry
from app.config import PROJECT_ROOT, Settings
from app.dashboard.drd_return import COLUMNS
from app.main import create_app
from app.timeutil import utcnow
from tests.dashboard.ward_month import NHS, ROLES, Month, get, month_for


@pytest.fixture(scope="module")
def month(client: TestClient, make_user_module, sessions: sessionmaker[Session]) -> Month:  # noqa: ANN001
    return month_for(client, make_user_module, sessions)


def _csv(r: Any) -> list[dict[str, str]]:
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(r.text)))


def test_the_monthly_drd_return(client: TestClient, month: Month) -> None:
    """The DRD cohort is the discharges of stays of one night or more ("should ideally be
    completed for all inpatients with a stay of one night or longer"); a discharge without a
    DRD is outside it, not a 0-day delay (PUBLISHED-RULES.md rows 12 and 14)."""
    _, _, user = month
    body = get(client, user, "/dashboard/exports/drd-monthly.json", month="2026-11").json()
    row = body["row"]
    assert list(row) == COLUMNS
    # November's discharges: P1 (4 days), P2 (0), P3 (same-day stay: outside), P4 (no DRD:
    # outside), P5 (DRD the start of its final period, 4 Nov: 9 days), P6 (25 Oct: 26 days).
    # P7 is still in; P8 died. Cohort: P1, P2, P5, P6. Bed days 4 + 0 + 9 + 26 = 39.
    assert row["Month"] == "2026-11"
    assert row["Organisation"] == user.org
    assert row["Total # of patients discharged"] == 4
    assert row["Total bed days lost to DD"] == 39
    assert row["DoD is same as DRD (%)"] == 25.0  # P2
    assert row["DoD is 1+ days after DRD (%)"] == 75.0
    counts = {"No delay": 1, "1 day delay": 0, "2-3 day delay": 0, "4-6 day delay": 1}
    counts |= {"7-13 day delay": 1, "14-20 day delay": 0, "21+ day delay": 1}
    for name, n in counts.items():
        assert row[f"{name} between DoD & DRD (#)"] == n, name
        assert row[f"{name} between DoD & DRD (%)"] == 25.0 * n, name
    within = {"1 day": (0.0, 0), "2-3 days": (0.0, 0), "4-6 days": (33.33, 4)}
    within |= {"7-13 days": (33.33, 9), "14-20 days": (0.0, 0), "21 days or more": (33.33, 26)}
    for name, (share, bed_days) in within.items():
        assert row[f"Patients delayed but discharged within {name} (%)"] == share, name
        assert row[f"Total bed days after DRD for patients discharged within {name}"] == bed_days
    assert row["Average days from DRD to DoD (inc 0-day delays)"] == 9.75  # 39 / 4
    assert row["Average days from DRD to DoD (exc 0-day delays)"] == 13.0  # 39 / 3
    assert body["local"] == {
        "discharges_all": 6,
        "outside_drd_cohort": {"under_one_night": 1, "no_drd": 1},
    }
    assert body["final"] is True
    # The CSV is the same row.
    (line,) = _csv(get(client, user, "/dashboard/exports/drd-monthly.csv", month="2026-11"))
    assert list(line) == COLUMNS
    assert line["Total bed days lost to DD"] == "39"
    assert line["Average days from DRD to DoD (exc 0-day delays)"] == "13.0"


def test_the_month_is_checked(client: TestClient, month: Month) -> None:
    _, _, user = month
    for bad in ("2026-13", "November", "2026-1"):
        r = client.get(
            "/api/v1/dashboard/exports/drd-monthly.json",
            params={"month": bad},
            headers=user.headers,
        )
        assert r.status_code == 422, (bad, r.text)
    r = client.get(
        "/api/v1/dashboard/exports/drd-monthly.csv",
        params={"month": "2999-01"},
        headers=user.headers,
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    # A month with no discharges: no denominators, so no percentages or averages (empty).
    row = get(client, user, "/dashboard/exports/drd-monthly.json", month="2026-09").json()["row"]
    assert row["Total # of patients discharged"] == 0
    assert row["DoD is same as DRD (%)"] is None


def test_the_daily_return(client: TestClient, month: Month) -> None:
    """ "Number of patients discharged" counts the NCTR patients discharged: trusts report NCTR
    patients "and of these, the number of patients discharged … or remaining in hospital"
    (PUBLISHED-RULES.md row 10)."""
    site, _, user = month
    rows = _csv(
        get(
            client,
            user,
            "/dashboard/exports/acute-discharge-daily.csv",
            **{"from": "2026-11-09", "to": "2026-11-13", "site": site},
        )
    )
    nctr = "Number of patients who no longer meet the criteria to reside"
    gone = "Number of patients discharged"
    left = "Number of patients remaining in hospital who no longer meet the criteria to reside"
    got = {r["Date"]: (r[nctr], r[gone], r[left]) for r in rows}
    assert got == {
        # 9th: P1 (discharged NCTR) and P6 (remaining): 1 + 1 = 2.
        "2026-11-09": ("2", "1", "1"),
        # 10th, 11th: only P6.
        "2026-11-10": ("1", "0", "1"),
        "2026-11-11": ("1", "0", "1"),
        # 12th: P2 not meeting from 09:00, discharged 16:00; P6 remains.
        "2026-11-12": ("2", "1", "1"),
        # 13th: P5 left, but meeting the criteria again since the 6th: not an NCTR discharge
        # (the day's figures still count it among all discharges).
        "2026-11-13": ("1", "0", "1"),
    }
    day = get(client, user, "/dashboard/metrics", date="2026-11-13", site=site).json()
    assert (day["discharge"]["discharged"], day["discharge"]["discharged_nctr"]) == (1, 0)


def test_the_weekly_snapshot(client: TestClient, month: Month) -> None:
    """ "Number of additional bed days, patients with length of stay of N days or over": bed days
    lost to delay (since the DRD) of NCTR patients whose length of stay is at least N, a weekly
    snapshot that sits with the delay reasons of LOS 7+ patients (rows 8 and 11)."""
    site, _, user = month
    rows = _csv(
        get(
            client,
            user,
            "/dashboard/exports/acute-discharge-weekly.csv",
            **{"from": "2026-11-02", "to": "2026-11-15", "site": site},
        )
    )
    codes = CodeSetRegistry.from_directory(PROJECT_ROOT / "pathways" / "codelists")
    found = codes.lookup("delay-reasons-acute", "capacity-p1-services", utcnow().date())
    assert found is not None
    label = found.label
    beds = "Number of additional bed days, patients with length of stay of {} days or over"
    got = [(r["Period"], r["Metric Group"], r["Metric"], r["Value"]) for r in rows]
    assert got == [
        # End of Sunday 8 Nov: P1 (LOS 6, 3 days since DRD) is under 7 days; P6 (LOS 19, DRD
        # 25 Oct: 14 days) counts for 7+ and 14+; nobody has 21+ days. P5 meets the criteria.
        ("2026-11-08", "Additional bed days", beds.format(7), "14"),
        ("2026-11-08", "Additional bed days", beds.format(14), "14"),
        ("2026-11-08", "Additional bed days", beds.format(21), "0"),
        ("2026-11-08", "Delay reason LOS 7+", label, "1"),
        ("2026-11-08", "Delay reason LOS 7+", "No delay reason recorded", "0"),
        # End of Sunday 15 Nov: P6 alone (LOS 26, 21 days since the DRD).
        ("2026-11-15", "Additional bed days", beds.format(7), "21"),
        ("2026-11-15", "Additional bed days", beds.format(14), "21"),
        ("2026-11-15", "Additional bed days", beds.format(21), "21"),
        ("2026-11-15", "Delay reason LOS 7+", label, "1"),
        ("2026-11-15", "Delay reason LOS 7+", "No delay reason recorded", "0"),
    ]
    assert {r["Site"] for r in rows} == {site}


def test_the_patient_level_extract(client: TestClient, month: Month) -> None:
    """One row per spell in hospital at any time of the day, with the Commissioning Data Set
    item "Discharge Ready Date (Hospital Provider Spell)"."""
    site, ids, user = month
    body = get(client, user, "/dashboard/exports/spells.json", date="2026-11-13", site=site).json()
    # In hospital on the 13th: P5 (left 11:00) and P6. P2 left on the 12th, P7 came on the 25th.
    by_case = {row["case_id"]: row for row in body["items"]}
    assert set(by_case) == {ids["P5"], ids["P6"]}
    p5, p6 = by_case[ids["P5"]], by_case[ids["P6"]]
    assert p5["nhs_number"] == NHS["P5"]
    # "For finished episodes of care, the Discharge Ready Date should record the start date of
    # the final period that the patient no longer met the 'Criteria to Reside'": 4 Nov.
    assert p5["discharge_ready_date"] == "2026-11-04"
    assert p5["not_meeting_ctr_at_end"] is False  # met the criteria again when discharged
    assert (p5["exit"], p5["length_of_stay_days"], p5["days_since_drd"]) == ("discharged", 12, 9)
    assert (p5["drd_cohort"], p5["destination_code"]) == ("7-13", "19")
    assert p5["delays"] == []
    assert p6["discharge_ready_date"] == "2026-10-25"
    assert (p6["exit"], p6["length_of_stay_days"], p6["days_since_drd"]) == (None, 24, 19)
    assert (p6["planned_pathway"], p6["discharge_pathway"]) == ("P1", None)
    assert p6["drd_cohort"] == "not discharged"
    assert p6["primary_reason_code"] == "capacity-p1-services"
    assert [(d["code"], d["started_at"], d["ended_at"], d["primary"]) for d in p6["delays"]] == [
        ("capacity-p1-services", "2026-10-26T10:00:00Z", None, True)
    ]
    # The CSV has the same rows.
    rows = _csv(get(client, user, "/dashboard/exports/spells.csv", date="2026-11-13", site=site))
    assert sorted((r["case_id"], r["nhs_number"], r["drd_cohort"]) for r in rows) == sorted(
        [(str(ids["P5"]), NHS["P5"], "7-13"), (str(ids["P6"]), NHS["P6"], "not discharged")]
    )
    # 20 Nov: P6's discharge (P1 pathway) and the delay it closed; P7 not yet admitted.
    day = get(client, user, "/dashboard/exports/spells.json", date="2026-11-20", site=site)
    p6 = {r["case_id"]: r for r in day.json()["items"]}[ids["P6"]]
    assert (p6["exit"], p6["discharge_pathway"], p6["drd_cohort"]) == ("discharged", "P1", "21+")
    assert p6["delays"][0]["ended_at"] == "2026-11-20T12:00:00Z"
    assert p6["primary_reason_code"] == "capacity-p1-services"


def test_each_case_names_its_drd_bucket(client: TestClient, month: Month) -> None:
    _, ids, user = month

    def cohort(name: str) -> dict[str, Any]:
        return dict(get(client, user, f"/cases/{ids[name]}/discharge").json()["drd_cohort"])

    assert cohort("P1") | {} == {
        "in_cohort": True,
        "delay_days": 4,
        "bucket": "4-6",
        "bucket_name": "4-6 day delay between DoD & DRD",
        "not_in_cohort_because": None,
        "explanation": None,
    }
    assert (cohort("P2")["bucket"], cohort("P5")["bucket"], cohort("P6")["bucket"]) == (
        "0",
        "7-13",
        "21+",
    )
    assert cohort("P3")["not_in_cohort_because"] == "under_one_night"
    assert cohort("P4")["not_in_cohort_because"] == "no_drd"
    assert "one night or longer" in cohort("P4")["explanation"]
    assert cohort("P7")["not_in_cohort_because"] == "not_discharged"
    assert cohort("P8")["not_in_cohort_because"] == "not_discharged"
    assert "other than by discharge" in cohort("P8")["explanation"]


def test_who_reads_the_extract(client: TestClient, make_user, month: Month) -> None:  # noqa: ANN001
    """Patient-level data with NHS numbers: the `rfd.read` grant (an analyst gets the rows
    without NHS numbers), and every read is in the access audit with the cases it showed."""
    site, ids, user = month
    params = {"date": "2026-11-13", "site": site}
    analyst = make_user("analyst", org=user.org)
    body = get(client, analyst, "/dashboard/exports/spells.json", **params).json()
    assert {r["nhs_number"] for r in body["items"]} == {None}
    assert body["count"] == 2
    rows = _csv(get(client, analyst, "/dashboard/exports/spells.csv", **params))
    assert {r["nhs_number"] for r in rows} == {""}
    for roles in (("ig_officer",), ("chc_assessor",), ("provider",)):
        other = make_user(*roles, org=user.org)
        r = client.get("/api/v1/dashboard/exports/spells.csv", params=params, headers=other.headers)
        assert r.status_code == 403, roles
    # Another organisation sees none of these spells.
    stranger = make_user(*ROLES)
    assert get(client, stranger, "/dashboard/exports/spells.json", **params).json()["count"] == 0
    officer = make_user("ig_officer", org=user.org)
    audit = get(client, officer, "/audit", user=analyst.actor.username).json()["items"]
    assert {(a["endpoint"], tuple(sorted(a["case_ids"]))) for a in audit} == {
        ("/api/v1/dashboard/exports/spells.json", tuple(sorted([ids["P5"], ids["P6"]]))),
        ("/api/v1/dashboard/exports/spells.csv", tuple(sorted([ids["P5"], ids["P6"]]))),
    }


def test_the_pathway_shares_carry_the_bolton_caveat(
    settings: Settings, client: TestClient, month: Month
) -> None:
    """PUBLISHED-RULES.md row 21: the 50/45/4/1 shares are "(Adapted from John Bolton model for
    persons aged 65 and over, and when used across all 18+ age groups, it is expected that a
    greater percentage than detailed will be allocated to pathways 0 and 1.)"."""
    _, _, user = month
    app = create_app(settings)
    try:
        with TestClient(app) as browser:
            browser.headers["Origin"] = "http://testserver"
            login = browser.post(
                "/sign-in/token", data={"token": user.token}, follow_redirects=False
            )
            assert login.status_code == 303, login.text
            page = browser.get("/dashboard", params={"date": "2026-11-20"})
            assert page.status_code == 200
            text = " ".join(page.text.split())
            assert (
                "Adapted from John Bolton model for persons aged 65 and over, and when used across"
                " all 18+ age groups, it is expected that a greater percentage than detailed will"
                " be allocated to pathways 0 and 1." in text
            )
            assert 'id="tile-discharged">1</span>discharged (all)' in text
    finally:
        app.state.sessions.kw["bind"].dispose()
