"""The short-lived cache of authenticated tokens (app.auth.service.TOKENS).

Revocation, deactivation and expiry made through this process take effect at once; a change
made where this process cannot see it (another process writing the database) takes effect
within the cache's TTL.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import TOKENS, create_token, revoke_tokens
from app.auth.tokens import hash_token
from app.models import ApiToken, User
from app.timeutil import utcnow


def test_a_revocation_from_another_process_is_honoured_within_the_ttl(
    client: TestClient, sessions: sessionmaker[Session], make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TOKENS, "ttl", 0.5)
    user = make_user("analyst")
    assert client.get("/api/v1/pathways", headers=user.headers).status_code == 200
    # As another process would: straight to the database, no ORM object in this process.
    with sessions() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(user.token))
            .values(revoked_at=utcnow())
        )
        session.commit()
    assert client.get("/api/v1/pathways", headers=user.headers).status_code == 200  # cached
    time.sleep(0.6)
    r = client.get("/api/v1/pathways", headers=user.headers)
    assert (r.status_code, r.json()["detail"]) == (401, "the bearer token has been revoked")


def test_a_deactivation_from_another_process_is_honoured_within_the_ttl(
    client: TestClient, sessions: sessionmaker[Session], make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TOKENS, "ttl", 0.5)
    user = make_user("analyst")
    assert client.get("/api/v1/pathways", headers=user.headers).status_code == 200
    with sessions() as session:
        session.execute(update(User).where(User.id == user.actor.user_id).values(active=False))
        session.commit()
    time.sleep(0.6)
    r = client.get("/api/v1/pathways", headers=user.headers)
    assert (r.status_code, r.json()["detail"]) == (401, "the user is inactive")


def test_changes_made_in_this_process_take_effect_at_once(
    client: TestClient, sessions: sessionmaker[Session], make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TOKENS, "ttl", 3600.0)  # only an explicit forget can explain a 401
    user = make_user("analyst")
    assert client.get("/api/v1/pathways", headers=user.headers).status_code == 200
    with sessions() as session:
        assert revoke_tokens(session, prefix=user.token[:10]) == 1
    r = client.get("/api/v1/pathways", headers=user.headers)
    assert (r.status_code, r.json()["detail"]) == (401, "the bearer token has been revoked")


def test_expiry_is_checked_on_every_request_even_when_cached(
    client: TestClient, sessions: sessionmaker[Session], make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TOKENS, "ttl", 3600.0)
    user = make_user("analyst")
    with sessions() as session:
        issued = create_token(
            session, username=user.actor.username, expires_in=timedelta(seconds=1)
        )
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/pathways", headers=headers).status_code == 200
    assert issued.expires_at is not None
    time.sleep(max(0.0, (issued.expires_at - utcnow()).total_seconds()) + 0.05)
    r = client.get("/api/v1/pathways", headers=headers)
    assert (r.status_code, r.json()["detail"]) == (401, "the bearer token has expired")


def test_the_cache_keeps_token_hashes_never_tokens(client: TestClient, make_user) -> None:
    user = make_user("analyst")
    assert client.get("/api/v1/pathways", headers=user.headers).status_code == 200
    keys = list(TOKENS._entries)
    assert any(token_hash == hash_token(user.token) for _bind, token_hash in keys)
    assert not any(user.token in repr(key) for key in keys)
