"""Tokens: random, stored hashed, revocable and expiring, effective at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth.service import create_token, revoke_tokens
from app.auth.tokens import hash_token
from app.models import ApiToken


def test_tokens_are_stored_only_as_hashes(sessions, make_user) -> None:
    user = make_user("analyst")
    with sessions() as session:
        rows = (
            session.execute(select(ApiToken).where(ApiToken.user_id == user.actor.user_id))
            .scalars()
            .all()
        )
    assert len(rows) == 1
    assert rows[0].token_hash == hash_token(user.token)
    assert user.token not in (rows[0].token_hash, rows[0].label)
    assert rows[0].prefix == user.token[:10]


def test_revocation_takes_effect_at_once(client: TestClient, sessions, make_user) -> None:
    user = make_user("analyst")
    assert client.get("/api/v1/pathways", headers=user.headers).status_code == 200
    with sessions() as session:
        assert revoke_tokens(session, prefix=user.token[:10]) == 1
    r = client.get("/api/v1/pathways", headers=user.headers)
    assert r.status_code == 401
    assert r.json()["detail"] == "the bearer token has been revoked"


def test_expired_token_is_refused(client: TestClient, sessions, make_user) -> None:
    user = make_user("analyst")
    with sessions() as session:
        issued = create_token(
            session, username=user.actor.username, expires_in=timedelta(seconds=-1)
        )
    assert issued.expires_at is not None
    assert issued.expires_at < datetime.now(UTC)
    r = client.get("/api/v1/pathways", headers={"Authorization": f"Bearer {issued.token}"})
    assert r.status_code == 401
    assert r.json()["detail"] == "the bearer token has expired"
