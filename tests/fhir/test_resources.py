"""What each resource says, against what the API and the read models say of the same case.

Every answer read here goes through `Fhir.get`, which parses it with `fhir.resources` and checks
the round trip (parse -> model -> JSON equal).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.fhir.encounter import ward_history
from app.models import CaseEvent
from tests.chc.helpers import ChcApi
from tests.discharge.helpers import NHS, TEAM, facts, fire, london
from tests.fhir.helpers import (
    NHS_SYSTEM,
    Fhir,
    claimed_chc,
    discharged,
    drd_of,
    ids,
    nhs_of,
    spell,
    waiting_episode,
)
from tests.helpers import Api
from tests.ic.helpers import IC_TEAM, Ic, fresh_site, make_service

UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _rfd(api: Api, site: str) -> dict[int, dict[str, Any]]:
    r = api.client.get("/api/v1/rfd", params={"site": site}, headers=api.headers)
    assert r.status_code == 200, r.text
    return {row["case_id"]: row for row in r.json()["items"]}


def test_an_encounter_is_the_spell_with_the_discharge_ready_date_of_the_rfd_list(
    client: TestClient, make_user
) -> None:
    team = make_user(*TEAM)
    api, fhir = Api(client, team.headers), Fhir(client, team.headers)
    site = fresh_site()
    waiting = spell(api, NHS[0], site=site, nctr_days_ago=3)
    # Met the criteria again, then stopped again: the DRD is the start of the current period.
    moved = spell(api, NHS[1], site=site, nctr_days_ago=6)
    fire(api, moved, "meets_ctr_again", days_ago=5)
    fire(api, moved, "not_meeting_ctr", days_ago=2)
    rfd = _rfd(api, site)
    assert set(rfd) == {waiting, moved}

    for case_id in (waiting, moved):
        encounter = fhir.read(f"Encounter/{case_id}")
        case = api.get(case_id).json()
        assert drd_of(encounter) == rfd[case_id]["discharge_ready_date"]
        assert drd_of(encounter) == facts(api, case_id)["discharge_ready_date"]
        assert encounter["id"] == str(case_id)
        assert encounter["status"] == "in-progress"
        assert encounter["class"]["code"] == "IMP"
        assert encounter["meta"]["profile"] == [f"{UK_CORE}Encounter"]
        assert encounter["meta"]["versionId"] == str(case["version"])
        assert at(encounter["meta"]["lastUpdated"]) == at(case["updated_at"])
        assert encounter["subject"] == {
            "identifier": {"system": NHS_SYSTEM, "value": case["patient_ref"]}
        }
        assert at(encounter["period"]["start"]) == at(case["attributes"]["admitted_at"])
        assert "end" not in encounter["period"]
        assert "hospitalization" not in encounter
        assert encounter["serviceProvider"]["identifier"]["value"] == "LUHFT"
    assert drd_of(fhir.read(f"Encounter/{moved}")) == london(2)[:10]


def test_a_finished_spell_ends_when_the_patient_left_with_its_destination(
    client: TestClient, make_user
) -> None:
    team = make_user(*TEAM)
    api, fhir = Api(client, team.headers), Fhir(client, team.headers)
    case_id = discharged(api, NHS[2], site=fresh_site(), destination="54")
    encounter = fhir.read(f"Encounter/{case_id}")
    derived = facts(api, case_id)
    assert encounter["status"] == "finished"
    assert at(encounter["period"]["end"]) == at(derived["left_hospital_at"]) == at(london(1))
    assert drd_of(encounter) == derived["discharge_ready_date"] == london(4)[:10]
    disposition = encounter["hospitalization"]["dischargeDisposition"]
    # PUBLISHED-RULES.md §2.8, England code system v1.0.1: "54 NHS run Care Home", the exact
    # display, sent in the coding (the labels used to be paraphrases, sent only as `text`).
    assert disposition["coding"] == [
        {
            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland",
            "code": "54",
            "display": "NHS run Care Home",
        }
    ]
    assert "text" not in disposition
    assert all(stay["status"] == "completed" for stay in encounter["location"])

    cancelled = spell(api, NHS[3], site=fresh_site(), nctr_days_ago=None)
    fire(api, cancelled, "cancel", data={"cancel_reason": "opened for the wrong patient"})
    assert fhir.read(f"Encounter/{cancelled}")["status"] == "cancelled"
    assert drd_of(fhir.read(f"Encounter/{cancelled}")) is None


def test_the_location_history_follows_the_ward_moves(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    api, fhir = Api(client, team.headers), Fhir(client, team.headers)
    case_id = spell(api, NHS[4], site=fresh_site(), nctr_days_ago=None)
    fire(api, case_id, "update_details", days_ago=6, data={"ward": "Ward 12"})
    fire(api, case_id, "update_details", days_ago=4, data={"responsible_person": "Sam Lee"})
    fire(api, case_id, "update_details", days_ago=2, data={"ward": "Ward 3"})
    stays = fhir.read(f"Encounter/{case_id}")["location"]
    assert [s["location"]["display"] for s in stays] == ["Ward 7", "Ward 12", "Ward 3"]
    assert [s["status"] for s in stays] == ["completed", "completed", "active"]
    starts = [at(london(10, 10)), at(london(6)), at(london(2))]
    assert [at(s["period"]["start"]) for s in stays] == starts
    assert [at(s["period"]["end"]) for s in stays[:2]] == [at(london(6)), at(london(2))]
    assert "end" not in stays[2]["period"]
    assert {s["physicalType"]["coding"][0]["code"] for s in stays} == {"wa"}


def _event(seq: int, name: str, hours: int, **data: Any) -> CaseEvent:
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)
    return CaseEvent(seq=seq, event=name, data=data, occurred_at=start + timedelta(hours=hours))


def test_ward_history_reads_transfers_and_beds_defensively() -> None:
    """The ADT feed's `ward_transfer` (ward and optional bed) and a `bed` on any event; events
    naming neither, or repeating where the patient is, are no move; clinical time orders."""
    left = datetime(2026, 3, 2, 8, tzinfo=UTC)
    events = [
        _event(1, "open", 0, ward="AMU", hospital_system="LUHFT"),
        _event(2, "ward_transfer", 3, ward="Ward 4", bed="12"),
        _event(4, "update_details", 5, responsible_person="Sam"),  # no ward, no bed
        _event(5, "ward_transfer", 6, ward="Ward 4", bed="12"),  # where they are already
        _event(3, "ward_transfer", 4, ward="Ward 4", bed="14"),  # backdated: before seq 5
        _event(6, "update_details", 7, bed="2"),  # a bed alone: same ward
        _event(7, "ward_transfer", 9, ward="Ward 9"),  # a ward without a bed
    ]
    stays = ward_history(events, left)
    assert [(s.ward, s.bed) for s in stays] == [
        ("AMU", None),
        ("Ward 4", "12"),
        ("Ward 4", "14"),
        ("Ward 4", "12"),
        ("Ward 4", "2"),
        ("Ward 9", None),
    ]
    assert [s.start.hour for s in stays] == [8, 11, 12, 14, 15, 17]
    assert [s.end for s in stays][-1] == left
    assert all(a.end == b.start for a, b in zip(stays, stays[1:], strict=False))
    assert ward_history([_event(1, "open", 0, ward="  ")], None) == []


def test_episodes_of_care_are_chc_cases_and_ic_episodes(client: TestClient, make_user) -> None:
    user = make_user("chc_assessor", "manager", *IC_TEAM)
    fhir = Fhir(client, user.headers)
    chc = ChcApi(client, user.headers).open_chc({}, patient_ref=NHS[5])
    waiting = waiting_episode(client, user.headers, NHS[6])
    site = fresh_site()
    service = make_service(client, user.headers, site=site, model="reablement", capacity=2)
    ic = Ic(client, user.headers, site)
    started = int(ic.refer(NHS[7])["id"])
    ic.fire(started, "triage", priority="high", planned_model="home_based_ic")
    ic.fire(started, "start_reablement", service_id=service["id"])

    chc_episode = fhir.read(f"EpisodeOfCare/{chc}")
    assert chc_episode["status"] == "waitlist"
    assert chc_episode["type"][0]["coding"][0]["code"] == "chc"
    assert nhs_of(chc_episode["patient"]) == NHS[5]
    assert chc_episode["managingOrganization"]["identifier"]["value"] == user.org
    assert chc_episode["meta"]["profile"] == [f"{UK_CORE}EpisodeOfCare"]
    waiting_episode_ = fhir.read(f"EpisodeOfCare/{waiting}")
    assert waiting_episode_["status"] == "waitlist"
    assert [t["coding"][0]["code"] for t in waiting_episode_["type"]] == [
        "intermediate-care",
        "reablement",  # the model planned, until care starts
    ]
    active = fhir.read(f"EpisodeOfCare/{started}")
    assert active["status"] == "active"
    assert [t["coding"][0]["code"] for t in active["type"]] == ["intermediate-care", "reablement"]
    assert "end" not in active["period"]

    ic.fire(started, "record_transition_plan", transition_plan="Visits", contingency_plan="Call")
    ic.fire(started, "end_episode", outcome="independent")
    ended = fhir.read(f"EpisodeOfCare/{started}")
    case = ic.case(started)
    assert ended["status"] == "finished"
    assert at(ended["period"]["end"]) == at(case["attributes"]["ended_at"])
    # A discharge case is not an episode of care, and an episode is not an encounter.
    fhir.get(f"Encounter/{chc}", expect=404)
    team = Api(client, make_user(*TEAM, org=user.org).headers)
    encounter_case = spell(team, NHS[8], site=fresh_site())
    fhir.get(f"EpisodeOfCare/{encounter_case}", expect=404)


def test_tasks_are_the_open_work(client: TestClient, make_user) -> None:
    user = make_user("chc_assessor", *TEAM, *IC_TEAM)
    api, fhir = Api(client, user.headers), Fhir(client, user.headers)
    claimed = claimed_chc(client, user.headers, NHS[0])
    waiting = waiting_episode(client, user.headers, NHS[1])
    delayed = spell(api, NHS[2], site=fresh_site(), nctr_days_ago=3, responsible_person="Jo Bloggs")
    fire(api, delayed, "open_delay", days_ago=2, data={"delay_code": "capacity-p1-services"})
    spell(api, NHS[3], site=fresh_site())  # ready, no delay: no task

    bundle = fhir.search("Task")
    assert ids(bundle) == sorted(
        [f"{claimed}-claim", f"{waiting}-start", f"{delayed}-delay"],
        key=lambda t: int(t.split("-")[0]),
    )
    claim = fhir.read(f"Task/{claimed}-claim")
    assert (claim["status"], claim["intent"]) == ("in-progress", "order")
    assert claim["focus"] == {"reference": f"EpisodeOfCare/{claimed}"}
    assert claim["owner"]["display"] == user.actor.username
    assert nhs_of(claim["for"]) == NHS[0]
    assert claim["meta"]["profile"] == [f"{UK_CORE}Task"]
    start = fhir.read(f"Task/{waiting}-start")
    assert start["status"] == "ready"
    assert start["focus"] == {"reference": f"EpisodeOfCare/{waiting}"}
    assert "Waiting for capacity" in start["businessStatus"]["text"]
    delay = fhir.read(f"Task/{delayed}-delay")
    assert delay["status"] == "in-progress"
    assert delay["focus"] == {"reference": f"Encounter/{delayed}"}
    assert delay["owner"] == {"display": "Jo Bloggs"}
    assert at(delay["authoredOn"]) == at(london(2))
    assert "capacity-p1-services" in delay["businessStatus"]["text"]
    assert {t["resource"]["status"] for t in bundle["entry"]} == {"ready", "in-progress"}

    # Work done is no longer a task: the claim released, the delay ended.
    ChcApi(client, user.headers).post(f"/queues/chc/{claimed}/release", reason="done for now")
    fhir.get(f"Task/{claimed}-claim", expect=404)
    fire(api, delayed, "end_delay", data={"delay_code": "capacity-p1-services"})
    fhir.get(f"Task/{delayed}-delay", expect=404)
    fhir.get(f"Task/{waiting}-claim", expect=404)  # another kind of work on the case
    assert ids(fhir.search("Task")) == [f"{waiting}-start"]


def test_a_flag_is_an_escalation_active_until_cleared(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    api, fhir = Api(client, team.headers), Fhir(client, team.headers)
    case_id = spell(api, NHS[9], site=fresh_site())
    fhir.get(f"Flag/{case_id}-escalation", expect=404)  # never escalated
    fire(api, case_id, "raise_escalation", days_ago=2, data={"escalation_reason": "No P1 slot"})
    flag = fhir.read(f"Flag/{case_id}-escalation")
    assert flag["status"] == "active"
    assert flag["code"]["text"] == "No P1 slot"
    assert flag["encounter"] == {"reference": f"Encounter/{case_id}"}
    assert at(flag["period"]["start"]) == at(london(2))
    assert "end" not in flag["period"]
    assert flag["meta"]["profile"] == [f"{UK_CORE}Flag"]

    fire(api, case_id, "clear_escalation", days_ago=1, data={"escalation_outcome": "Slot found"})
    flag = fhir.read(f"Flag/{case_id}-escalation")
    assert flag["status"] == "inactive"
    assert flag["code"]["text"] == "No P1 slot"  # the reason it was raised for
    assert at(flag["period"]["end"]) == at(london(1))
    assert ids(fhir.search("Flag", status="inactive")) == [f"{case_id}-escalation"]
    assert ids(fhir.search("Flag", status="active")) == []


def test_every_resource_type_served_parses_and_round_trips(client: TestClient, make_user) -> None:
    """One answer of each kind the FHIR interface gives, each parsed by fhir.resources and
    written back unchanged (`Fhir.get` checks the round trip of every answer)."""
    user = make_user("chc_assessor", *TEAM, *IC_TEAM)
    api, fhir = Api(client, user.headers), Fhir(client, user.headers)
    case_id = spell(api, NHS[0], site=fresh_site())
    fire(api, case_id, "raise_escalation", data={"escalation_reason": "No P1 slot"})
    episode = claimed_chc(client, user.headers, NHS[1])
    seen = {
        fhir.read(path)["resourceType"]
        for path in (
            "metadata",
            "StructureDefinition/discharge-ready-date",
            f"Encounter/{case_id}",
            f"EpisodeOfCare/{episode}",
            f"Task/{episode}-claim",
            f"Flag/{case_id}-escalation",
            "Encounter",
        )
    }
    seen.add(fhir.get("Encounter/0", expect=404).json()["resourceType"])
    assert seen == {
        "CapabilityStatement",
        "StructureDefinition",
        "Encounter",
        "EpisodeOfCare",
        "Task",
        "Flag",
        "Bundle",
        "OperationOutcome",
    }


def test_a_destination_label_that_is_not_the_published_display_goes_in_text() -> None:
    """Only the code system's exact display is sent as `Coding.display` (PUBLISHED-RULES.md row
    38); a label marked `verbatim: false` is HomeFirst's wording and is sent as `text`."""
    from datetime import date

    from app.codelists import CodeSet, CodeSetRegistry
    from app.fhir.encounter import _destination
    from app.fhir.systems import DISCHARGE_DESTINATION_LIST, DISCHARGE_DESTINATION_SYSTEM

    def registry(verbatim: bool) -> CodeSetRegistry:
        listed = CodeSet.model_validate(
            {
                "key": DISCHARGE_DESTINATION_LIST,
                "version": "test",
                "title": "t",
                "source": "s",
                "valid_from": date(2022, 1, 7),
                "system": DISCHARGE_DESTINATION_SYSTEM,
                "status": "verified",
                "codes": [{"code": "37", "label": "Court", "verbatim": verbatim}],
            }
        )
        return CodeSetRegistry({DISCHARGE_DESTINATION_LIST: [listed]})

    left = datetime(2026, 3, 1, 12, tzinfo=UTC)
    exact = _destination("37", left, registry(True))
    assert exact == {
        "coding": [{"system": DISCHARGE_DESTINATION_SYSTEM, "code": "37", "display": "Court"}]
    }
    paraphrase = _destination("37", left, registry(False))
    assert paraphrase == {
        "coding": [{"system": DISCHARGE_DESTINATION_SYSTEM, "code": "37"}],
        "text": "Court",
    }
    # Before the list's first day, or an unknown code: the code alone.
    assert _destination("37", datetime(2020, 1, 1, tzinfo=UTC), registry(True)) == {
        "coding": [{"system": DISCHARGE_DESTINATION_SYSTEM, "code": "37"}]
    }
