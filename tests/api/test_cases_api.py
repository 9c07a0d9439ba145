"""The case API over HTTP: status codes and bodies, as a client sees them."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from tests.helpers import SAMPLE, Api, ago

COORD = ("discharge_team", "ic_coordinator")


def test_create_returns_201_location_etag_and_the_case(client: TestClient, make_user) -> None:
    user = make_user(*COORD)
    r = Api(client, user.headers).create(
        site="AINTREE",
        patient_ref="9434765919",
        data={"priority": "urgent", "referral_source": "GP"},
    )
    body = r.json()
    assert r.headers["Location"] == f"/api/v1/cases/{body['id']}"
    assert r.headers["ETag"] == '"1"'
    assert body["state"] == "received"
    assert body["queue"] == "intake"
    assert body["version"] == 1
    assert body["organisation"] == user.org
    assert body["attributes"] == {"priority": "urgent", "referral_source": "GP"}
    assert [c["name"] for c in body["clocks"]] == ["response"]
    assert body["clocks"][0]["budget_seconds"] == 7200


def test_get_lists_allowed_events_with_reasons_for_refusals(client: TestClient, make_user) -> None:
    user = make_user(*COORD)
    api = Api(client, user.headers)
    case_id = api.create(data={"priority": "urgent"}).json()["id"]
    api.fire(case_id, "triage")
    allowed = {a["event"]: a for a in api.get(case_id).json()["allowed_events"]}
    assert set(allowed) == {"accept", "decline", "withdraw"}
    assert allowed["accept"]["allowed"] is False
    assert allowed["accept"]["reasons"] == [
        "An urgent referral needs a named clinician before it is accepted."
    ]
    assert allowed["decline"]["allowed"] is True
    assert allowed["decline"]["requires"] == ["triage_note"]

    # A user without the role sees every event refused, with the role named.
    viewer = Api(client, make_user("discharge_team", org=user.org).headers)
    refused = {a["event"]: a for a in viewer.get(case_id).json()["allowed_events"]}
    assert refused["accept"]["allowed"] is False
    assert refused["accept"]["reasons"] == ["needs one of the roles: ic_coordinator"]
    assert refused["withdraw"]["allowed"] is True


def test_fire_moves_state_and_returns_new_etag_and_event(client: TestClient, make_user) -> None:
    api = Api(client, make_user(*COORD).headers)
    case_id = api.create().json()["id"]
    r = api.fire(case_id, "triage", etag='"1"', data={"triage_note": "Falls at home"})
    assert r.headers["ETag"] == '"2"'
    body = r.json()
    assert body["case"]["state"] == "triaged"
    assert body["case"]["version"] == 2
    assert body["event"]["seq"] == 2
    assert body["event"]["from_state"] == "received"
    assert body["event"]["to_state"] == "triaged"
    assert body["event"]["data"] == {"triage_note": "Falls at home"}
    # triage_note is event-only data: it is in the history, not copied onto the case.
    assert "triage_note" not in body["case"]["attributes"]
    assert body["case"]["clocks"][0]["state"] == "stopped"


def test_event_not_allowed_now_is_409_with_reasons(client: TestClient, make_user) -> None:
    api = Api(client, make_user(*COORD).headers)
    case_id = api.create().json()["id"]
    r = api.fire(case_id, "complete", expect=409)
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "invalid_transition"
    assert body["status"] == 409
    assert body["allowed_events"] == ["triage", "withdraw"]
    r = api.fire(case_id, "no_such_event", expect=409)
    assert r.json()["code"] == "invalid_transition"
    assert len(api.history(case_id)) == 1


def test_guard_refusal_is_409_with_every_reason_and_writes_nothing(
    client: TestClient, make_user
) -> None:
    api = Api(client, make_user(*COORD).headers)
    case_id = api.create(data={"priority": "urgent"}).json()["id"]
    api.fire(case_id, "triage")
    r = api.fire(case_id, "accept", expect=409)
    assert r.json()["code"] == "guard_rejected"
    assert r.json()["reasons"] == [
        "An urgent referral needs a named clinician before it is accepted."
    ]
    case = api.get(case_id).json()
    assert (case["state"], case["version"]) == ("triaged", 2)
    api.fire(case_id, "accept", data={"named_clinician": "Dr Okafor"})
    assert api.get(case_id).json()["state"] == "active"


def test_stale_etag_is_412_and_missing_if_match_is_428(client: TestClient, make_user) -> None:
    user = make_user(*COORD)
    api = Api(client, user.headers)
    case_id = api.create().json()["id"]
    api.fire(case_id, "triage", etag='"1"')
    r = api.fire(case_id, "accept", etag='"1"', expect=412)
    assert r.json()["code"] == "stale_case"
    assert r.json()["current_version"] == 2
    r = client.post(
        f"/api/v1/cases/{case_id}/events", json={"event": "accept"}, headers=user.headers
    )
    assert r.status_code == 428
    assert r.json()["code"] == "precondition_required"
    assert [e["event"] for e in api.history(case_id)] == ["open", "triage"]


def test_wrong_role_is_403_and_no_token_is_401(client: TestClient, make_user) -> None:
    coordinator = make_user(*COORD)
    case_id = Api(client, coordinator.headers).create().json()["id"]
    Api(client, coordinator.headers).fire(case_id, "triage")
    hub = Api(client, make_user("discharge_team", org=coordinator.org).headers)
    r = hub.fire(case_id, "accept", expect=403)
    assert r.json()["code"] == "forbidden"
    assert r.json()["required_roles"] == ["ic_coordinator"]
    r = client.get(f"/api/v1/cases/{case_id}")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = client.get(f"/api/v1/cases/{case_id}", headers={"Authorization": "Bearer hf_forged"})
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    manager = Api(client, make_user("manager").headers)
    assert manager.create(expect=403).json()["code"] == "forbidden"


def test_bad_input_is_422_never_500(client: TestClient, make_user) -> None:
    api = Api(client, make_user(*COORD).headers)
    r = api.create(data={"priority": "whenever"}, expect=422)
    assert r.json()["errors"] == [
        {"field": "priority", "problem": "must be one of routine, urgent"}
    ]
    r = api.create(data={}, expect=422)
    assert r.json()["errors"] == [{"field": "priority", "problem": "required"}]
    r = api.create(patient_ref="9434765918", expect=422)
    assert r.json()["errors"][0]["loc"] == ["body", "patient_ref"]
    r = api.create(workflow="no-such-pathway", data={}, expect=404)
    assert r.json()["code"] == "not_found"
    r = client.post(
        "/api/v1/cases",
        content=b"{not json",
        headers={**api.headers, "content-type": "application/json"},
    )
    assert r.status_code == 422
    case_id = api.create().json()["id"]
    api.fire(case_id, "triage", data={"priority": 3}, expect=422)
    api.fire(case_id, "triage", data={"unknown": "x"}, expect=422)
    api.get(999_999_999, expect=404)
    assert len(api.history(case_id)) == 1


def test_backdated_events_need_a_reason_and_future_times_are_refused(
    client: TestClient, make_user
) -> None:
    api = Api(client, make_user(*COORD).headers)
    triaged = ago(hours=3)
    referred = (datetime.fromisoformat(triaged) - timedelta(hours=2)).isoformat()  # 2 h apart
    case_id = api.create(occurred_at=referred, reason="paper referral entered late").json()["id"]
    r = api.fire(case_id, "triage", occurred_at=ago(hours=3), expect=422)
    assert r.json()["code"] == "invalid_time"
    assert r.json()["detail"] == "a backdated event needs a reason"
    api.fire(case_id, "triage", occurred_at=ago(hours=6), reason="late entry", expect=422)
    api.fire(case_id, "triage", occurred_at=ago(hours=-1), expect=422)
    r = api.fire(case_id, "triage", occurred_at=triaged, reason="ward phoned it through")
    event = r.json()["event"]
    assert event["backdated"] is True
    assert event["reason"] == "ward phoned it through"
    assert event["occurred_at"] < event["recorded_at"]
    # The response clock ran from the clinical referral time to the clinical triage time.
    clock = r.json()["case"]["clocks"][0]
    assert round(clock["consumed_seconds"]) == 2 * 3600


def test_history_is_oldest_first_and_records_who(client: TestClient, make_user) -> None:
    user = make_user(*COORD)
    api = Api(client, user.headers)
    case_id = api.create().json()["id"]
    api.fire(case_id, "triage")
    api.fire(case_id, "accept")
    api.fire(case_id, "hold", data={"hold_reason": "patient_in_hospital"})
    history = api.history(case_id)
    assert [(e["seq"], e["event"], e["from_state"], e["to_state"]) for e in history] == [
        (1, "open", None, "received"),
        (2, "triage", "received", "triaged"),
        (3, "accept", "triaged", "active"),
        (4, "hold", "active", "on_hold"),
    ]
    assert {e["actor"]["username"] for e in history} == {user.actor.username}
    assert history[2]["actor"]["role"] == "ic_coordinator"
    assert history[0]["actor"]["role"] == "discharge_team"
    assert all(e["actor"]["organisation"] == user.org for e in history)


def test_list_filters_and_keyset_cursor(client: TestClient, make_user) -> None:
    user = make_user(*COORD)
    api = Api(client, user.headers)
    ids = [api.create(site="AINTREE" if i % 2 else "SOUTHPORT").json()["id"] for i in range(7)]
    api.fire(ids[0], "triage")

    def listing(**params: object) -> dict:
        r = client.get(
            "/api/v1/cases", params={"organisation": user.org, **params}, headers=user.headers
        )
        assert r.status_code == 200, r.text
        return r.json()

    seen: list[int] = []
    cursor = None
    while True:
        page = listing(limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 3
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    assert {c["id"] for c in listing(site="AINTREE")["items"]} == set(ids[1::2])
    assert [c["id"] for c in listing(state="triaged")["items"]] == [ids[0]]
    assert listing(workflow="discharge")["items"] == []
    assert len(listing(opened_from=ago(minutes=10))["items"]) == 7
    assert listing(opened_to=ago(minutes=10))["items"] == []
    assert listing(limit=100_000)["limit"] == 200
    r = client.get("/api/v1/cases", params={"cursor": "garbage!"}, headers=user.headers)
    assert r.status_code == 422
    r = client.get("/api/v1/cases", params={"limit": 0}, headers=user.headers)
    assert r.status_code == 422


def test_unknown_route_and_method_are_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = client.delete("/api/v1/cases")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"


def test_a_case_stays_on_its_pathway_version(client: TestClient, make_user) -> None:
    api = Api(client, make_user(*COORD).headers)
    body = api.create(workflow=SAMPLE).json()
    assert body["workflow_version"] == 1
    assert api.history(body["id"])[0]["pathway_version"] == 1
