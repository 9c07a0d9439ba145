"""Server-side sessions for signed-in browsers: the dashboard today, every page later.

A browser that signs in gets a random session id (256 bits from `secrets`) in a cookie; the
database keeps only its SHA-256, with the user, when it began, when it was last used and when
it must end. A session ends, for every process at once (each request reads its row):

- at sign-out (`end`: the row is marked revoked, so the old cookie is refused afterwards);
- after `idle` without a request, and at `absolute` after sign-in whatever the activity;
- when its user is deactivated, or the token it was signed in with is revoked or expires.

The credential checked at sign-in is the caller's business (`start`); `sign_in_with_token`
is the one the dashboard uses. Cookie attributes and the cross-site request guard live in
`app.security.cookies` and `app.security.origin`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.auth.repository import AuthRepository, SessionState
from app.auth.service import authenticated_token
from app.auth.tokens import hash_token
from app.config import Settings
from app.db import UnitOfWork
from app.errors import Unauthorized
from app.models import WebSession

# `last_seen_at` is written at most this often (and at most every tenth of the idle limit), so a
# page view is not a database write each time; the idle limit is therefore honoured to within it.
TOUCH_AT_MOST_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
        )

    @property
    def touch_every(self) -> timedelta:
        return min(TOUCH_AT_MOST_EVERY, self.idle / 10)


@dataclass(frozen=True)
class SignedIn:
    session_id: str  # the cookie's value: never stored, never logged
    actor: Actor
    expires_at: datetime


def start(
    session: Session,
    *,
    actor: Actor,
    method: str,
    now: datetime,
    policy: SessionPolicy,
    token_id: int | None = None,
) -> SignedIn:
    """A new session for a user whose credential the caller has just checked."""
    raw = secrets.token_urlsafe(32)
    expires_at = now + policy.absolute
    with UnitOfWork(session):
        AuthRepository(session).add(
            WebSession(
                session_hash=hash_token(raw),
                user_id=actor.user_id,
                method=method,
                token_id=token_id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
                revoked_at=None,
            )
        )
    return SignedIn(raw, actor, expires_at)


def sign_in_with_token(
    session: Session, raw_token: str, *, now: datetime, policy: SessionPolicy
) -> SignedIn:
    """Sign in with a bearer token (Unauthorized as for an API request). The session is tied to
    the token: revoking, rotating or expiring it ends the session."""
    found = authenticated_token(session, raw_token, now=now)
    actor = Actor(found.user_id, found.username, found.organisation, frozenset(found.roles.split()))
    return start(
        session, actor=actor, method="token", now=now, policy=policy, token_id=found.token_id
    )


def current(session: Session, raw_id: str, *, now: datetime, policy: SessionPolicy) -> Actor:
    """The signed-in user of a live session; Unauthorized (saying why) otherwise."""
    repo = AuthRepository(session)
    state = repo.session_state(hash_token(raw_id))
    session.rollback()  # end the read
    if state is None:
        raise Unauthorized("not signed in")
    _check(state, now, policy)
    if now - state.last_seen_at >= policy.touch_every:
        with UnitOfWork(session):
            repo.touch_session(state.session_id, now)
    return Actor(state.user_id, state.username, state.organisation, frozenset(state.roles.split()))


def _check(state: SessionState, now: datetime, policy: SessionPolicy) -> None:
    if state.revoked_at is not None:
        raise Unauthorized("the session has been signed out")
    if now >= state.expires_at:
        raise Unauthorized("the session has expired")
    if now - state.last_seen_at >= policy.idle:
        raise Unauthorized("the session has expired after a time without use")
    if not state.active:
        raise Unauthorized("the user is inactive")
    if state.token_id is not None:
        if state.token_revoked_at is not None:
            raise Unauthorized("the token used to sign in has been revoked")
        if state.token_expires_at is not None and state.token_expires_at <= now:
            raise Unauthorized("the token used to sign in has expired")


def end(session: Session, raw_id: str, *, now: datetime) -> bool:
    """Sign out: the session is marked revoked (False if it was unknown or already ended)."""
    with UnitOfWork(session):
        return AuthRepository(session).revoke_session(hash_token(raw_id), now) > 0


def end_all_for(session: Session, user_id: int, *, now: datetime, keep: str | None = None) -> None:
    """Mark every live session of a user revoked, in the caller's unit of work (a deactivated
    user stays signed out even if reactivated later). `keep`: the id of one session to leave
    signed in (the browser that changed its own password)."""
    keep_hash = hash_token(keep) if keep is not None else None
    AuthRepository(session).revoke_sessions_of(user_id, now, keep_hash=keep_hash)
