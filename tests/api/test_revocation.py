"""Every request reads its token afresh: a change written to the database by anyone (another
worker, another host, the command line, a DBA) decides the very next request.

Each change here is made as another process would make it: plain SQL through a connection of
its own, nothing of it seen by the ORM objects of the service under test. Each token first
authenticates (a service that remembered tokens would now have it), then the change, then the
next requests (the transition short way included) must be refused, or see the new roles.
`tests/e2e/test_revocation_fresh_process.py` does the same with two uvicorn workers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.auth.tokens import hash_token
from app.models import ApiToken, User
from app.timeutil import utcnow
from tests.discharge.helpers import NHS, TEAM, open_case
from tests.helpers import Api

PATHWAYS = "/api/v1/pathways"


def _write(sessions: sessionmaker[Session], statement: Any) -> None:
    with sessions() as session:
        session.execute(statement)
        session.commit()


def _refused(client: TestClient, headers: dict[str, str], detail: str) -> None:
    for _ in range(3):  # not once by chance: every following request
        r = client.get(PATHWAYS, headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["detail"] == detail


def test_a_revocation_written_elsewhere_refuses_the_next_request(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("analyst")
    assert client.get(PATHWAYS, headers=user.headers).status_code == 200
    _write(
        sessions,
        update(ApiToken)
        .where(ApiToken.token_hash == hash_token(user.token))
        .values(revoked_at=utcnow()),
    )
    _refused(client, user.headers, "the bearer token has been revoked")


def test_a_deactivation_written_elsewhere_refuses_the_next_request(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("analyst")
    assert client.get(PATHWAYS, headers=user.headers).status_code == 200
    _write(sessions, update(User).where(User.id == user.actor.user_id).values(active=False))
    _refused(client, user.headers, "the user is inactive")


def test_an_expiry_brought_forward_elsewhere_refuses_the_next_request(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("analyst")
    assert client.get(PATHWAYS, headers=user.headers).status_code == 200
    _write(
        sessions,
        update(ApiToken)
        .where(ApiToken.token_hash == hash_token(user.token))
        .values(expires_at=utcnow() - timedelta(seconds=1)),
    )
    _refused(client, user.headers, "the bearer token has expired")


def test_a_transition_with_a_token_revoked_elsewhere_is_refused_and_changes_nothing(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user(*TEAM)
    api = Api(client, user.headers)
    case = open_case(api, NHS[8], site="AINTREE")
    etag = api.get(case["id"]).headers["ETag"]
    _write(
        sessions,
        update(ApiToken)
        .where(ApiToken.token_hash == hash_token(user.token))
        .values(revoked_at=utcnow()),
    )
    r = client.post(
        f"/api/v1/cases/{case['id']}/events",  # the short way: a plain, valid request
        json={"event": "update_details", "data": {"ward": "Ward 9"}},
        headers={**user.headers, "If-Match": etag},
    )
    assert (r.status_code, r.json()["detail"]) == (401, "the bearer token has been revoked")
    other = make_user(*TEAM, org=user.org)
    history = Api(client, other.headers).history(case["id"])
    assert [e["event"] for e in history] == ["open"]


def test_roles_changed_elsewhere_apply_to_the_next_request(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("admin")
    assert client.get("/api/v1/admin/users", headers=user.headers).status_code == 200
    _write(sessions, update(User).where(User.id == user.actor.user_id).values(roles="analyst"))
    r = client.get("/api/v1/admin/users", headers=user.headers)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")


def test_no_orm_attribute_hooks_watch_users_or_tokens() -> None:
    """Nothing is cached, so nothing listens to attribute changes (global ORM hooks are not
    used for domain logic)."""
    for attribute in (
        ApiToken.revoked_at,
        ApiToken.expires_at,
        User.active,
        User.roles,
        User.organisation,
        User.username,
    ):
        assert not list(attribute.dispatch.set), attribute
