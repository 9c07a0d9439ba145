"""Links between cases, the days-delayed clock, and replay of discharge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from app.cases.repository import CaseRepository
from app.clocks.repository import ClockRepository
from app.clocks.sweeper import sweep
from app.engine.replay import replay
from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api


def test_linked_case_is_visible_from_both_sides(client: TestClient, make_user) -> None:
    user = make_user(*TEAM, "ic_coordinator")
    api = Api(client, user.headers)
    source = open_case(api, NHS[0], site="SOUTHPORT")
    r = client.post(
        f"/api/v1/cases/{source['id']}/links",
        headers={**user.headers, "Idempotency-Key": "link-1"},
        json={
            "workflow": "sample-referral",
            "link_type": "related",
            "data": {"priority": "routine"},
        },
    )
    assert r.status_code == 201, r.text
    target = r.json()
    assert target["patient_ref"] == NHS[0]
    assert target["site"] == "SOUTHPORT"
    assert r.headers["Location"] == f"/api/v1/cases/{target['id']}"
    again = client.post(
        f"/api/v1/cases/{source['id']}/links",
        headers={**user.headers, "Idempotency-Key": "link-1"},
        json={
            "workflow": "sample-referral",
            "link_type": "related",
            "data": {"priority": "routine"},
        },
    )
    assert again.json()["id"] == target["id"]
    from_source = api.get(source["id"]).json()["links"]
    assert [
        (link["direction"], link["case_id"], link["workflow"], link["link_type"])
        for link in from_source
    ] == [("outgoing", target["id"], "sample-referral", "related")]
    from_target = api.get(target["id"]).json()["links"]
    assert [(link["direction"], link["case_id"]) for link in from_target] == [
        ("incoming", source["id"])
    ]
    listed = client.get(f"/api/v1/cases/{target['id']}/links", headers=user.headers).json()
    assert listed == from_target
    bad = client.post(
        f"/api/v1/cases/{source['id']}/links",
        headers=user.headers,
        json={"workflow": "sample-referral", "link_type": "cousin"},
    )
    assert bad.status_code == 422
    missing = client.post(
        "/api/v1/cases/999999999/links",
        headers=user.headers,
        json={
            "workflow": "sample-referral",
            "link_type": "related",
            "data": {"priority": "routine"},
        },
    )
    assert missing.status_code == 404


def test_days_delayed_clock_warns_at_7_and_14_and_breaches_at_21(
    client: TestClient, sessions, make_user
) -> None:
    api = Api(client, make_user(*TEAM).headers)
    case = open_case(api, NHS[1], site="AINTREE", admitted_days_ago=30)
    fire(api, case["id"], "not_meeting_ctr", days_ago=25)
    clock = next(c for c in api.get(case["id"]).json()["clocks"] if c["name"] == "days_delayed")
    assert clock["overdue"] is True
    start = datetime.fromisoformat(clock["started_at"])
    assert datetime.fromisoformat(clock["due_at"]) == start + timedelta(days=21)
    sweep(sessions, now=datetime.now(UTC))
    with sessions() as session:
        evidence = [
            (e.kind, e.at - start) for e in ClockRepository(session).evidence_for_case(case["id"])
        ]
    assert evidence == [
        ("started", timedelta(0)),
        ("warning", timedelta(days=7)),
        ("warning", timedelta(days=14)),
        ("breach", timedelta(days=21)),
    ]
    # Meeting the criteria stops it; a new NCTR period starts a fresh cycle.
    fire(api, case["id"], "meets_ctr_again", days_ago=2)
    fire(api, case["id"], "not_meeting_ctr", days_ago=1)
    clocks = [c for c in api.get(case["id"]).json()["clocks"] if c["name"] == "days_delayed"]
    assert [(c["cycle"], c["state"]) for c in clocks] == [(1, "stopped"), (2, "running")]


def test_replay_reproduces_discharge_cases(client: TestClient, sessions, engine, make_user) -> None:
    api = Api(client, make_user(*TEAM).headers)
    case = open_case(api, NHS[2], site="AINTREE", mh_known_to_services=True)
    cid = case["id"]
    fire(api, cid, "accept", days_ago=9, data={"pathway": "P2"})
    fire(api, cid, "not_meeting_ctr", days_ago=5)
    fire(
        api,
        cid,
        "open_delay",
        days_ago=4,
        data={"delay_code": "capacity-equipment", "delay_primary": True},
    )
    fire(api, cid, "open_delay", days_ago=3, data={"delay_code": "hospital-patient-transport"})
    fire(api, cid, "end_delay", days_ago=2, data={"delay_code": "capacity-equipment"})
    fire(api, cid, "raise_escalation", data={"escalation_reason": "long wait"})
    fire(api, cid, "record_mh_involvement", data={"mh_involvement_role": "mh_clinician"})
    fire(api, cid, "discharge", data={"discharge_pathway": "P2", "destination_code": "85"})
    with sessions() as session:
        stored = CaseRepository(session).get(cid)
        projection = replay(engine.catalogue, CaseRepository(session).events(cid))
    assert projection.problems == []
    assert (projection.state, projection.version, projection.attributes) == (
        stored.state,
        stored.version,
        stored.attributes,
    )
    assert stored.attributes["open_delays"] == []
    assert stored.attributes["mh_involvement"] == ["mh_clinician"]


def test_discharge_attaches_to_an_episode_opened_earlier(client: TestClient, make_user) -> None:
    user = make_user(*TEAM)
    api = Api(client, user.headers)
    case = open_case(api, NHS[3], site="AINTREE")
    fire(api, case["id"], "not_meeting_ctr", days_ago=2)
    early = client.post(
        f"/api/v1/cases/{case['id']}/links",
        headers=user.headers,
        json={
            "workflow": "intermediate_care",
            "link_type": "step_down",
            "data": {"direction": "step_down", "referrer": "hospital"},
        },
    )
    assert early.status_code == 201, early.text
    fire(api, case["id"], "discharge", data={"discharge_pathway": "P1", "destination_code": "19"})
    links = api.get(case["id"]).json()["links"]
    assert [(link["link_type"], link["case_id"]) for link in links] == [
        ("step_down", early.json()["id"])
    ]
    # Without an open episode, discharge on P2 opens one.
    other = open_case(api, NHS[4], site="AINTREE")
    fire(api, other["id"], "not_meeting_ctr", days_ago=1)
    fire(api, other["id"], "discharge", data={"discharge_pathway": "P2", "destination_code": "85"})
    opened = api.get(other["id"]).json()["links"]
    assert [(link["link_type"], link["workflow"]) for link in opened] == [
        ("step_down", "intermediate_care")
    ]
