"""A patient walked through every D2A pathway over HTTP, with the Home First refusals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS, TEAM, facts, fire, london, open_case, today
from tests.helpers import Api


@pytest.fixture
def api(client: TestClient, make_user) -> Api:
    return Api(client, make_user(*TEAM).headers)


def _to_ready(api: Api, nhs: str, site: str = "AINTREE", **data) -> int:  # noqa: ANN003
    case = open_case(api, nhs, site=site, **data)
    assert (case["state"], case["patient_ref"]) == ("referred", nhs)
    fire(api, case["id"], "accept", days_ago=9, data={"responsible_person": "Sam Okoro"})
    fire(api, case["id"], "not_meeting_ctr", days_ago=4)
    return int(case["id"])


@pytest.mark.parametrize(
    ("pathway", "destination", "extra", "setup"),
    [
        ("P0", "19", {}, []),
        # The 2024 acute destination list: "Pathway 1: Discharge to a domestic home, hotel, or
        # other temporary accommodation, or hospice at home with rehabilitation, reablement and
        # recovery" (the 2023 list closed on 27 May 2024).
        ("P1", "19", {"sitrep_destination": "p1-home-rehab"}, []),
        ("P2", "85", {}, []),
        (
            "P3",
            "85",
            {
                "exceptional_reason": "Needs 24-hour nursing; reablement declined twice",
                "exceptional_approver": "Dr R Shah",
            },
            [("record_ic_offer", {"ic_offer_response": "declined"})],
        ),
        ("P3b", "85", {}, []),
    ],
)
def test_each_pathway_end_to_end(
    api: Api, pathway: str, destination: str, extra: dict, setup: list
) -> None:
    resident = pathway == "P3b"
    case_id = _to_ready(api, NHS[0], care_home_resident=resident)
    fire(api, case_id, "set_pathway", data={"pathway": pathway})
    for event, data in setup:
        fire(api, case_id, event, data=data)
    done = fire(
        api,
        case_id,
        "discharge",
        days_ago=1,
        data={"discharge_pathway": pathway, "destination_code": destination, **extra},
    )
    assert done["case"]["state"] == "discharged"
    assert done["case"]["attributes"]["discharge_pathway"] == pathway
    assert done["event"]["data"]["_codelists"]["destination_code"] == (
        "ukcore-discharge-destination@2.1.0"
    )
    fire(api, case_id, "start_follow_up")
    closed = fire(api, case_id, "close", data={"welfare_check_outcome": "settled"})
    assert (closed["case"]["state"], closed["case"]["is_open"]) == ("closed", False)
    derived = facts(api, case_id)
    assert derived["discharge_ready_date"] == str(today().fromordinal(today().toordinal() - 4))
    assert derived["days_delayed"] == 3
    assert derived["planned_pathway"] == pathway
    assert derived["discharge_pathway"] == pathway
    assert [p["actual"] for p in derived["pathway_history"]][-1] is True


def test_pathway_change_needs_a_reason_and_keeps_history(api: Api) -> None:
    case_id = _to_ready(api, NHS[1])
    fire(api, case_id, "set_pathway", data={"pathway": "P2"})
    refused = fire(api, case_id, "set_pathway", data={"pathway": "P1"}, expect=409)
    assert refused["reasons"] == ["The pathway is already P2; give a reason for changing it."]
    fire(
        api,
        case_id,
        "set_pathway",
        data={"pathway": "P1"},
        reason="Therapy review: can manage at home with reablement",
    )
    fire(api, case_id, "discharge", data={"discharge_pathway": "P1", "destination_code": "19"})
    history = facts(api, case_id)["pathway_history"]
    assert [(h["pathway"], h["actual"], h["reason"]) for h in history] == [
        ("P2", False, None),
        ("P1", False, "Therapy review: can manage at home with reablement"),
        ("P1", True, None),
    ]
    assert facts(api, case_id)["planned_pathway"] == "P1"


def test_criteria_met_again_moves_the_discharge_ready_date(api: Api) -> None:
    case_id = _to_ready(api, NHS[2])  # NCTR from 4 days ago
    assert facts(api, case_id)["discharge_ready_date"] == str(_day(4))
    fire(
        api, case_id, "meets_ctr_again", days_ago=3, data={"ctr_note": "New sepsis; IV antibiotics"}
    )
    assert facts(api, case_id)["discharge_ready_date"] is None  # no current NCTR period
    fire(api, case_id, "not_meeting_ctr", days_ago=1)
    derived = facts(api, case_id)
    assert derived["discharge_ready_date"] == str(_day(1))
    assert derived["days_delayed"] == 1
    assert [c["meets_criteria"] for c in derived["ctr_log"]] == [False, True, False]
    assert len(derived["nctr_periods"]) == 2
    fire(api, case_id, "discharge", data={"discharge_pathway": "P0", "destination_code": "19"})
    # Finished spell: the final period counts, the first one never does.
    assert facts(api, case_id)["discharge_ready_date"] == str(_day(1))


def test_two_overlapping_delay_reasons(api: Api) -> None:
    case_id = _to_ready(api, NHS[3])
    first = fire(
        api,
        case_id,
        "open_delay",
        days_ago=3,
        data={"delay_code": "hospital-medicines-to-take-home", "support_area": "other"},
    )
    assert first["case"]["state"] == "awaiting_support"
    fire(
        api,
        case_id,
        "open_delay",
        days_ago=2,
        data={"delay_code": "capacity-p1-services", "support_area": "reablement_start"},
    )
    refused = fire(
        api, case_id, "open_delay", data={"delay_code": "capacity-p1-services"}, expect=409
    )
    assert refused["reasons"] == [
        "Delay reason 'capacity-p1-services' is already open for this patient."
    ]
    derived = facts(api, case_id)
    assert [(d["code"], d["ended_at"]) for d in derived["delays"]] == [
        ("hospital-medicines-to-take-home", None),
        ("capacity-p1-services", None),
    ]
    # Capacity outranks Hospital process (configured family precedence).
    assert derived["primary_reason"]["code"] == "capacity-p1-services"
    assert derived["primary_reason"]["rule"] == "ranked"
    # Marking one primary overrides the ranking.
    fire(api, case_id, "set_primary_delay", data={"delay_code": "hospital-medicines-to-take-home"})
    assert facts(api, case_id)["primary_reason"]["rule"] == "marked_primary"
    # Ending one keeps the patient waiting; ending the last returns them to ready.
    still = fire(
        api,
        case_id,
        "end_delay",
        days_ago=1,
        data={"delay_code": "hospital-medicines-to-take-home"},
    )
    assert still["case"]["state"] == "awaiting_support"
    assert still["case"]["attributes"]["open_delays"] == ["capacity-p1-services"]
    ready = fire(api, case_id, "end_delay", data={"delay_code": "capacity-p1-services"})
    assert ready["case"]["state"] == "ready_for_discharge"
    periods = facts(api, case_id)["delays"]
    assert [(p["code"], p["started_at"], p["ended_at"] is not None) for p in periods] == [
        ("hospital-medicines-to-take-home", london(3), True),
        ("capacity-p1-services", london(2), True),
    ]
    assert periods[0]["ended_at"] == london(1)
    assert periods[0]["label"] == "Hospital process – medicines to take home"
    assert periods[1]["label"] == (
        "Capacity – Home-based rehabilitation, reablement or recovery services not yet "
        "available (Pathway 1)"
    )
    assert periods[1]["codelist"] == "delay-reasons-acute@2024-04-30"


def test_discharge_closes_open_delay_periods(api: Api) -> None:
    case_id = _to_ready(api, NHS[4])
    fire(api, case_id, "open_delay", days_ago=2, data={"delay_code": "capacity-equipment"})
    done = fire(
        api, case_id, "discharge", data={"discharge_pathway": "P1", "destination_code": "19"}
    )
    assert done["case"]["attributes"]["open_delays"] == []
    delays = facts(api, case_id)["delays"]
    assert delays[0]["ended_at"] == done["event"]["occurred_at"]
    # The primary reason for the return is still the one open at the moment of discharge.
    assert facts(api, case_id)["primary_reason"]["code"] == "capacity-equipment"


def test_first_time_care_home_refusals(api: Api) -> None:
    case_id = _to_ready(api, NHS[5])
    refused = fire(
        api,
        case_id,
        "discharge",
        data={"discharge_pathway": "P3", "destination_code": "85"},
        expect=409,
    )
    assert refused["code"] == "guard_rejected"
    assert refused["reasons"] == [
        "Home First: record that intermediate care or reablement was offered before a "
        "first-time care home placement.",
        "A first-time care home placement straight from hospital needs the exceptional reason "
        "and the name of the person who approved it.",
    ]
    fire(api, case_id, "record_ic_offer", data={"ic_offer_response": "declined"})
    refused = fire(
        api,
        case_id,
        "discharge",
        data={"discharge_pathway": "P3", "destination_code": "85"},
        expect=409,
    )
    assert len(refused["reasons"]) == 1
    wrong = fire(
        api,
        case_id,
        "discharge",
        data={"discharge_pathway": "P3b", "destination_code": "85"},
        expect=409,
    )
    assert wrong["reasons"] == [
        "Pathway P3b is for care-home residents returning home; this patient was not one."
    ]
    assert api.get(case_id).json()["state"] == "ready_for_discharge"


def test_existing_resident_cannot_be_recorded_as_first_time_placement(api: Api) -> None:
    case_id = _to_ready(api, NHS[6], care_home_resident=True)
    refused = fire(
        api,
        case_id,
        "discharge",
        data={
            "discharge_pathway": "P3",
            "destination_code": "85",
            "exceptional_reason": "x",
            "exceptional_approver": "y",
        },
        expect=409,
    )
    assert refused["reasons"][0] == (
        "The patient already lived in a care home: a return there is pathway P3b, not P3."
    )


def test_mental_health_involvement_guards(api: Api) -> None:
    case_id = _to_ready(api, NHS[7], mh_known_to_services=True, mh_new_concern=True)
    body = {"discharge_pathway": "P1", "destination_code": "19"}
    refused = fire(api, case_id, "discharge", data=body, expect=409)
    assert refused["reasons"] == [
        "The patient is known to mental health services: record the care coordinator's or "
        "mental health clinician's involvement in discharge planning first.",
        "There is a new mental health concern: record the psychiatric liaison referral first.",
    ]
    fire(api, case_id, "record_mh_involvement", data={"mh_involvement_role": "care_coordinator"})
    refused = fire(api, case_id, "discharge", data=body, expect=409)
    assert refused["reasons"] == [
        "There is a new mental health concern: record the psychiatric liaison referral first."
    ]
    fire(api, case_id, "record_mh_involvement", data={"mh_involvement_role": "psychiatric_liaison"})
    assert fire(api, case_id, "discharge", data=body)["case"]["state"] == "discharged"


def test_funding_question_never_blocks_discharge(api: Api) -> None:
    case_id = _to_ready(api, NHS[8])
    fire(
        api, case_id, "raise_funding_question", data={"funding_question": "Who funds the package?"}
    )
    fire(api, case_id, "open_delay", data={"delay_code": "funding-continuing-healthcare"})
    allowed = {a["event"]: a for a in api.get(case_id).json()["allowed_events"]}
    assert allowed["discharge"]["allowed"] is True
    done = fire(
        api, case_id, "discharge", data={"discharge_pathway": "P1", "destination_code": "19"}
    )
    assert done["case"]["attributes"]["funding_follow_up"] == "open"
    # The follow-up stays open after discharge and is resolved later.
    resolved = fire(api, case_id, "resolve_funding_question")
    assert resolved["case"]["attributes"]["funding_follow_up"] == "resolved"


def test_time_rules(api: Api) -> None:
    case = open_case(api, NHS[9], site="AINTREE", admitted_days_ago=5)
    case_id = case["id"]
    r = api.fire(case_id, "not_meeting_ctr", occurred_at=london(2), expect=422).json()
    assert (r["code"], r["detail"]) == ("invalid_time", "a backdated event needs a reason")
    r = api.fire(case_id, "not_meeting_ctr", occurred_at=london(6), reason="x", expect=422).json()
    assert r["detail"] == "occurred_at is before admitted_at"
    r = api.fire(case_id, "not_meeting_ctr", occurred_at=london(-2), expect=422).json()
    assert r["detail"] == "occurred_at is in the future"
    fire(api, case_id, "not_meeting_ctr", days_ago=2)
    fire(api, case_id, "meets_ctr_again", days_ago=1)
    r = api.fire(case_id, "not_meeting_ctr", occurred_at=london(3), reason="late", expect=422)
    assert r.json()["detail"] == "occurred_at is before the case's previous 'not_meeting_ctr' event"
    # A referral logged before the admission itself is refused too.
    bad = open_case(api, NHS[0], site="AINTREE", admitted_days_ago=-1, expect=422)
    assert bad["code"] in ("invalid_time", "validation_failed")


def test_case_data_is_validated(api: Api) -> None:
    r = api.create(
        "discharge",
        site="AINTREE",
        patient_ref="9990000019",
        data={"hospital_system": "LUHFT", "ward": "7", "admitted_at": london(2)},
        expect=422,
    )
    assert r.json()["errors"][0]["loc"] == ["body", "patient_ref"]
    r = api.create(
        "discharge",
        site="AINTREE",
        patient_ref="LOCAL-123",
        data={"hospital_system": "LUHFT", "ward": "7", "admitted_at": london(0, 0)},
        expect=422,
    )
    assert r.json()["errors"] == [
        {"field": "patient_ref", "problem": "a valid NHS number is required"}
    ]
    r = api.create("discharge", site="AINTREE", patient_ref=NHS[0], data={"ward": "7"}, expect=422)
    assert {e["field"] for e in r.json()["errors"]} == {"hospital_system", "admitted_at"}
    case_id = _to_ready(api, NHS[1])
    r = api.fire(case_id, "open_delay", data={"delay_code": "not-a-code"}, expect=422)
    assert r.json()["errors"] == [
        {"field": "delay_code", "problem": "is not a current code in delay-reasons-acute"}
    ]
    r = api.fire(
        case_id, "discharge", data={"discharge_pathway": "P4", "destination_code": "19"}, expect=422
    )
    assert r.json()["errors"][0]["field"] == "discharge_pathway"


def test_escalation_flag_in_any_open_state(api: Api) -> None:
    case = open_case(api, NHS[2], site="AINTREE")
    raised = fire(api, case["id"], "raise_escalation", data={"escalation_reason": "Complex family"})
    assert raised["case"]["attributes"]["escalated"] is True
    assert raised["case"]["state"] == "referred"
    again = fire(api, case["id"], "raise_escalation", data={"escalation_reason": "x"}, expect=409)
    assert again["reasons"] == ["The patient is already on the escalation list."]
    cleared = fire(api, case["id"], "clear_escalation", data={"escalation_outcome": "Agreed plan"})
    assert cleared["case"]["attributes"]["escalated"] is False
    events = [e["event"] for e in api.history(case["id"])]
    assert events == ["open", "raise_escalation", "clear_escalation"]


def test_exits_close_delays_and_end_the_case(api: Api) -> None:
    case_id = _to_ready(api, NHS[3])
    fire(api, case_id, "open_delay", data={"delay_code": "capacity-equipment"})
    moved = fire(api, case_id, "transfer", data={"transferred_to": "Royal Preston Hospital"})
    assert (moved["case"]["state"], moved["case"]["is_open"]) == ("transferred", False)
    assert facts(api, case_id)["delays"][0]["ended_at"] is not None
    assert fire(api, case_id, "cancel", data={"cancel_reason": "x"}, expect=409)["code"] == (
        "invalid_transition"
    )


def _day(days_ago: int):  # noqa: ANN202
    from datetime import timedelta

    return today() - timedelta(days=days_ago)
