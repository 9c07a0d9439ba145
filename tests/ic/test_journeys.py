"""Step-up and step-down episodes walked over HTTP, with the outcome flowing back to the
discharge case, the long-term care home guard, re-referral and the 91-day follow-up."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.cases.repository import CaseRepository
from app.engine.replay import replay
from tests.discharge.helpers import NHS, TEAM, fire, open_case, today
from tests.helpers import Api
from tests.ic.helpers import IC_TEAM, PLAN, Ic, fresh_site, london_at, make_service

CARE_HOME_REFUSAL = (
    "Home First: a long-term care home decision comes only after an opportunity for "
    "rehabilitation and recovery. Record that it was offered (record_rehab_offer) first."
)


def _events(ic: Ic, case_id: int) -> list[tuple[str, str | None, str]]:
    return [(e["event"], e["from_state"], e["to_state"]) for e in ic.api.history(case_id)]


def test_step_up_journey_from_referral_to_closure(client: TestClient, make_user) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    home = make_service(client, user.headers, site=ic.site, model="home_based_ic", capacity=3)
    opened = ic.refer(NHS[0], referrer="integrated_care_team", mh_flag=False)
    cid = opened["id"]
    assert (opened["workflow"], opened["state"], opened["patient_ref"]) == (
        "intermediate_care",
        "referred",
        NHS[0],
    )
    assert opened["attributes"] == {
        "direction": "step_up",
        "referrer": "integrated_care_team",
        "mh_flag": False,
    }
    assert [(c["name"], c["state"]) for c in opened["clocks"]] == [
        ("start_within_2_days", "running")
    ]
    ic.fire(cid, "triage", priority="high", planned_model="home_based_ic")
    ic.fire(cid, "assess", personal_goals="Walk to the shop again", scope_discussed=True)
    ic.fire(cid, "record_transition_plan", **PLAN)
    started = ic.fire(cid, "start_home_based_ic", service_id=home["id"])["case"]
    assert started["state"] == "active"
    attrs = started["attributes"]
    assert (attrs["model"], attrs["first_model"], attrs["models_used"], attrs["service_id"]) == (
        "home_based_ic",
        "home_based_ic",
        ["home_based_ic"],
        home["id"],
    )
    episode_clock = ic.clocks(cid, "episode_6_weeks")[0]
    assert episode_clock["state"] == "running"
    start = datetime.fromisoformat(episode_clock["started_at"])
    assert datetime.fromisoformat(episode_clock["due_at"]) == start + timedelta(days=42)
    assert ic.clocks(cid, "start_within_2_days")[0]["state"] == "stopped"
    ended = ic.fire(cid, "end_episode", outcome="equipment_tecs_only")["case"]
    assert (ended["state"], ended["is_open"], ended["attributes"]["outcome"]) == (
        "ended",
        True,
        "equipment_tecs_only",
    )
    assert ic.clocks(cid, "episode_6_weeks")[0]["state"] == "stopped"
    # A step-up episode owes no 91-day follow-up: it closes straight away.
    refused = ic.fire(cid, "record_still_at_home", still_at_home_91d="at_home", expect=409)
    assert refused["reasons"] == [
        "No 91-day follow-up is needed (only step_down episodes are followed up); "
        "close the episode instead."
    ]
    closed = ic.fire(cid, "close")["case"]
    assert (closed["state"], closed["is_open"]) == ("closed", False)
    assert _events(ic, cid) == [
        ("open", None, "referred"),
        ("triage", "referred", "triaged"),
        ("assess", "triaged", "assessed"),
        ("record_transition_plan", "assessed", "assessed"),
        ("start_home_based_ic", "assessed", "active"),
        ("end_episode", "active", "ended"),
        ("close", "ended", "closed"),
    ]


def test_p1_discharge_opens_a_step_down_episode_whose_outcome_shows_on_the_discharge_case(
    client: TestClient, make_user
) -> None:
    discharger = make_user(*TEAM)
    user = make_user(*IC_TEAM, "manager", org=discharger.org)
    site = fresh_site()
    api, ic = Api(client, discharger.headers), Ic(client, user.headers, site)
    reablement = make_service(client, user.headers, site=site, model="reablement", capacity=5)
    discharge = open_case(api, NHS[1], site=site)
    fire(api, discharge["id"], "accept", days_ago=9)
    fire(api, discharge["id"], "not_meeting_ctr", days_ago=4)
    left = fire(
        api,
        discharge["id"],
        "discharge",
        days_ago=1,
        data={"discharge_pathway": "P1", "destination_code": "19"},
    )
    left_at = left["event"]["occurred_at"]
    links = api.get(discharge["id"]).json()["links"]
    assert [
        (k["link_type"], k["direction"], k["workflow"], k["state"], k["outcome"]) for k in links
    ] == [("step_down", "outgoing", "intermediate_care", "referred", None)]
    eid = links[0]["case_id"]
    episode = ic.case(eid)
    assert (episode["patient_ref"], episode["site"], episode["opened_at"]) == (
        NHS[1],
        site,
        left_at,
    )
    assert episode["attributes"] == {
        "direction": "step_down",
        "referrer": "hospital",
        "hospital_discharge_at": datetime.fromisoformat(left_at).isoformat(),
        "discharge_pathway": "P1",
    }
    assert [(k["direction"], k["case_id"]) for k in episode["links"]] == [
        ("incoming", discharge["id"])
    ]
    referral = ic.api.history(eid)[0]
    # Referred by the discharging user, in their discharge role.
    assert (referral["actor"]["username"], referral["actor"]["role"]) == (
        discharger.actor.username,
        "discharge_team",
    )
    ic.fire(eid, "triage", priority="routine", planned_model="reablement")
    ic.fire(eid, "assess", personal_goals="Wash and dress without help")
    ic.fire(eid, "await_capacity")
    ic.fire(eid, "start_reablement", service_id=reablement["id"])
    ic.fire(eid, "record_transition_plan", **PLAN)
    ic.fire(eid, "end_episode", outcome="independent")
    links = api.get(discharge["id"]).json()["links"]
    assert [(k["case_id"], k["state"], k["outcome"]) for k in links] == [
        (eid, "ended", "independent")
    ]
    due = (today() - timedelta(days=1) + timedelta(days=91)).isoformat()
    refused = ic.fire(eid, "close", expect=409)
    assert refused["reasons"] == [
        f"The 91-day still-at-home follow-up is needed (due {due}): use record_still_at_home."
    ]
    early = ic.fire(eid, "record_still_at_home", still_at_home_91d="at_home", expect=409)
    assert early["reasons"] == [f"The 91-day follow-up is due on {due}."]
    listed = ic.get("/follow-ups", site=site)
    assert [(r["case_id"], r["due_on"], r["overdue"], r["outcome"]) for r in listed["items"]] == [
        (eid, due, False, "independent")
    ]


@pytest.mark.parametrize(
    ("pathway", "destination", "opens"), [("P0", "19", False), ("P2", "85", True)]
)
def test_only_step_down_pathways_open_an_episode(
    client: TestClient, make_user, pathway: str, destination: str, opens: bool
) -> None:
    api = Api(client, make_user(*TEAM).headers)
    case = open_case(api, NHS[2], site=fresh_site())
    fire(api, case["id"], "not_meeting_ctr", days_ago=3)
    fire(
        api,
        case["id"],
        "discharge",
        data={"discharge_pathway": pathway, "destination_code": destination},
    )
    links = api.get(case["id"]).json()["links"]
    assert [(k["link_type"], k["workflow"]) for k in links] == (
        [("step_down", "intermediate_care")] if opens else []
    )


def test_91_day_follow_up_after_reablement(client: TestClient, sessions, engine, make_user) -> None:
    user = make_user(*TEAM, *IC_TEAM, "manager")
    site = fresh_site()
    api, ic = Api(client, user.headers), Ic(client, user.headers, site)
    bed = make_service(client, user.headers, site=site, model="bed_based_ic", capacity=4)
    reablement = make_service(client, user.headers, site=site, model="reablement", capacity=4)
    discharge = open_case(api, NHS[3], site=site, admitted_days_ago=110)
    fire(api, discharge["id"], "not_meeting_ctr", days_ago=101)
    data = {"discharge_pathway": "P2", "destination_code": "85"}
    fire(api, discharge["id"], "discharge", days_ago=100, data=data)
    eid = api.get(discharge["id"]).json()["links"][0]["case_id"]
    ic.fire(eid, "triage", at=london_at(100, 14), priority="high", planned_model="bed_based_ic")
    ic.fire(eid, "start_bed_based_ic", at=london_at(100, 16), service_id=bed["id"])
    ic.fire(
        eid,
        "move_to_reablement",
        at=london_at(80, 12),
        service_id=reablement["id"],
        move_reason="Mobile enough to go home with reablement",
    )
    ic.fire(eid, "record_transition_plan", at=london_at(70, 12), **PLAN)
    ic.fire(eid, "end_episode", at=london_at(60, 12), outcome="independent")
    due = (today() - timedelta(days=9)).isoformat()
    listed = ic.get("/follow-ups", site=site)
    assert [(r["case_id"], r["due_on"], r["overdue"]) for r in listed["items"]] == [
        (eid, due, True)
    ]
    assert ic.fire(eid, "close", expect=409)["reasons"] == [
        f"The 91-day still-at-home follow-up is needed (due {due}): use record_still_at_home."
    ]
    done = ic.fire(eid, "record_still_at_home", still_at_home_91d="at_home")["case"]
    assert (done["state"], done["is_open"], done["attributes"]["still_at_home_91d"]) == (
        "closed",
        False,
        "at_home",
    )
    assert ic.get("/follow-ups", site=site)["items"] == []
    with sessions() as session:  # the history reproduces the stored episode
        stored = CaseRepository(session).get(eid)
        projection = replay(engine.catalogue, CaseRepository(session).events(eid))
    assert projection.problems == []
    assert (projection.state, projection.attributes) == (stored.state, stored.attributes)
    assert stored.attributes["models_used"] == ["bed_based_ic", "reablement"]
    # The local rolling figure counts the episodes whose 91-day date (9 days ago) falls in the
    # report period (it used to count follow-ups recorded in the period).
    report = ic.get("/report", site=site, date_from=str(today() - timedelta(days=9)))
    local = report["local_still_at_home_91_days"]
    assert (local["discharged_from"], local["discharged_to"]) == (
        str(today() - timedelta(days=100)),
        str(today() - timedelta(days=91)),
    )
    assert {k: local[k] for k in ("cohort", "results", "awaiting_result", "percent_at_home")} == {
        "cohort": 1,
        "results": {"at_home": 1, "not_at_home": 0, "not_contactable": 0, "died": 0},
        "awaiting_result": 0,
        "percent_at_home": 100.0,
    }
    yesterday = ic.get("/report", site=site, date_from=str(today() - timedelta(days=1)))
    assert yesterday["local_still_at_home_91_days"]["cohort"] == 0


def test_long_term_care_home_needs_rehabilitation_offered_first(
    client: TestClient, make_user
) -> None:
    user = make_user(*IC_TEAM, "manager", "social_worker")
    ic = Ic(client, user.headers, fresh_site())
    crisis = make_service(client, user.headers, site=ic.site, model="crisis_response", capacity=5)
    cid = ic.refer(NHS[4])["id"]
    ic.fire(cid, "start_crisis_response", service_id=crisis["id"])
    ic.fire(cid, "record_transition_plan", **PLAN)
    refused = ic.fire(cid, "end_episode", outcome="long_term_care_home", expect=409)
    assert (refused["code"], refused["reasons"]) == ("guard_rejected", [CARE_HOME_REFUSAL])
    assert ic.case(cid)["state"] == "active"  # a refused request writes nothing
    ic.fire(cid, "record_rehab_offer", rehab_offer_response="declined", rehab_offer_note="Declined")
    ended = ic.fire(cid, "end_episode", outcome="long_term_care_home")["case"]
    assert (ended["state"], ended["attributes"]["outcome"]) == ("ended", "long_term_care_home")
    # An episode that delivered reablement was that opportunity: no separate record is needed.
    reablement = make_service(client, user.headers, site=ic.site, model="reablement", capacity=5)
    other = ic.refer(NHS[5])["id"]
    ic.fire(other, "triage", priority="routine", planned_model="reablement")
    ic.fire(other, "start_reablement", service_id=reablement["id"])
    ic.fire(other, "record_transition_plan", **PLAN)
    assert ic.fire(other, "end_episode", outcome="long_term_care_home")["case"]["state"] == "ended"


def test_re_referral_under_the_contingency_plan_opens_a_linked_episode(
    client: TestClient, make_user
) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    home = make_service(client, user.headers, site=ic.site, model="home_based_ic", capacity=5)
    old = ic.refer(NHS[6])["id"]
    ic.fire(old, "triage", priority="routine", planned_model="home_based_ic")
    ic.fire(old, "start_home_based_ic", service_id=home["id"])
    ic.fire(old, "end_episode", outcome="independent", expect=409)  # no transition plan yet
    ic.fire(old, "record_transition_plan", **PLAN)
    ic.fire(old, "end_episode", outcome="independent")
    back = ic.fire(old, "re_refer", re_referrer="self_referral")
    assert (back["case"]["state"], back["event"]["event"]) == ("ended", "re_refer")
    links = back["case"]["links"]
    assert [(k["link_type"], k["direction"], k["workflow"], k["state"]) for k in links] == [
        ("re_referral", "outgoing", "intermediate_care", "referred")
    ]
    new = ic.case(links[0]["case_id"])
    assert (new["patient_ref"], new["site"], new["attributes"]) == (
        NHS[6],
        ic.site,
        {"direction": "step_up", "referrer": "self_referral", "previous_episode_id": old},
    )
    assert [(k["link_type"], k["direction"], k["case_id"], k["outcome"]) for k in new["links"]] == [
        ("re_referral", "incoming", old, "independent")
    ]
    # Without a contingency plan there is nothing to re-refer under.
    died = ic.refer(NHS[7])["id"]
    ic.fire(died, "end_episode", outcome="died")
    refused = ic.fire(died, "re_refer", expect=409)
    assert refused["reasons"] == [
        "This episode has no contingency plan to re-refer under; make a new referral."
    ]
    assert ic.fire(died, "close")["case"]["state"] == "closed"


def test_before_the_service_starts_only_an_exit_or_a_cancellation_ends_the_episode(
    client: TestClient, make_user
) -> None:
    user = make_user(*IC_TEAM)
    ic = Ic(client, user.headers, fresh_site())
    cid = ic.refer(NHS[8], direction="step_down", referrer="hospital")["id"]
    ic.fire(cid, "triage", priority="routine", planned_model="reablement")
    refused = ic.fire(cid, "end_episode", outcome="independent", expect=409)
    assert refused["reasons"] == [
        "The service has not started, so the outcome cannot be independent: end it only as "
        "readmitted_to_hospital or died, or cancel the referral."
    ]
    urgent = ic.fire(cid, "flag_urgent_response", expect=409)
    assert urgent["code"] == "invalid_transition"  # only from referred
    cancelled = ic.fire(cid, "cancel", cancel_reason="declined_by_person")["case"]
    assert (cancelled["state"], cancelled["is_open"]) == ("cancelled", False)
    step_down = ic.refer(NHS[9], direction="step_down", referrer="hospital")["id"]
    assert ic.fire(step_down, "flag_urgent_response", expect=409)["reasons"] == [
        "A 2-hour urgent community response is for step-up referrals from the community; "
        "this is a step-down referral."
    ]
