"""The 28-day standard as a durable clock, the overdue age bands and the CHC report."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.chc.helpers import TEAM, ChcApi, checklist, dst
from tests.helpers import ago

WHY = "recorded from the referral letter"


def _open(api: ChcApi, days_ago: float, **data: Any) -> int:
    return api.open_chc(data, occurred_at=ago(days=days_ago), reason=WHY)


def _at(api: ChcApi, case_id: int, event: str, days_ago: float, **data: Any) -> dict[str, Any]:
    body = api.fire(case_id, event, data=data, occurred_at=ago(days=days_ago), reason=WHY).json()
    return dict(body)


def _screened_out(api: ChcApi, referred: float, decided: float) -> int:
    case_id = _open(api, referred)
    _at(api, case_id, "allocate", referred - 0.5, allocated_to="CSU team B")
    _at(api, case_id, "start_screening", referred - 0.6)
    _at(api, case_id, "record_checklist", referred - 0.7, **checklist())
    _at(api, case_id, "screen_out", decided, decision_outcome="not_eligible")
    return case_id


def _decided(api: ChcApi, referred: float, decided: float) -> int:
    """A standard referral: positive Checklist, full assessment with the DST, decision."""
    case_id = _open(api, referred)
    _at(api, case_id, "allocate", referred - 0.5, allocated_to="MDT 2")
    _at(api, case_id, "start_screening", referred - 0.6)
    _at(api, case_id, "record_checklist", referred - 0.7, **checklist(breathing="A"))
    _at(api, case_id, "start_full_assessment", referred - 0.8)
    _at(api, case_id, "record_dst", decided + 0.5, **dst(breathing="priority"))
    _at(api, case_id, "refer_to_panel", decided + 0.4)
    _at(api, case_id, "decide", decided, decision_outcome="chc_eligible")
    return case_id


FAST_TRACK_CLINICIAN = {
    "fast_track_clinician": "Dr C Rao",
    "fast_track_clinician_profession": "registered_medical_practitioner",
}


def test_the_28_day_clock_runs_from_first_notice_to_decision(client: TestClient, make_user) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    late = _screened_out(api, referred=40, decided=10)
    on_time = _screened_out(api, referred=20, decided=5)
    waiting = _open(api, 35)
    clocks = {
        c: {k["name"]: k for k in api.get(c).json()["clocks"]} for c in (late, on_time, waiting)
    }
    assert clocks[late]["chc_28_day"]["state"] == "stopped"
    assert round(clocks[late]["chc_28_day"]["consumed_seconds"] / 86400) == 30
    assert clocks[late]["chc_28_day"]["overdue"] is False  # stopped clocks are judged in reports
    assert round(clocks[on_time]["chc_28_day"]["consumed_seconds"] / 86400) == 15
    assert clocks[waiting]["chc_28_day"]["state"] == "running"
    assert clocks[waiting]["chc_28_day"]["overdue"] is True
    assert clocks[waiting]["chc_28_day"]["budget_seconds"] == 28 * 86400


def test_report_figures_are_derived_from_events_and_clocks(client: TestClient, make_user) -> None:
    user = make_user(*TEAM)
    api = ChcApi(client, user.headers)
    # "the earliest notification ... that full consideration for NHS Continuing Healthcare is
    # required": a negative Checklist shows it was not, so these two are outside the figures.
    _screened_out(api, referred=40, decided=10)
    _screened_out(api, referred=20, decided=5)
    _decided(api, referred=40, decided=10)  # decided after 30 days: outside the standard
    _decided(api, referred=20, decided=5)  # decided after 15 days: inside
    for days in (35, 45, 60, 200, 400):  # incomplete referrals, one in each overdue band
        _open(api, days)
    for days, setting, extra in (
        (10, "acute", {"acute_exception_reason": "end of life"}),
        (5, "community", {}),
    ):
        case_id = _open(api, days)
        _at(api, case_id, "allocate", days - 0.1, allocated_to="MDT 1")
        _at(api, case_id, "start_screening", days - 0.2)
        _at(api, case_id, "record_checklist", days - 0.3, **checklist(breathing="A"))
        _at(api, case_id, "start_full_assessment", days - 0.4)
        _at(api, case_id, "record_dst", days - 0.5, **dst(setting=setting), **extra)
    fast = _open(api, 2.1)
    _at(api, fast, "fast_track", 1.9, **FAST_TRACK_CLINICIAN)  # 45.6 hours ago
    _at(api, fast, "accept_fast_track", 1.5, decision_outcome="chc_eligible")
    api.fire(fast, "transition_funding", data={"funding_effective_date": ago(days=0)[:10]})
    # Referred 40 days ago, on Fast Track since: reported apart from the 28-day figures.
    waiting_fast = _open(api, 40)
    _at(api, waiting_fast, "fast_track", 39, **FAST_TRACK_CLINICIAN)

    analyst = make_user("analyst", org=user.org)
    r = client.get("/api/v1/reports/chc", headers=analyst.headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["organisation"] == user.org
    assert (report["decisions"], report["decisions_within_28_days"]) == (2, 1)
    assert report["decisions_within_28_days_pct"] == 50.0
    assert (report["decision_target_pct"], report["decision_target_met"]) == (80.0, False)
    assert (report["fast_track_decisions"], report["fast_track_packages_in_target"]) == (1, 1)
    assert report["fast_track_target_hours"] == 48.0
    assert report["incomplete_over_28_days"] == 5
    assert [(b["label"], b["count"]) for b in report["incomplete_over_28_days_by_band"]] == [
        ("up to 2 weeks", 1),
        ("2-4 weeks", 1),
        ("4-12 weeks", 1),
        ("12-26 weeks", 1),
        ("over 26 weeks", 1),
    ]
    assert (report["full_assessments"], report["full_assessments_acute"]) == (4, 1)
    assert (report["full_assessments_acute_pct"], report["acute_threshold_pct"]) == (25.0, 15.0)
    assert report["backlog_by_rag_and_cohort"] == {
        # Red: 400 days waiting (26 weeks or more beyond the 28 days) and the Fast Track; amber:
        # 35, 45, 60 and 200 days (200 is under 28 + 182 = 210 days since referral).
        "restoration": {"red": 2, "amber": 4, "green": 2}
    }
    assert report["provisional"] is True

    narrow = client.get(
        "/api/v1/reports/chc", params={"from": ago(days=7)[:10]}, headers=user.headers
    )
    assert (narrow.json()["decisions"], narrow.json()["decisions_within_28_days"]) == (1, 1)
    bad = client.get(
        "/api/v1/reports/chc",
        params={"from": "2026-02-01", "to": "2026-01-01"},
        headers=user.headers,
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    ward = make_user("ward_clinician", org=user.org)
    assert client.get("/api/v1/reports/chc", headers=ward.headers).status_code == 403
