"""Idempotency-Key: a retried request replays its first answer and writes nothing new."""

from __future__ import annotations

import pytest
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


def test_a_twin_that_commits_first_wins_and_this_request_changes_nothing(
    backend: str, client: TestClient, make_user, sessions, monkeypatch
) -> None:
    """Two requests with one key on two cases: the lock cannot serialise them, so the key is
    stored with the answer at the end. The one that commits second rolls back all it did and
    answers as the key's first use says (here: the key came with another request, a 422)."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: no twin can commit while this one runs")
    from app.idempotency import service as idempotency
    from app.idempotency.repository import IdempotencyRepository
    from app.timeutil import utcnow

    user = make_user("discharge_team", "ic_coordinator")
    api = Api(client, user.headers)
    first, second = api.create().json()["id"], api.create().json()["id"]
    real_store = idempotency.IdempotencyGuard.store

    def twin_commits_first(guard: idempotency.IdempotencyGuard, response) -> None:
        with sessions() as other:  # the twin, on the first case, commits while this one runs
            IdempotencyRepository(other).insert_answered(
                {
                    "actor_id": guard.actor_id,
                    "key": guard.key,
                    "fingerprint": "twin",
                    "status_code": 200,
                    "response_body": {"twin": True},
                    "response_headers": {},
                    "created_at": utcnow(),
                    "expires_at": utcnow() + guard.ttl,
                }
            )
            other.commit()
        real_store(guard, response)

    monkeypatch.setattr(idempotency.IdempotencyGuard, "store", twin_commits_first)
    r = api.fire(second, "triage", etag='"1"', key="twin-key", expect=422)
    assert r.json()["code"] == "idempotency_key_reused"
    monkeypatch.undo()
    assert [e["event"] for e in api.history(second)] == ["open"]  # rolled back whole
    assert [e["event"] for e in api.history(first)] == ["open"]
    assert api.fire(second, "triage", etag='"1"', key="another-key").status_code == 200
