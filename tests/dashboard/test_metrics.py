"""Every discharge figure of a hand-built day, checked against values worked out by hand."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.known_day import DAY, DAY_BEFORE, build

ROLES = ("discharge_team", "ward_clinician", "huddle_chair", "manager")
ZERO_BUCKETS = {"0": 0, "1": 0, "2-3": 0, "4-6": 0, "7-13": 0, "14-20": 0, "21+": 0}


@pytest.fixture(scope="module")
def known_day(client: TestClient, make_user_module) -> tuple[str, dict[str, str]]:
    user = make_user_module(*ROLES)
    site, _ = build(client, user.headers)
    return site, user.headers


def _metrics(client: TestClient, headers: dict[str, str], site: str, day: str) -> dict:
    r = client.get("/api/v1/dashboard/metrics", params={"site": site, "date": day}, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_clock_change_day(client: TestClient, known_day) -> None:  # noqa: ANN001
    site, headers = known_day
    m = _metrics(client, headers, site, DAY)
    assert m["snapshot_at"] == "2026-03-29T22:59:59.999999+00:00"  # 23-hour day
    assert m["final"] is True
    d = m["discharge"]
    assert (d["nctr_on_day"], d["nctr_remaining"], d["discharged"]) == (6, 2, 3)
    # "Number of patients discharged" is of the NCTR patients ("and of these, the number of
    # patients discharged … or remaining in hospital", PUBLISHED-RULES.md row 10): A, B and H
    # were all not meeting the criteria when they left. 3 discharged + 2 remaining (C, F) is
    # the day's 6 NCTR patients less E, who died.
    assert d["discharged_nctr"] == 3
    assert d["definitions"] == 3  # 3: with the expected discharge date figures
    assert d["discharges_by_pathway"] == {
        "P0": {"count": 2, "percent": 66.67, "expected_percent": 50.0, "expected_is": "minimum"},
        "P1": {"count": 1, "percent": 33.33, "expected_percent": 45.0, "expected_is": "minimum"},
        "P2": {"count": 0, "percent": 0.0, "expected_percent": 4.0, "expected_is": "maximum"},
        "P3": {"count": 0, "percent": 0.0, "expected_percent": 1.0, "expected_is": "maximum"},
        "P3b_recorded": 1,
    }
    assert d["discharge_delays"] == {
        "buckets": {**ZERO_BUCKETS, "0": 1, "1": 1, "4-6": 1},
        "bucket_bed_days": {**ZERO_BUCKETS, "1": 1, "4-6": 4},
        "delayed": 2,
        "no_delay": 1,
        "delayed_bed_days": 5,
        "average_including_zero": 1.67,
        "average_excluding_zero": 2.5,
        # A (4 days), B (0: admitted the 28th, so one night) and H (1) are all stays of
        # one night or more with a DRD.
        "in_cohort": 3,
        "outside_cohort": {"under_one_night": 0, "no_drd": 0},
    }
    assert d["remaining_delay_buckets"] == {**ZERO_BUCKETS, "0": 1, "14-20": 1}
    assert d["remaining_delayed_bed_days"] == 15
    assert d["by_primary_reason"] == [
        {
            "code": "capacity-residential-nursing-home",
            "label": "Capacity – Residential or nursing home care not yet available",
            "family": "Capacity",
            "patients": 1,
        }
    ]
    assert d["by_family"] == {"Capacity": 1}
    # "Delay reason LOS 7+": C (28 days in) has the reason; F (4 days) is too short a stay.
    assert d["delay_reasons_los_7_plus"] == d["by_primary_reason"]
    assert d["no_reason_recorded"] == 1
    assert d["support_areas"] == {
        "other": {"periods": 1, "average_days": 14.54},
        "p3_placement": {"periods": 1, "average_days": 11.54},
        "reablement_start": {"periods": 1, "average_days": 3.08},
    }
    assert d["length_of_stay"] == {
        "7_plus": {"patients": 1, "bed_days_beyond": 21},
        "14_plus": {"patients": 1, "bed_days_beyond": 14},
        "21_plus": {"patients": 1, "bed_days_beyond": 7},
    }
    # "Number of additional bed days, patients with length of stay of N days or over": bed
    # days lost to delay since the DRD of NCTR patients with LOS >= N (row 11). C: LOS 28,
    # DRD the 14th, 15 days; F: LOS 4, too short for any threshold.
    assert d["additional_bed_days"] == {
        "7_plus": {"patients": 1, "bed_days": 15},
        "14_plus": {"patients": 1, "bed_days": 15},
        "21_plus": {"patients": 1, "bed_days": 15},
    }
    assert d["escalated"] == 1
    assert d["by_site"] == [
        {
            "hospital_system": "LUHFT",
            "site": site,
            "inpatients": 3,
            "nctr_remaining": 2,
            "discharged": 3,
            "discharged_nctr": 3,
            "escalated": 1,
        }
    ]


def test_the_day_before_midnight_boundary(client: TestClient, known_day) -> None:  # noqa: ANN001
    site, headers = known_day
    d = _metrics(client, headers, site, DAY_BEFORE)["discharge"]
    # A, C, E and H were not meeting the criteria on the 28th; B only from 00:30 on the 29th.
    assert (d["nctr_on_day"], d["nctr_remaining"], d["discharged"]) == (4, 4, 0)
    assert d["remaining_delay_buckets"] == {**ZERO_BUCKETS, "0": 2, "2-3": 1, "14-20": 1}
    assert d["remaining_delayed_bed_days"] == 0 + 0 + 3 + 14
    # Patients in hospital at the end of the 28th: A, B, C, D, E, F, H.
    # Stays of 8 (A), 27 (C) and 18 (E) days: 1 + 20 + 11 beyond the 7-day mark.
    assert d["length_of_stay"]["7_plus"] == {"patients": 3, "bed_days_beyond": 1 + 20 + 11}
    # Bed days lost to delay of the NCTR patients: A (LOS 8, DRD 25th: 3), C (LOS 27, DRD
    # 14th: 14), E (LOS 18, DRD 28th: 0); H (LOS 2) is under every threshold.
    assert d["additional_bed_days"] == {
        "7_plus": {"patients": 3, "bed_days": 3 + 14 + 0},
        "14_plus": {"patients": 2, "bed_days": 14 + 0},
        "21_plus": {"patients": 1, "bed_days": 14},
    }


def test_bad_dates_are_refused(client: TestClient, known_day) -> None:  # noqa: ANN001
    site, headers = known_day
    r = client.get("/api/v1/dashboard/metrics", params={"date": "2999-01-01"}, headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    r = client.get("/api/v1/dashboard/metrics", params={"date": "29/03/2026"}, headers=headers)
    assert r.status_code == 422
    assert client.get("/api/v1/dashboard/metrics").status_code == 401


def _metrics_at(client: TestClient, headers: dict[str, str], site: str, at: str) -> dict:
    r = client.get(
        "/api/v1/dashboard/metrics",
        params={"site": site, "date": DAY, "at": at},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_position_at_the_morning_huddle(client: TestClient, known_day) -> None:  # noqa: ANN001
    """`at=08:00` on the clock-change day is 08:00 BST, 07:00 UTC. By then nobody had left:
    A, B, C, E, F and H were not meeting the criteria and still in hospital (D only from
    midnight). By 12:00 BST (11:00 UTC) E had died (09:00) and H gone home (10:00): four
    remain, one discharged. The end of the day gives the stored figures (6, 2, 3)."""
    site, headers = known_day
    huddle = _metrics_at(client, headers, site, "08:00")
    assert huddle["snapshot_at"] == "2026-03-29T07:00:00+00:00"
    assert huddle["snapshot_at_london"] == "2026-03-29T08:00:00+01:00"
    assert (huddle["at"], huddle["final"]) == ("08:00", True)
    d = huddle["discharge"]
    assert (d["nctr_on_day"], d["nctr_remaining"], d["discharged"]) == (6, 6, 0)
    noon = _metrics_at(client, headers, site, "12:00")["discharge"]
    assert (noon["nctr_remaining"], noon["discharged"], noon["discharged_nctr"]) == (4, 1, 1)
    end = _metrics(client, headers, site, DAY)
    assert "at" not in end
    assert (end["discharge"]["nctr_remaining"], end["discharge"]["discharged"]) == (2, 3)


def test_a_time_of_day_that_is_no_time_or_has_not_come_is_refused(
    client: TestClient,
    known_day,  # noqa: ANN001
) -> None:
    site, headers = known_day
    for params in ({"date": DAY, "at": "25:00"}, {"date": "2999-01-01", "at": "08:00"}):
        r = client.get(
            "/api/v1/dashboard/metrics", params={"site": site, **params}, headers=headers
        )
        assert r.status_code == 422, r.text
