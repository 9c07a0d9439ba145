"""The quarterly CHC collection against the published definitions (PUBLISHED-RULES rows 28, 29).

One quarter (2025/26 Q4: 1 January to 31 March 2026) with a case for each rule, checked by hand.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from app.chc.config import SubIcbLocation
from app.chc.quarterly import location_columns
from tests.chc.helpers import CFG, TEAM, ChcApi, checklist, dst

WHY = "entered from the CSU spreadsheet"
NURSE = {
    "fast_track_clinician": "A Jones RN",
    "fast_track_clinician_profession": "registered_nurse",
}


def _open(api: ChcApi, at: str) -> int:
    return api.open_chc({}, occurred_at=at, reason=WHY)


def _at(api: ChcApi, case_id: int, event: str, at: str, **data: Any) -> None:
    api.fire(case_id, event, data=data, occurred_at=at, reason=WHY)


def _screened_out(api: ChcApi, opened: str, decided: str) -> None:
    case_id = _open(api, opened)
    _at(api, case_id, "allocate", opened, allocated_to="CSU team B")
    _at(api, case_id, "start_screening", opened)
    _at(api, case_id, "record_checklist", opened, **checklist())
    _at(api, case_id, "screen_out", decided, decision_outcome="not_eligible")


def _fast_tracked_and_funded(api: ChcApi, opened: str, day: str) -> int:
    case_id = _open(api, opened)
    _at(api, case_id, "fast_track", f"{day}T13:00:00Z", **NURSE)
    _at(api, case_id, "accept_fast_track", f"{day}T15:00:00Z", decision_outcome="chc_eligible")
    _at(api, case_id, "transition_funding", f"{day}T16:00:00Z", funding_effective_date=day)
    _at(api, case_id, "schedule_review", f"{day}T17:00:00Z")
    return case_id


def _quarter(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    r = client.get(
        "/api/v1/dashboard/exports/chc-quarterly.csv", params={"fy": 2025, "q": 4}, headers=headers
    )
    assert r.status_code == 200, r.text
    [row] = list(csv.DictReader(io.StringIO(r.text)))
    return row


def test_the_quarterly_return_follows_the_published_definitions(
    client: TestClient, make_user
) -> None:
    user = make_user(*TEAM, "manager")
    api = ChcApi(client, user.headers)
    # P, Q: negative Checklists. Not referrals: a referral is "the earliest notification ...
    # that full consideration for NHS Continuing Healthcare is required".
    _screened_out(api, "2026-01-10T12:00:00Z", "2026-01-25T12:00:00Z")
    _screened_out(api, "2025-12-01T12:00:00Z", "2026-01-20T12:00:00Z")
    _open(api, "2026-02-10T12:00:00Z")  # R: undecided, 21.5 days over 28 at the quarter's end
    _open(api, "2026-03-20T12:00:00Z")  # S: undecided, inside 28 days
    t = _open(api, "2026-02-01T12:00:00Z")  # T: Fast Track, eligible
    _at(api, t, "fast_track", "2026-02-01T13:00:00Z", **NURSE)
    _at(api, t, "accept_fast_track", "2026-02-02T12:00:00Z", decision_outcome="chc_eligible")
    u = _open(api, "2026-01-05T12:00:00Z")  # U: standard, full assessment in hospital, eligible
    _at(api, u, "allocate", "2026-01-05T13:00:00Z", allocated_to="CSU team A")
    _at(api, u, "start_screening", "2026-01-06T12:00:00Z")
    _at(api, u, "record_checklist", "2026-01-07T12:00:00Z", **checklist(breathing="A"))
    _at(api, u, "start_full_assessment", "2026-01-08T12:00:00Z")
    acute = dst(setting="acute", breathing="priority")
    _at(api, u, "record_dst", "2026-01-20T12:00:00Z", **acute, acute_exception_reason="EoL")
    _at(api, u, "refer_to_panel", "2026-01-21T12:00:00Z")
    _at(api, u, "decide", "2026-01-28T12:00:00Z", decision_outcome="chc_eligible")
    # V: eligible since October; a review in the quarter starts a reassessment, and the ICB
    # decides after the new DST that the person is no longer eligible (FNC instead).
    v = _fast_tracked_and_funded(api, "2025-10-01T12:00:00Z", "2025-10-02")
    _at(api, v, "start_reassessment", "2026-02-15T12:00:00Z", reassessment_reason="improved")
    _at(api, v, "record_dst", "2026-02-20T12:00:00Z", **dst())
    _at(api, v, "decide_reassessment", "2026-03-01T12:00:00Z", decision_outcome="fnc")
    # W: eligible since November, died in the quarter: not eligible at its end.
    w = _fast_tracked_and_funded(api, "2025-11-01T12:00:00Z", "2025-11-02")
    _at(api, w, "record_death", "2026-03-10T12:00:00Z", date_of_death="2026-03-10")
    # X: referred in November, withdrawn in January: not an incomplete referral.
    x = _open(api, "2025-11-01T12:00:00Z")
    _at(api, x, "withdraw", "2026-01-15T12:00:00Z", withdrawal_reason="moved away")
    # Y: referred in January, on Fast Track since February (not yet accepted): reported with
    # Fast Track, outside the standard referral and 28-day figures.
    y = _open(api, "2026-01-02T12:00:00Z")
    _at(api, y, "fast_track", "2026-02-20T12:00:00Z", **NURSE)

    row = _quarter(client, user.headers)
    assert row == {
        "Quarter": "2025/26 Q4",
        # The reporting unit is the sub-ICB location; this organisation has none configured.
        "Sub-ICB location code": "",
        "Sub-ICB location name": "not configured (pathways/config/chc-local.yaml)",
        "Sub-ICB location code verified": "no",
        "HomeFirst organisation": user.org,
        # A snapshot: T (Fast Track) and U (standard) at 31 March; V's eligibility ended, W died.
        "Number eligible at quarter end": "2",
        "Number eligible at quarter end - standard": "1",
        "Number eligible at quarter end - Fast Track": "1",
        "Number of new referrals": "3",  # R, S, U
        "Number of referrals completed": "1",  # U (P and Q were negative Checklists)
        "Number of referrals completed within 28 days": "1",
        "Incomplete referrals over 28 days": "1",  # R (X withdrawn, Y on Fast Track)
        "Incomplete referrals over 28 days - up_to_2_weeks": "0",
        "Incomplete referrals over 28 days - 2_to_4_weeks": "1",
        "Incomplete referrals over 28 days - 4_to_12_weeks": "0",
        "Incomplete referrals over 28 days - 12_to_26_weeks": "0",
        "Incomplete referrals over 28 days - over_26_weeks": "0",
        "Number of assessments completed": "1",  # U; V's DST was a reassessment
        "Number assessed as eligible": "1",
        "Number assessed as not eligible": "0",
        "Number no longer eligible": "1",  # V, decided after the reassessment
        "Assessment conversion rate (%)": "100.0",
        "Referral conversion rate (%)": "100.0",
        "DSTs completed in acute setting": "1",
        "DSTs completed in non-acute setting": "1",
        "NHS-funded Nursing Care decisions": "1",
        "Fast Track referrals": "2",  # T, Y
        "Fast Track referrals found eligible": "1",
        "Negative Checklists (not referrals for full consideration)": "2",
        "Local requests for review": "0",
        "Reviews recorded as no longer eligible (pathway v1, not a decision)": "0",
    }
    # The snapshot is taken at each quarter's end: at the end of 2025/26 Q3, V and W were
    # eligible (Fast Track) and nobody else yet.
    r = client.get(
        "/api/v1/dashboard/exports/chc-quarterly.csv",
        params={"fy": 2025, "q": 3},
        headers=user.headers,
    )
    [q3] = list(csv.DictReader(io.StringIO(r.text)))
    assert (q3["Number eligible at quarter end"], q3["Number of new referrals"]) == ("2", "1")
    assert q3["Number eligible at quarter end - Fast Track"] == "2"
    assert q3["Incomplete referrals over 28 days"] == "1"  # X: 61 days on 31 December


def test_the_reporting_unit_is_the_sub_icb_location() -> None:
    """ "Data are collected quarterly and cover Integrated Care Board Sub Locations"."""
    sefton = CFG.local.sub_icb_locations["SEFTON-CTH"]
    assert (sefton.code, sefton.verified) == (None, False)  # UNVERIFIED: no code in our sources
    assert location_columns("SEFTON-CTH", sefton)["Sub-ICB location code verified"] == "no"
    checked = SubIcbLocation(code="99X", name="A sub-ICB location", verified=True)
    assert location_columns("ORG", checked) == {
        "Sub-ICB location code": "99X",
        "Sub-ICB location name": "A sub-ICB location",
        "Sub-ICB location code verified": "yes",
        "HomeFirst organisation": "ORG",
    }
