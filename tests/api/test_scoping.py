"""Organisation scoping: a case is seen and changed only by its owner and the organisations
it is shared with; everyone else gets 404 and finds nothing in lists, counts or exports."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.known_day import DAY, build
from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api


@pytest.fixture
def two_orgs(client: TestClient, make_user):  # noqa: ANN201
    trust = make_user(*TEAM, "manager")
    other = make_user(*TEAM, "manager", "ic_coordinator")
    return trust, other


def test_another_organisation_gets_404_everywhere(client: TestClient, two_orgs) -> None:  # noqa: ANN001
    trust, other = two_orgs
    api = Api(client, trust.headers)
    case = open_case(api, NHS[0], site="AINTREE")
    fire(api, case["id"], "not_meeting_ctr", days_ago=1)
    cid = case["id"]
    stranger = other.headers
    for method, path, body in [
        ("GET", f"/api/v1/cases/{cid}", None),
        ("GET", f"/api/v1/cases/{cid}/events", None),
        ("GET", f"/api/v1/cases/{cid}/discharge", None),
        ("GET", f"/api/v1/cases/{cid}/links", None),
        ("GET", f"/api/v1/cases/{cid}/shares", None),
        ("POST", f"/api/v1/cases/{cid}/events", {"event": "meets_ctr_again"}),
        (
            "POST",
            f"/api/v1/cases/{cid}/links",
            {"workflow": "sample-referral", "link_type": "related"},
        ),
        ("POST", f"/api/v1/cases/{cid}/shares", {"organisation": other.org, "reason": "x" * 5}),
    ]:
        headers = {**stranger, "If-Match": '"2"'}
        r = client.request(method, path, json=body, headers=headers)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), (method, path, r.text)
    listed = client.get("/api/v1/cases", params={"patient_ref": NHS[0]}, headers=stranger).json()
    assert cid not in [c["id"] for c in listed["items"]]
    rfd = client.get("/api/v1/rfd", params={"site": "AINTREE"}, headers=stranger).json()
    assert cid not in [r["case_id"] for r in rfd["items"]]
    feed = client.get("/api/v1/dashboard/feed", headers=stranger).json()
    assert cid not in [i["case_id"] for i in feed["items"]]
    # The owner still sees everything, and nothing was changed by the refused calls.
    assert [e["event"] for e in api.history(cid)] == ["open", "not_meeting_ctr"]


def test_counts_and_exports_cover_only_visible_cases(client: TestClient, two_orgs) -> None:  # noqa: ANN001
    trust, other = two_orgs
    site, _ = build(client, trust.headers)
    params = {"site": site, "date": DAY}
    mine = client.get("/api/v1/dashboard/metrics", params=params, headers=trust.headers).json()
    theirs = client.get("/api/v1/dashboard/metrics", params=params, headers=other.headers).json()
    assert (mine["discharge"]["nctr_on_day"], mine["discharge"]["discharged"]) == (6, 3)
    assert (theirs["discharge"]["nctr_on_day"], theirs["discharge"]["discharged"]) == (0, 0)
    assert theirs["discharge"]["by_site"] == []
    csv_theirs = client.get(
        "/api/v1/dashboard/exports/acute-discharge-daily.csv",
        params={"from": DAY, "to": DAY, "site": site},
        headers=other.headers,
    )
    assert csv_theirs.text.splitlines()[1].split(",")[3:6] == ["0", "0", "0"]
    series = client.get(
        "/api/v1/dashboard/series",
        params={"from": DAY, "to": DAY, "site": site},
        headers=other.headers,
    ).json()
    assert series["items"][0]["nctr_remaining"] == 0


def test_sharing_lets_the_hub_work_the_case(client: TestClient, make_user) -> None:
    trust = make_user(*TEAM)
    hub = make_user(*TEAM)
    owner, worker = Api(client, trust.headers), Api(client, hub.headers)
    case = open_case(owner, NHS[1], site="SOUTHPORT")
    r = client.post(
        f"/api/v1/cases/{case['id']}/shares",
        headers=trust.headers,
        json={"organisation": hub.org, "reason": "care transfer hub works the case"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["organisation"], r.json()["created_by"]) == (hub.org, trust.actor.username)
    again = client.post(
        f"/api/v1/cases/{case['id']}/shares",
        headers=trust.headers,
        json={"organisation": hub.org, "reason": "again"},
    )
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    # The hub now reads, lists and changes it; its events name the hub's organisation.
    fired = fire(worker, case["id"], "accept")
    assert fired["event"]["actor"]["organisation"] == hub.org
    listed = client.get("/api/v1/cases", params={"patient_ref": NHS[1]}, headers=hub.headers)
    assert case["id"] in [c["id"] for c in listed.json()["items"]]
    # A case linked from it is shared with the same journey's organisations.
    linked = client.post(
        f"/api/v1/cases/{case['id']}/links",
        headers=trust.headers,
        json={
            "workflow": "sample-referral",
            "link_type": "related",
            "data": {"priority": "routine"},
        },
    )
    assert linked.status_code == 201, linked.text
    shares = client.get(f"/api/v1/cases/{linked.json()['id']}/shares", headers=hub.headers)
    assert [s["organisation"] for s in shares.json()] == [hub.org]
    # Withdrawing the share ends the hub's access at once.
    gone = client.delete(f"/api/v1/cases/{case['id']}/shares/{hub.org}", headers=trust.headers)
    assert gone.status_code == 204
    assert worker.get(case["id"], expect=404).json()["code"] == "not_found"


def test_roles_within_an_organisation(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    manager = make_user("manager", org=team.org)
    case = open_case(Api(client, team.headers), NHS[2], site="AINTREE")
    reader = Api(client, manager.headers)
    assert reader.get(case["id"]).json()["id"] == case["id"]  # managers read...
    refused = reader.fire(case["id"], "accept", expect=403).json()  # ...but never change
    assert refused["code"] == "forbidden"
    r = client.post(
        f"/api/v1/cases/{case['id']}/shares",
        headers=manager.headers,
        json={"organisation": "ELSEWHERE", "reason": "because"},
    )
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    assert reader.create("discharge", data={}, expect=403).json()["code"] == "forbidden"


def test_every_read_of_patient_data_is_audited(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    officer = make_user("ig_officer", org=team.org)
    api = Api(client, team.headers)
    case = open_case(api, NHS[3], site="AINTREE")
    api.get(case["id"])
    api.history(case["id"])
    client.get(f"/api/v1/cases/{case['id']}/discharge", headers=team.headers)
    client.get("/api/v1/rfd", params={"site": "NOWHERE"}, headers=team.headers)
    r = client.get("/api/v1/audit", params={"case_id": case["id"]}, headers=officer.headers)
    assert r.status_code == 200, r.text
    records = r.json()["items"]
    assert [(x["username"], x["method"], x["endpoint"]) for x in records] == [
        (team.actor.username, "GET", "/api/v1/cases/{case_id}/discharge"),
        (team.actor.username, "GET", "/api/v1/cases/{case_id}/events"),
        (team.actor.username, "GET", "/api/v1/cases/{case_id}"),
    ]
    assert all(x["case_ids"] == [case["id"]] for x in records)
    assert all(x["organisation"] == team.org for x in records)
    by_user = client.get(
        "/api/v1/audit", params={"user": team.actor.username}, headers=officer.headers
    ).json()["items"]
    assert by_user[0]["endpoint"] == "/api/v1/rfd"
    assert by_user[0]["case_count"] == 0
    denied = client.get("/api/v1/audit", headers=team.headers)
    assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")


def test_ig_officers_see_their_own_organisations_reads(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    outsider = make_user("ig_officer")
    api = Api(client, team.headers)
    case = open_case(api, NHS[4], site="AINTREE")
    api.get(case["id"])
    r = client.get("/api/v1/audit", params={"case_id": case["id"]}, headers=outsider.headers)
    assert (r.status_code, r.json()["items"]) == (200, [])
