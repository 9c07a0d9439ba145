"""IC services and capacity: definition and audit, refusal over capacity and its override,
occupancy, and the waiting list ordered by need then time waited."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS
from tests.ic.helpers import IC_TEAM, PLAN, Ic, fresh_site, london_at, make_service

OVERRIDE = "Only bed in the borough tonight; agreed with the IC lead on call"


def test_services_are_defined_by_managers_and_every_change_is_audited(
    client: TestClient, make_user
) -> None:
    manager = make_user("manager")
    clerk = make_user(*IC_TEAM, org=manager.org)  # services are their organisation's own
    site = fresh_site()
    code = f"REAB-{uuid.uuid4().hex[:6].upper()}"
    body = {"code": code, "name": "Reablement North", "site": site, "model": "reablement"}
    body["capacity"] = 3
    url = "/api/v1/ic/services"
    denied = client.post(url, headers=clerk.headers, json=body)
    assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
    assert denied.json()["required_roles"] == ["admin", "manager"]
    created = client.post(url, headers=manager.headers, json=body)
    assert created.status_code == 201, created.text
    service = created.json()
    assert created.headers["Location"] == f"/api/v1/ic/services/{service['id']}"
    assert {k: service[k] for k in ("code", "organisation", "unit", "capacity", "occupied")} == {
        "code": code,
        "organisation": manager.org,
        "unit": "slots",
        "capacity": 3,
        "occupied": 0,
    }
    assert (service["free"], service["over_capacity"], service["active"]) == (3, False, True)
    again = client.post(url, headers=manager.headers, json=body)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    bad = client.post(url, headers=manager.headers, json={**body, "model": "respite"})
    assert bad.status_code == 422
    one = f"{url}/{service['id']}"
    assert client.patch(one, headers=manager.headers, json={"capacity": 5}).status_code == 422
    changed = client.patch(
        one, headers=manager.headers, json={"capacity": 5, "reason": "Winter funding"}
    )
    assert (changed.status_code, changed.json()["capacity"]) == (200, 5)
    same = client.patch(one, headers=manager.headers, json={"capacity": 5, "reason": "again"})
    assert same.status_code == 200
    forbidden = client.patch(one, headers=clerk.headers, json={"capacity": 9, "reason": "x"})
    assert forbidden.status_code == 403
    audit = client.get(f"{one}/changes", headers=clerk.headers).json()
    assert [(a["action"], a["changes"], a["reason"], a["by"]) for a in audit] == [
        (
            "created",
            {
                "code": code,
                "name": "Reablement North",
                "site": site,
                "model": "reablement",
                "capacity": 3,
                "active": True,
            },
            None,
            manager.actor.username,
        ),
        ("updated", {"capacity": [3, 5]}, "Winter funding", manager.actor.username),
    ]
    listed = client.get(url, headers=clerk.headers, params={"site": site}).json()
    assert [(s["id"], s["capacity"]) for s in listed] == [(service["id"], 5)]
    none = client.get(url, headers=clerk.headers, params={"site": site, "model": "bed_based_ic"})
    assert none.json() == []
    missing = client.get(f"{url}/999999999", headers=clerk.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def _ready(ic: Ic, nhs: str, model: str = "bed_based_ic") -> int:
    cid = int(ic.refer(nhs)["id"])
    ic.fire(cid, "triage", priority="high", planned_model=model)
    return cid


def test_starting_over_capacity_is_refused_unless_overridden(client: TestClient, make_user) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    beds = make_service(client, user.headers, site=ic.site, model="bed_based_ic", capacity=1)
    first, second = _ready(ic, NHS[0]), _ready(ic, NHS[1])
    ic.fire(first, "start_bed_based_ic", service_id=beds["id"])
    refused = ic.fire(second, "start_bed_based_ic", service_id=beds["id"], expect=409)
    full = (
        f"{beds['name']} is full: 1 of 1 beds in use. Choose another service, or give "
        "capacity_override_reason to go over capacity."
    )
    assert (refused["code"], refused["reasons"]) == ("guard_rejected", [full])
    assert ic.case(second)["state"] == "triaged"
    started = ic.fire(
        second, "start_bed_based_ic", service_id=beds["id"], capacity_override_reason=OVERRIDE
    )
    assert started["case"]["state"] == "active"
    assert started["event"]["data"] == {
        "service_id": beds["id"],
        "capacity_override_reason": OVERRIDE,
    }
    assert "capacity_override_reason" not in started["case"]["attributes"]
    occupancy = ic.get(f"/services/{beds['id']}/occupancy")
    service = occupancy["service"]
    assert (service["occupied"], service["free"], service["over_capacity"]) == (2, 0, True)
    assert [(o["case_id"], o["state"], o["model"]) for o in occupancy["occupants"]] == [
        (first, "active", "bed_based_ic"),
        (second, "active", "bed_based_ic"),
    ]
    # Moving into a full service is refused in the same words.
    crisis = make_service(client, user.headers, site=ic.site, model="crisis_response", capacity=2)
    third = int(ic.refer(NHS[2])["id"])
    ic.fire(third, "start_crisis_response", service_id=crisis["id"])
    move = {"service_id": beds["id"], "move_reason": "Needs 24-hour care for a week"}
    refused = ic.fire(third, "move_to_bed_based_ic", expect=409, **move)
    assert refused["reasons"] == [full.replace("1 of 1", "2 of 1")]
    ic.fire(third, "move_to_bed_based_ic", capacity_override_reason=OVERRIDE, **move)
    assert ic.get(f"/services/{beds['id']}")["occupied"] == 3
    # Leaving frees the bed; a delayed exit still holds it.
    ic.fire(first, "record_transition_plan", **PLAN)
    ic.fire(first, "await_ongoing_package", awaited_package="home_care")
    assert ic.get(f"/services/{beds['id']}")["occupied"] == 3
    ic.fire(first, "end_episode", outcome="ongoing_package")
    assert ic.get(f"/services/{beds['id']}")["occupied"] == 2


def test_the_service_must_exist_be_open_and_deliver_the_model(
    client: TestClient, make_user
) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    reablement = make_service(client, user.headers, site=ic.site, model="reablement", capacity=4)
    cid = _ready(ic, NHS[3])
    wrong = ic.fire(cid, "start_bed_based_ic", service_id=reablement["id"], expect=409)
    assert wrong["reasons"] == [f"{reablement['name']} delivers reablement, not bed-based IC."]
    unknown = ic.fire(cid, "start_bed_based_ic", service_id=999999999, expect=409)
    assert unknown["reasons"] == ["There is no IC service 999999999."]
    r = client.patch(
        f"/api/v1/ic/services/{reablement['id']}",
        headers=user.headers,
        json={"active": False, "reason": "Team suspended"},
    )
    assert (r.status_code, r.json()["active"]) == (200, False)
    closed = ic.fire(cid, "start_reablement", service_id=reablement["id"], expect=409)
    assert closed["reasons"] == [f"{reablement['name']} is closed to new starts."]
    missing = ic.fire(cid, "start_reablement", expect=422)
    assert missing["errors"] == [{"field": "service_id", "problem": "required"}]


def test_waiting_list_is_ordered_by_need_then_time_waited(client: TestClient, make_user) -> None:
    user = make_user(*IC_TEAM)
    ic = Ic(client, user.headers, fresh_site())
    plan = [
        ("routine", 3, "home_based_ic"),
        ("urgent", 1, "bed_based_ic"),
        ("high", 2, "bed_based_ic"),
        ("routine", 2, "bed_based_ic"),
    ]
    ids = []
    for n, (priority, days_ago, model) in enumerate(plan):
        cid = int(ic.refer(NHS[n], at=london_at(days_ago, 10))["id"])
        ic.fire(cid, "triage", at=london_at(days_ago, 11), priority=priority, planned_model=model)
        ic.fire(cid, "await_capacity", at=london_at(days_ago, 12))
        ids.append(cid)
    not_waiting = _ready(ic, NHS[5])  # triaged, not yet waiting for capacity
    listed = ic.get("/waiting-list", site=ic.site)
    assert listed["order"] == ["urgent", "high", "routine"]
    assert [r["case_id"] for r in listed["items"]] == [ids[1], ids[2], ids[0], ids[3]]
    assert not_waiting not in [r["case_id"] for r in listed["items"]]
    as_of = datetime.fromisoformat(listed["as_of"])
    oldest = listed["items"][2]
    assert (oldest["priority"], oldest["planned_model"], oldest["direction"]) == (
        "routine",
        "home_based_ic",
        "step_up",
    )
    assert datetime.fromisoformat(oldest["referred_at"]) == london_at(3, 10)
    assert datetime.fromisoformat(oldest["waiting_since"]) == london_at(3, 12)
    assert oldest["hours_since_referral"] == round(
        (as_of - london_at(3, 10)).total_seconds() / 3600, 1
    )
    assert datetime.fromisoformat(oldest["start_due_at"]) == london_at(3, 10) + timedelta(days=2)
    assert (oldest["start_overdue"], listed["items"][0]["start_overdue"]) == (True, False)
    beds = ic.get("/waiting-list", site=ic.site, planned_model="bed_based_ic")
    assert [r["case_id"] for r in beds["items"]] == [ids[1], ids[2], ids[3]]


def _race_to_start(
    server: str, headers: dict[str, str], starts: dict[int, str], service_id: int
) -> list[httpx.Response]:
    """Fire start_bed_based_ic on each case (id -> ETag) at the same moment."""
    barrier, results = threading.Barrier(len(starts)), []

    def start(cid: int) -> None:
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            results.append(
                http.post(
                    f"{server}/api/v1/cases/{cid}/events",
                    json={"event": "start_bed_based_ic", "data": {"service_id": service_id}},
                    headers={**headers, "If-Match": starts[cid]},
                )
            )

    threads = [threading.Thread(target=start, args=(cid,)) for cid in starts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_coordinators_racing_for_the_last_bed_cannot_both_have_it(
    live_server: str, client: TestClient, make_user
) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    for round_ in range(3):  # several rounds: a lucky interleaving must not hide a race
        beds = make_service(client, user.headers, site=ic.site, model="bed_based_ic", capacity=1)
        cases = [_ready(ic, NHS[2 * round_]), _ready(ic, NHS[2 * round_ + 1])]
        etags = {cid: ic.api.get(cid).headers["ETag"] for cid in cases}
        results = _race_to_start(live_server, user.headers, etags, beds["id"])
        assert sorted(r.status_code for r in results) == [200, 409]
        refused = next(r for r in results if r.status_code == 409).json()
        assert refused["reasons"][0].startswith(f"{beds['name']} is full: 1 of 1 beds in use.")
        assert ic.get(f"/services/{beds['id']}")["occupied"] == 1
