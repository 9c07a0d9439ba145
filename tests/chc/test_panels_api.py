"""Fortnightly panels: cases referred to panel go on the next agenda (docs/domain.md §7.12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from app.chc.panels import next_panel_for_referral, panel_after
from app.timeutil import LONDON
from tests.chc.helpers import CFG, TEAM, ChcApi, checklist, dst


def _ready_for_panel(api: ChcApi) -> int:
    case_id = api.open_chc({"person_name": "Pat Panel"})
    api.steps(
        case_id,
        ("allocate", {"allocated_to": "MDT 2"}),
        ("start_screening", {}),
        ("record_checklist", checklist(breathing="A")),
        ("start_full_assessment", {}),
        ("record_dst", dst(mobility="severe", nutrition="severe")),
    )
    return case_id


def test_referral_places_the_case_on_the_next_panel_and_adjourning_moves_it(
    client: TestClient, make_user
) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    today = datetime.now(UTC).astimezone(LONDON).date()
    panel = next_panel_for_referral(today, CFG.local.panels)
    case_id = _ready_for_panel(api)
    api.fire(case_id, "refer_to_panel")

    r = client.get(f"/api/v1/panels/{panel}", headers=api.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["date"], body["count"], body["cadence_days"]) == (panel.isoformat(), 1, 14)
    item = body["agenda"][0]
    assert (item["case_id"], item["state"], item["person_name"]) == (case_id, "panel", "Pat Panel")
    assert item["dst"]["result"] == "eligibility_expected"
    assert (
        item["dst"]["summary"]
        == "eligibility expected: 2 or more Severe needs (Nutrition, Mobility)"
    )
    slots = client.get(
        "/api/v1/panels", params={"from": panel.isoformat(), "count": 2}, headers=api.headers
    ).json()["panels"]
    assert slots == [
        {"date": panel.isoformat(), "cases": 1},
        {"date": (panel + timedelta(days=14)).isoformat(), "cases": 0},
    ]

    r = api.fire(case_id, "adjourn", data={"adjourn_reason": "awaiting district nurse notes"})
    following = panel_after(panel, CFG.local.panels)
    assert r.json()["case"]["attributes"]["panel_date"] == following.isoformat()
    assert client.get(f"/api/v1/panels/{panel}", headers=api.headers).json()["agenda"] == []
    moved = client.get(f"/api/v1/panels/{following}", headers=api.headers).json()
    assert [a["case_id"] for a in moved["agenda"]] == [case_id]


def test_a_chosen_panel_date_must_be_a_panel(client: TestClient, make_user) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = _ready_for_panel(api)
    today = datetime.now(UTC).astimezone(LONDON).date()
    panel = next_panel_for_referral(today, CFG.local.panels)
    wrong = panel + timedelta(days=1)
    r = api.fire(case_id, "refer_to_panel", expect=409, data={"panel_date": wrong.isoformat()})
    assert r.json()["reasons"] == [
        f"{wrong} is not a panel date; the next panel is "
        f"{next_panel_for_referral(wrong, CFG.local.panels)}."
    ]
    later = panel_after(panel, CFG.local.panels)
    r = api.fire(case_id, "refer_to_panel", data={"panel_date": later.isoformat()})
    assert r.json()["case"]["attributes"]["panel_date"] == later.isoformat()


def test_not_a_panel_date_is_404_naming_the_nearest(client: TestClient, make_user) -> None:
    headers = make_user("chc_panel").headers
    r = client.get("/api/v1/panels/2026-11-27", headers=headers)
    assert r.status_code == 404
    assert r.json()["code"] == "not_a_panel_date"
    assert (r.json()["previous_panel"], r.json()["next_panel"]) == ("2026-11-26", "2026-12-10")
    assert client.get("/api/v1/panels/27-11-2026", headers=headers).status_code == 422
    assert client.get("/api/v1/panels/2026-11-26").status_code == 401
    assert (
        client.get("/api/v1/panels/2026-11-26", headers=make_user("provider").headers).status_code
        == 403
    )
