"""The delay ledger over the hand-built November (tests/ledger/month.py), every figure worked
out by hand, on both databases; and its total against the monthly DRD return's."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.ledger.config import LedgerConfig
from tests.dashboard.ward_month import interface_headers
from tests.ledger.month import NHS, TEST_CONFIG, Ward, build_month, get

ROLES = ("discharge_team", "ward_clinician", "huddle_chair", "manager")
NOV = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture(scope="module")
def configured(client: TestClient) -> Iterator[LedgerConfig]:
    before = client.app.state.ledger_config
    client.app.state.ledger_config = TEST_CONFIG
    yield TEST_CONFIG
    client.app.state.ledger_config = before


@pytest.fixture(scope="module")
def month(
    client: TestClient, make_user_module: Any, sessions: sessionmaker[Session], configured: Any
) -> tuple[Any, Ward, Any]:
    user = make_user_module(*ROLES)
    ward = Ward(client, user.headers, interface_headers(sessions, user.org))
    build_month(ward)
    # Another organisation's patient in the same month (on a ward named like a formula).
    other = make_user_module(*ROLES)
    theirs = Ward(client, other.headers, None)
    theirs.admit("F", "2026-11-02T09:00:00Z", ward="=HYPERLINK(1)")
    theirs.fire("F", "not_meeting_ctr", "2026-11-03T10:00:00Z")
    theirs.discharge("F", "2026-11-05T10:00:00Z", "P0")
    return user, ward, other


def _rows(body: dict[str, Any]) -> dict[str, tuple[float, float, int]]:
    return {r["key"]: (r["bed_days"], r["cost"], r["patients"]) for r in body["rows"]}


def test_by_reason_a_pareto_of_the_days_in_the_month(client: TestClient, month: Any) -> None:
    user, _, _ = month
    body = get(client, user.headers, "/summary", by="reason", **NOV).json()
    # capacity-p1-services: A 3, 4, 8, 9 Nov whole and 5-7 Nov half (5.5 at £300 = £1,650);
    # D 26-30 Nov (5 at £400 = £2,000). No reason: B 12, 13 Nov (£600); E 4-8 Nov (£1,500).
    # Bed-based P2: B 14 Nov (£300), 15-17 Nov (£1,200). Medical review: A 1.5 (£450), C 1-2
    # Nov (£600).
    assert [r["key"] for r in body["rows"]] == [
        "capacity-p1-services",
        "no-reason-recorded",
        "capacity-bed-based-services-pathway-2",
        "hospital-medical-review",
    ]
    assert _rows(body) == {
        "capacity-p1-services": (10.5, 3650.0, 2),
        "no-reason-recorded": (7.0, 2100.0, 2),
        "capacity-bed-based-services-pathway-2": (4.0, 1500.0, 1),
        "hospital-medical-review": (3.5, 1050.0, 2),
    }
    assert [r["percent"] for r in body["rows"]] == [42.0, 28.0, 16.0, 14.0]
    assert [r["cumulative_percent"] for r in body["rows"]] == [42.0, 70.0, 86.0, 100.0]
    assert body["rows"][1]["label"] == "no reason recorded"
    assert body["totals"] == {
        "bed_days": 25.0,
        "cost": 8300.0,
        "uncosted_bed_days": 0.0,
        "patients": 5,
    }
    assert [t["version"] for t in body["tariffs"]] == ["t-2026", "t-2026-11"]
    assert body["final"] is True
    assert body["attribution"] == "equal_share"


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        (
            "organisation",
            {
                "LA": (10.5, 3650.0, 2),
                "UNATTRIBUTED": (7.0, 2100.0, 2),
                "COMM": (4.0, 1500.0, 1),
                "ACUTE": (3.5, 1050.0, 2),
            },
        ),
        (
            # C had no planned pathway: its days take the pathway of its discharge (P0); E has
            # neither.
            "pathway",
            {
                "P1": (12.0, 4100.0, 2),
                "P2": (6.0, 2100.0, 1),
                "not recorded": (5.0, 1500.0, 1),
                "P0": (2.0, 600.0, 1),
            },
        ),
        # B moved to Ward 4 at noon on 16 Nov: 16 and 17 Nov (£800) are Ward 4's.
        ("ward", {"Ward 9": (23.0, 7500.0, 5), "Ward 4": (2.0, 800.0, 1)}),
    ],
)
def test_by_organisation_pathway_and_ward(
    client: TestClient, month: Any, by: str, expected: dict[str, Any]
) -> None:
    user, _, _ = month
    body = get(client, user.headers, "/summary", by=by, **NOV).json()
    assert _rows(body) == expected
    assert [r["key"] for r in body["rows"]] == list(expected)


def test_filters_by_ward_and_site(client: TestClient, month: Any) -> None:
    user, ward, _ = month
    body = get(client, user.headers, "/summary", ward="Ward 4", **NOV).json()
    assert body["totals"] == {
        "bed_days": 2.0,
        "cost": 800.0,
        "uncosted_bed_days": 0.0,
        "patients": 1,
    }
    assert (
        get(client, user.headers, "/summary", site=ward.site, **NOV).json()["totals"]["cost"]
        == 8300.0
    )
    assert get(client, user.headers, "/summary", site="NOWHERE", **NOV).json()["rows"] == []


def test_the_total_equals_the_monthly_drd_return(client: TestClient, month: Any) -> None:
    """On the discharges basis the ledger counts what the return counts: all the delayed bed
    days of the month's discharges in the DRD cohort (A 7, B 6, C 6 with four in October, E 5)."""
    user, _, _ = month
    row = client.get(
        "/api/v1/dashboard/exports/drd-monthly.json",
        params={"month": "2026-11"},
        headers=user.headers,
    ).json()["row"]
    body = get(client, user.headers, "/summary", basis="discharges", **NOV).json()
    assert row["Total bed days lost to DD"] == 24
    assert body["totals"]["bed_days"] == 24.0
    # C's October days at £300: 2,100 + 2,100 + 1,800 + 1,500.
    assert body["totals"]["cost"] == 7500.0
    # The same for one ward (the return by the ward the patient left from; the ledger by the
    # ward of each day): Ward 4 is B's last ward, but only two of B's days were spent there.
    assert _rows(
        get(client, user.headers, "/summary", basis="discharges", by="ward", **NOV).json()
    ) == {
        "Ward 9": (22.0, 6700.0, 4),
        "Ward 4": (2.0, 800.0, 1),
    }


def test_drill_down_to_the_patients(client: TestClient, month: Any, make_user: Any) -> None:
    user, ward, _ = month
    body = get(client, user.headers, "/patients", reason="capacity-p1-services", **NOV).json()
    assert [(p["case_id"], p["bed_days"], p["cost"]) for p in body["items"]] == [
        (ward.ids["A"], 5.5, 1650.0),
        (ward.ids["D"], 5.0, 2000.0),
    ]
    assert body["items"][0]["nhs_number"] == NHS["A"]
    assert body["totals"]["bed_days"] == 10.5
    everything = get(client, user.headers, "/patients", **NOV).json()
    a = next(p for p in everything["items"] if p["case_id"] == ward.ids["A"])
    assert a["bed_days"] == 7.0
    assert a["first_day"] == "2026-11-03"
    assert a["last_day"] == "2026-11-09"
    assert [(r["reason"], r["organisation"], r["bed_days"], r["cost"]) for r in a["reasons"]] == [
        ("capacity-p1-services", "LA", 5.5, 1650.0),
        ("hospital-medical-review", "ACUTE", 1.5, 450.0),
    ]
    b = get(client, user.headers, "/patients", organisation="COMM", **NOV).json()["items"]
    assert [(p["case_id"], p["wards"], p["cost"]) for p in b] == [
        (ward.ids["B"], ["Ward 4", "Ward 9"], 1500.0)
    ]
    # An analyst reads the same rows without NHS numbers.
    analyst = make_user("analyst", org=user.org)
    anonymous = get(client, analyst.headers, "/patients", **NOV).json()
    assert {p["case_id"] for p in anonymous["items"]} == set(ward.ids.values())
    assert all(p["nhs_number"] is None for p in anonymous["items"])


def test_primary_only_gives_a_shared_day_to_the_primary_reason(
    client: TestClient, month: Any
) -> None:
    user, _, _ = month
    client.app.state.ledger_config = TEST_CONFIG.model_copy(update={"attribution": "primary_only"})
    try:
        body = get(client, user.headers, "/summary", **NOV).json()
    finally:
        client.app.state.ledger_config = TEST_CONFIG
    # A's 5-7 Nov go to capacity (Capacity before Hospital process in discharge.yaml).
    assert _rows(body)["capacity-p1-services"] == (12.0, 4100.0, 2)
    assert _rows(body)["hospital-medical-review"] == (2.0, 600.0, 1)
    assert body["attribution"] == "primary_only"


def test_another_organisation_sees_only_its_own(client: TestClient, month: Any) -> None:
    user, ward, other = month
    body = get(client, other.headers, "/summary", by="ward", **NOV).json()
    # F: not meeting from 3 Nov, discharged 5 Nov: 3 and 4 Nov, no reason, £300 each.
    assert _rows(body) == {"=HYPERLINK(1)": (2.0, 600.0, 1)}
    theirs = get(client, other.headers, "/patients", **NOV).json()["items"]
    assert not {p["case_id"] for p in theirs} & set(ward.ids.values())
    assert NHS["A"] not in get(client, other.headers, "/patients", **NOV).text


def test_csv_cells_are_neutralised(client: TestClient, month: Any) -> None:
    _, _, other = month
    r = get(client, other.headers, "/summary.csv", by="ward", **NOV)
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    (line,) = list(csv.DictReader(io.StringIO(r.text)))
    assert line["key"] == "'=HYPERLINK(1)"
    assert line["bed_days"] == "2.0"
    assert line["cost_gbp"] == "600.0"
    p = list(csv.DictReader(io.StringIO(get(client, other.headers, "/patients.csv", **NOV).text)))
    assert p[0]["wards"] == "'=HYPERLINK(1)"


def test_bad_periods_are_refused(client: TestClient, month: Any) -> None:
    user, _, _ = month
    for params in (
        {"from": "2026-11-30", "to": "2026-11-01"},
        {"from": "2025-01-01", "to": "2026-11-30"},
    ):
        r = client.get("/api/v1/ledger/summary", params=params, headers=user.headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    r = client.get("/api/v1/ledger/summary", params={**NOV, "by": "colour"}, headers=user.headers)
    assert r.status_code == 422


def test_one_patients_days_explained(client: TestClient, month: Any) -> None:
    user, ward, other = month
    body = get(client, user.headers, f"/cases/{ward.ids['A']}/days", **NOV).json()
    shown = [
        (d["day"], d["reason"], d["share"], d["organisation"], d["cost"]) for d in body["days"]
    ]
    cap, med = "capacity-p1-services", "hospital-medical-review"
    assert shown == [
        ("2026-11-03", cap, "1", "LA", 300.0),
        ("2026-11-04", cap, "1", "LA", 300.0),
        ("2026-11-05", cap, "1/2", "LA", 150.0),
        ("2026-11-05", med, "1/2", "ACUTE", 150.0),
        ("2026-11-06", cap, "1/2", "LA", 150.0),
        ("2026-11-06", med, "1/2", "ACUTE", 150.0),
        ("2026-11-07", cap, "1/2", "LA", 150.0),
        ("2026-11-07", med, "1/2", "ACUTE", 150.0),
        ("2026-11-08", cap, "1", "LA", 300.0),
        ("2026-11-09", cap, "1", "LA", 300.0),
    ]
    assert body["totals"]["bed_days"] == 7.0
    # B's days: the ward of each day, and the tariff of each day.
    b = get(client, user.headers, f"/cases/{ward.ids['B']}/days", **NOV).json()["days"]
    assert [(d["day"][8:], d["ward"], d["tariff"]) for d in b] == [
        ("12", "Ward 9", "t-2026"),
        ("13", "Ward 9", "t-2026"),
        ("14", "Ward 9", "t-2026"),
        ("15", "Ward 9", "t-2026-11"),
        ("16", "Ward 4", "t-2026-11"),
        ("17", "Ward 4", "t-2026-11"),
    ]
    # Another organisation: not found.
    r = client.get(f"/api/v1/ledger/cases/{ward.ids['A']}/days", params=NOV, headers=other.headers)
    assert r.status_code == 404
