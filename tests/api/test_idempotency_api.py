"""Idempotency-Key: a retried request replays its first answer and writes nothing new."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import Api


def test_create_retry_replays_and_creates_one_case(client: TestClient, make_user) -> None:
    user = make_user("discharge_team")
    api = Api(client, user.headers)
    first = api.create(key="create-1", site="AINTREE")
    again = api.create(key="create-1", site="AINTREE")
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    listed = client.get("/api/v1/cases", params={"organisation": user.org}, headers=user.headers)
    assert len(listed.json()["items"]) == 1
    r = api.create(key="create-1", site="SOUTHPORT", expect=422)
    assert r.json()["code"] == "idempotency_key_reused"


def test_event_retry_replays_even_after_the_etag_moved(client: TestClient, make_user) -> None:
    api = Api(client, make_user("discharge_team", "ic_coordinator").headers)
    case_id = api.create().json()["id"]
    first = api.fire(case_id, "triage", etag='"1"', key="evt-1")
    again = api.fire(case_id, "triage", etag='"1"', key="evt-1")
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == '"2"'
    assert [e["event"] for e in api.history(case_id)] == ["open", "triage"]
    r = api.fire(case_id, "accept", etag='"2"', key="evt-1", expect=422)
    assert r.json()["code"] == "idempotency_key_reused"


def test_keys_are_per_user(client: TestClient, make_user) -> None:
    a = make_user("discharge_team")
    b = make_user("discharge_team", org=a.org)
    Api(client, a.headers).create(key="shared-key")
    Api(client, b.headers).create(key="shared-key")
    listed = client.get("/api/v1/cases", params={"organisation": a.org}, headers=a.headers)
    assert len(listed.json()["items"]) == 2


def test_a_refused_request_is_not_remembered(client: TestClient, make_user) -> None:
    api = Api(client, make_user("discharge_team", "ic_coordinator").headers)
    case_id = api.create(data={"priority": "urgent"}).json()["id"]
    api.fire(case_id, "triage")
    api.fire(case_id, "accept", key="k-accept", expect=409)
    # The fix (recording the clinician) is a different body, so it needs a new key; the same
    # refused body retried is evaluated again rather than replaying the refusal.
    api.fire(case_id, "accept", key="k-accept", expect=409)
    api.fire(case_id, "accept", key="k-accept-2", data={"named_clinician": "Dr Jones"})
