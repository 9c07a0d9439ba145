"""Full CHC journeys over HTTP, to every decision outcome, through the engine's events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.cases.repository import CaseRepository
from app.chc.panels import next_panel_for_referral
from app.engine.catalogue import PathwayCatalogue
from app.engine.replay import replay
from app.timeutil import LONDON
from tests.chc.helpers import CFG, TEAM, ChcApi, checklist, dst

PERSON = {
    "person_name": "Margaret Example",
    "date_of_birth": "1936-04-01",
    "postcode": "L20 3AB",
    "setting": "community",
    "discharge_date": "2026-10-30",
}


def _today() -> str:
    return datetime.now(UTC).astimezone(LONDON).date().isoformat()


def _to_full_assessment(api: ChcApi, case_id: int, scores: dict[str, str]) -> None:
    api.steps(
        case_id,
        ("allocate", {"allocated_to": "CSU team A", "assessment_route": "csu_assessor"}),
        ("start_screening", {}),
        ("record_checklist", {**checklist(**scores), "checklist_date": _today()}),
        ("start_full_assessment", {}),
    )


def _replays(sessions: sessionmaker[Session], catalogue: PathwayCatalogue, case_id: int) -> None:
    with sessions() as session:
        repo = CaseRepository(session)
        case = repo.get(case_id)
        assert case is not None
        projection = replay(catalogue, repo.events(case_id))
        assert projection.problems == []
        assert (projection.state, projection.version) == (case.state, case.version)
        assert projection.attributes == case.attributes


@pytest.mark.parametrize(
    ("outcome", "levels", "rationale"),
    [
        ("chc_eligible", {"breathing": "priority"}, None),
        ("fnc", {"mobility": "high"}, None),
        ("joint_funded", {"mobility": "severe", "nutrition": "moderate"}, "needs judged shared"),
        ("la_social_care", {}, None),
        ("self_funding", {}, None),
        ("not_eligible", {}, None),
    ],
)
def test_full_journey_to_each_outcome(
    client: TestClient,
    make_user,
    sessions: sessionmaker[Session],
    catalogue: PathwayCatalogue,
    outcome: str,
    levels: dict[str, str],
    rationale: str | None,
) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = api.open_chc(PERSON, patient_ref="9991000003")
    _to_full_assessment(api, case_id, {"breathing": "A"})
    view = api.chc_case(case_id)
    assert view["checklist"]["result"] == "full_assessment_required"
    assert [f["id"] for f in view["checklist"]["fired"]] == ["a_in_priority_domain"]

    api.fire(case_id, "record_dst", data={**dst(**levels), "dst_date": _today()})
    body = api.fire(case_id, "refer_to_panel").json()
    panel = next_panel_for_referral(datetime.now(UTC).astimezone(LONDON).date(), CFG.local.panels)
    assert body["case"]["state"] == "panel"
    assert body["case"]["attributes"]["panel_date"] == panel.isoformat()
    agenda = client.get(f"/api/v1/panels/{panel}", headers=api.headers).json()
    assert [a["case_id"] for a in agenda["agenda"]] == [case_id]

    api.fire(case_id, "record_panel_recommendation", data={"panel_recommendation": outcome})
    decision = {"decision_outcome": outcome}
    if rationale:
        decision["decision_rationale"] = rationale
    body = api.fire(case_id, "decide", data=decision).json()
    assert body["case"]["state"] == "decided"
    attrs = body["case"]["attributes"]
    assert (attrs["decision_outcome"], attrs["decision_date"]) == (outcome, _today())
    clock = {c["name"]: c for c in body["case"]["clocks"]}["chc_28_day"]
    assert (clock["state"], clock["overdue"]) == ("stopped", False)

    body = api.steps(
        case_id,
        ("transition_funding", {"funding_effective_date": _today(), "funder": "ICB"}),
        ("schedule_review", {}),
        ("complete_review", {"review_outcome": "eligibility_continues"}),
        ("close", {"closure_reason": "review complete; package stable"}),
    )
    assert body["case"]["state"] == "closed"
    assert body["case"]["is_open"] is False
    events = [e["event"] for e in api.history(case_id)]
    assert events == [
        "open",
        "allocate",
        "start_screening",
        "record_checklist",
        "start_full_assessment",
        "record_dst",
        "refer_to_panel",
        "record_panel_recommendation",
        "decide",
        "transition_funding",
        "schedule_review",
        "complete_review",
        "close",
    ]
    _replays(sessions, catalogue, case_id)


def test_negative_checklist_screens_out_as_not_eligible(client: TestClient, make_user) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = api.open_chc(PERSON)
    api.steps(
        case_id,
        (
            "allocate",
            {"allocated_to": "LA trusted assessor", "assessment_route": "la_trusted_assessor"},
        ),
        ("start_screening", {}),
        ("record_checklist", checklist(mobility="A", nutrition="B", cognition="B", continence="B")),
    )
    assert api.chc_case(case_id)["checklist"]["summary"] == (
        "full assessment not indicated: no threshold met [1 A, 3 B]"
    )
    # The Checklist never moves the case: going on anyway needs a rationale.
    r = api.fire(case_id, "start_full_assessment", expect=409)
    assert r.json()["code"] == "guard_rejected"
    assert r.json()["reasons"] == [
        "The Checklist does not indicate a full assessment (full assessment not indicated: no "
        "threshold met [1 A, 3 B]); record checklist_rationale to go ahead."
    ]
    r = api.fire(case_id, "screen_out", expect=409, data={"decision_outcome": "chc_eligible"})
    assert r.json()["reasons"] == [
        "A chc_eligible decision needs a full assessment with the DST; start the full "
        "assessment instead of screening out."
    ]
    body = api.fire(case_id, "screen_out", data={"decision_outcome": "not_eligible"}).json()
    assert body["case"]["state"] == "decided"
    assert body["case"]["attributes"]["decision_outcome"] == "not_eligible"


def test_departures_from_indicative_results_need_a_rationale(client: TestClient, make_user) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = api.open_chc(PERSON)
    _to_full_assessment(api, case_id, {"mobility": "A", "nutrition": "A"})
    r = api.fire(case_id, "record_dst", expect=422, data=dst(mobility="priority"))
    assert r.json()["errors"] == [
        {"field": "dst_mobility", "problem": "must be one of none, low, moderate, high, severe"}
    ]
    r = api.fire(case_id, "record_dst", expect=409, data=dst(setting="acute"))
    assert r.json()["reasons"] == [
        "Full assessments are done outside hospital by default (Discharge to Recover); record "
        "acute_exception_reason for an assessment in an acute setting."
    ]
    api.fire(
        case_id,
        "record_dst",
        data={
            **dst(setting="acute", breathing="priority"),
            "acute_exception_reason": "end of life care on the ward",
        },
    )
    api.fire(case_id, "refer_to_panel")
    r = api.fire(case_id, "decide", expect=409, data={"decision_outcome": "la_social_care"})
    assert r.json()["reasons"] == [
        "The DST indicates eligibility expected: a Priority need (Breathing); record "
        "decision_rationale for la_social_care."
    ]
    body = api.fire(
        case_id,
        "decide",
        data={
            "decision_outcome": "la_social_care",
            "decision_rationale": "person declined NHS care; family to arrange",
        },
    ).json()
    assert body["event"]["data"]["decision_rationale"].startswith("person declined")


def test_fast_track_skips_checklist_and_dst_with_its_own_clock(
    client: TestClient, make_user
) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = api.open_chc({**PERSON, "setting": "acute"})
    body = api.fire(
        case_id,
        "fast_track",
        data={
            "fast_track_clinician": "Dr A Patel",
            "fast_track_clinician_profession": "registered_medical_practitioner",
        },
    ).json()
    assert body["case"]["state"] == "fast_track"
    assert body["case"]["attributes"]["fast_track"] is True
    clocks = {c["name"]: c for c in body["case"]["clocks"]}
    assert clocks["fast_track_package"]["budget_seconds"] == 48 * 3600
    assert clocks["fast_track_package"]["state"] == "running"
    # Fast Track is reported apart from the standard 28-day figures: that clock stops here.
    assert clocks["chc_28_day"]["state"] == "stopped"
    item = api.chc_case(case_id)["work_item"]
    assert item["rag"] == "red"
    assert item["reasons"][0]["text"] == "Fast Track outstanding"

    r = api.fire(case_id, "accept_fast_track", expect=409, data={"decision_outcome": "fnc"})
    assert r.json()["code"] == "guard_rejected"
    api.fire(case_id, "accept_fast_track", data={"decision_outcome": "chc_eligible"})
    body = api.fire(case_id, "transition_funding", data={"funding_effective_date": _today()}).json()
    clocks = {c["name"]: c for c in body["case"]["clocks"]}
    assert clocks["fast_track_package"]["state"] == "stopped"
    assert clocks["fast_track_package"]["overdue"] is False
    assert clocks["chc_28_day"]["state"] == "stopped"
    events = [e["event"] for e in api.history(case_id)]
    assert events == ["open", "fast_track", "accept_fast_track", "transition_funding"]
    assert not {"record_checklist", "record_dst"} & set(events)


def test_brokerage_choice_and_placement_then_reviews(client: TestClient, make_user) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = api.open_chc(PERSON)
    api.fire(
        case_id,
        "fast_track",
        data={
            "fast_track_clinician": "B Shah RN",
            "fast_track_clinician_profession": "registered_nurse",
        },
    )
    api.fire(case_id, "accept_fast_track", data={"decision_outcome": "chc_eligible"})
    api.steps(
        case_id,
        ("transition_funding", {"funding_effective_date": _today()}),
        ("start_brokerage", {"placement_requested_date": _today()}),
        ("record_eoi", {"eoi_home": "Ainsdale Nursing Home"}),
        ("record_eoi", {"eoi_home": "Birkdale Court"}),
    )
    r = api.fire(case_id, "place", expect=409, data={"placement_start_date": _today()})
    assert r.json()["reasons"] == [
        "Record the person's or family's choice of home (record_choice) before placing."
    ]
    api.fire(
        case_id,
        "record_choice",
        data={
            "chosen_home": "Birkdale Court",
            "options_shown": "Ainsdale Nursing Home; Birkdale Court",
        },
    )
    body = api.fire(case_id, "place", data={"placement_start_date": _today()}).json()
    attrs = body["case"]["attributes"]
    today = datetime.now(UTC).astimezone(LONDON).date()
    assert body["case"]["state"] == "review_scheduled"
    assert attrs["review_due_date"] == (today + timedelta(days=91)).isoformat()
    eois = [e["data"]["eoi_home"] for e in api.history(case_id) if e["event"] == "record_eoi"]
    assert eois == ["Ainsdale Nursing Home", "Birkdale Court"]
    body = api.fire(case_id, "complete_review", data={"review_outcome": "needs_changed"}).json()
    assert (
        body["case"]["attributes"]["review_due_date"] == (today + timedelta(days=365)).isoformat()
    )
    assert body["case"]["attributes"]["last_review_date"] == today.isoformat()


def test_local_resolution_then_independent_review(client: TestClient, make_user) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = api.open_chc(PERSON)
    _to_full_assessment(api, case_id, {"breathing": "A"})
    api.fire(case_id, "record_dst", data=dst())
    api.fire(case_id, "refer_to_panel")
    api.fire(case_id, "decide", data={"decision_outcome": "la_social_care"})
    body = api.steps(
        case_id,
        ("dispute", {"dispute_reason": "family disagree with the DST levels"}),
        ("refer_to_irp", {}),
        (
            "resolve_dispute",
            {"dispute_result": "decision_changed", "decision_outcome": "chc_eligible"},
        ),
    )
    assert body["case"]["state"] == "decided"
    assert body["case"]["attributes"]["decision_outcome"] == "chc_eligible"
    assert body["event"]["from_state"] == "independent_review"


def test_roles_are_enforced_per_step(client: TestClient, make_user) -> None:
    assessor = make_user("chc_assessor")
    api = ChcApi(client, assessor.headers)
    case_id = api.open_chc(PERSON)
    _to_full_assessment(api, case_id, {"breathing": "A"})
    api.fire(case_id, "record_dst", data=dst(breathing="priority"))
    api.fire(case_id, "refer_to_panel")
    r = api.fire(case_id, "decide", expect=403, data={"decision_outcome": "chc_eligible"})
    assert r.json()["required_roles"] == ["chc_decision_maker"]
    decider = ChcApi(client, make_user("chc_decision_maker", org=assessor.org).headers)
    decider.fire(case_id, "decide", data={"decision_outcome": "chc_eligible"})
    outsider = ChcApi(client, make_user("chc_assessor").headers)
    r = client.get(f"/api/v1/chc/cases/{case_id}", headers=outsider.headers)
    assert r.status_code == 404
    assert client.get(f"/api/v1/chc/cases/{case_id}").status_code == 401
