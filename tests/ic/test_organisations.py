"""IC services belong to their organisation: another organisation's service is 404 to read,
change or audit, absent from lists and reports, and cannot be filled with its people. An episode
owned by one organisation and shared with the provider starts in the provider's own service."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS
from tests.ic.helpers import IC_TEAM, Ic, fresh_site, make_service


def _ready(ic: Ic, nhs: str, model: str = "bed_based_ic") -> int:
    cid = int(ic.refer(nhs)["id"])
    ic.fire(cid, "triage", priority="high", planned_model=model)
    return cid


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_another_organisations_service_is_404_and_left_alone(
    client: TestClient, make_user, role: str
) -> None:
    owner = make_user(*IC_TEAM, "manager")
    stranger = make_user(*IC_TEAM, role)
    ic = Ic(client, owner.headers, fresh_site())
    beds = make_service(client, owner.headers, site=ic.site, model="bed_based_ic", capacity=2)
    ic.fire(_ready(ic, NHS[0]), "start_bed_based_ic", service_id=beds["id"])
    one = f"/api/v1/ic/services/{beds['id']}"
    for method, path, body in [
        ("GET", one, None),
        ("PATCH", one, {"capacity": 0, "active": False, "reason": "closing it from outside"}),
        ("GET", f"{one}/changes", None),
        ("GET", f"{one}/occupancy", None),
    ]:
        r = client.request(method, path, json=body, headers=stranger.headers)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), (method, path, r.text)
        assert owner.org not in r.text
        assert owner.actor.username not in r.text
    # Lists and the report cover only the caller's own services.
    listed = client.get("/api/v1/ic/services", headers=stranger.headers, params={"site": ic.site})
    assert (listed.status_code, listed.json()) == (200, [])
    report = client.get("/api/v1/ic/report", headers=stranger.headers, params={"site": ic.site})
    assert report.status_code == 200, report.text
    assert report.json()["occupancy"] == []
    # The owner's service and its audit are as they were.
    mine = ic.get(f"/services/{beds['id']}")
    assert (mine["capacity"], mine["active"], mine["occupied"]) == (2, True, 1)
    assert [c["action"] for c in ic.get(f"/services/{beds['id']}/changes")] == ["created"]
    assert [s["id"] for s in ic.get("/services", site=ic.site)] == [beds["id"]]
    owned = client.get("/api/v1/ic/report", headers=owner.headers, params={"site": ic.site})
    assert [o["service_id"] for o in owned.json()["occupancy"]] == [beds["id"]]


def test_a_service_is_created_only_in_the_callers_organisation(
    client: TestClient, make_user
) -> None:
    owner = make_user("manager")
    stranger = make_user("admin")
    site = fresh_site()
    body: dict[str, Any] = {
        "code": f"BEDS-{site}",
        "name": "Beds",
        "site": site,
        "model": "bed_based_ic",
        "capacity": 4,
    }
    r = client.post(
        "/api/v1/ic/services", headers=stranger.headers, json={**body, "organisation": owner.org}
    )
    assert (r.status_code, r.headers["content-type"]) == (403, "application/problem+json")
    assert r.json()["code"] == "other_organisation"
    # Nothing was made: the owner can still create the code, and sees only that one.
    made = client.post(
        "/api/v1/ic/services", headers=owner.headers, json={**body, "organisation": owner.org}
    )
    assert (made.status_code, made.json()["organisation"]) == (201, owner.org)
    listed = client.get("/api/v1/ic/services", headers=owner.headers, params={"site": site})
    assert [s["id"] for s in listed.json()] == [made.json()["id"]]


def test_nobody_fills_another_organisations_beds(client: TestClient, make_user) -> None:
    provider = make_user(*IC_TEAM, "manager")
    stranger = make_user(*IC_TEAM, "manager")
    site = fresh_site()
    beds = make_service(client, provider.headers, site=site, model="bed_based_ic", capacity=5)
    theirs = Ic(client, stranger.headers, site)
    own = make_service(client, stranger.headers, site=site, model="reablement", capacity=5)
    cid = _ready(theirs, NHS[1])
    refused = theirs.fire(cid, "start_bed_based_ic", service_id=beds["id"], expect=409)
    assert (refused["code"], refused["reasons"]) == (
        "guard_rejected",
        [f"There is no IC service {beds['id']}."],
    )
    # Moving or changing into it is refused in the same words.
    theirs.fire(cid, "start_reablement", service_id=own["id"])
    move = {"service_id": beds["id"], "move_reason": "Needs a bed"}
    moved = theirs.fire(cid, "move_to_bed_based_ic", expect=409, **move)
    assert moved["reasons"] == [f"There is no IC service {beds['id']}."]
    assert theirs.case(cid)["attributes"]["service_id"] == own["id"]
    assert Ic(client, provider.headers, site).get(f"/services/{beds['id']}")["occupied"] == 0


def test_a_shared_episode_starts_in_the_providers_own_service(
    client: TestClient, make_user
) -> None:
    """The cross-organisation case the code has: an episode owned by the referring organisation
    (a step-down episode belongs to the discharging trust), shared with the IC provider, which
    starts it in one of its own services; the referrer cannot place it there itself."""
    trust = make_user(*IC_TEAM)
    provider = make_user(*IC_TEAM, "manager")
    site = fresh_site()
    referrer, carer = Ic(client, trust.headers, site), Ic(client, provider.headers, site)
    beds = make_service(client, provider.headers, site=site, model="bed_based_ic", capacity=1)
    cid = _ready(referrer, NHS[2])
    shared = client.post(
        f"/api/v1/cases/{cid}/shares",
        headers=trust.headers,
        json={"organisation": provider.org, "reason": "the provider delivers the beds"},
    )
    assert shared.status_code == 201, shared.text
    refused = referrer.fire(cid, "start_bed_based_ic", service_id=beds["id"], expect=409)
    assert refused["reasons"] == [f"There is no IC service {beds['id']}."]
    started = carer.fire(cid, "start_bed_based_ic", service_id=beds["id"])
    assert started["case"]["state"] == "active"
    occupancy = carer.get(f"/services/{beds['id']}/occupancy")
    assert (occupancy["service"]["occupied"], [o["case_id"] for o in occupancy["occupants"]]) == (
        1,
        [cid],
    )
    assert referrer.case(cid)["attributes"]["service_id"] == beds["id"]


def test_a_service_code_used_by_another_organisation_is_free(client: TestClient, make_user) -> None:
    """A 409 on a code another organisation uses would tell a stranger that the code exists:
    codes are unique within an organisation only."""
    owner, stranger = make_user("manager"), make_user("manager")
    site = fresh_site()
    body: dict[str, Any] = {
        "code": f"REAB-{site}",
        "name": "Reablement north",
        "site": site,
        "model": "reablement",
        "capacity": 3,
    }
    url = "/api/v1/ic/services"
    first = client.post(url, headers=owner.headers, json=body)
    assert first.status_code == 201, first.text
    theirs = client.post(url, headers=stranger.headers, json=body)
    assert (theirs.status_code, theirs.json()["organisation"]) == (201, stranger.org), theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    again = client.post(url, headers=owner.headers, json=body)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    mine = client.get(url, headers=owner.headers, params={"site": site}).json()
    assert [(s["id"], s["organisation"]) for s in mine] == [(first.json()["id"], owner.org)]
