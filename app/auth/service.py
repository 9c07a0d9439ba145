"""Users, tokens and authenticating a request."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.auth.actor import KNOWN_ROLES, Actor
from app.auth.repository import AuthRepository
from app.auth.tokens import hash_token, new_token
from app.db import UnitOfWork
from app.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from app.models import ApiToken, User
from app.timeutil import utcnow


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    prefix: str
    username: str
    expires_at: datetime | None


def add_user(
    session: Session, *, username: str, display_name: str, organisation: str, roles: list[str]
) -> User:
    unknown = sorted(set(roles) - KNOWN_ROLES)
    if unknown:
        raise ValidationFailed(
            f"unknown roles: {', '.join(unknown)}", known_roles=sorted(KNOWN_ROLES)
        )
    if not roles:
        raise ValidationFailed("a user needs at least one role")
    with UnitOfWork(session):
        repo = AuthRepository(session)
        if repo.user_by_username(username):
            raise Conflict(f"user {username!r} already exists")
        user = User(
            username=username,
            display_name=display_name,
            organisation=organisation,
            roles=" ".join(sorted(set(roles))),
            active=True,
            created_at=utcnow(),
        )
        repo.add(user)
    return user


def create_token(
    session: Session, *, username: str, label: str = "", expires_in: timedelta | None = None
) -> IssuedToken:
    with UnitOfWork(session):
        repo = AuthRepository(session)
        user = repo.user_by_username(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        token = new_token()
        now = utcnow()
        expires_at = now + expires_in if expires_in else None
        repo.add(
            ApiToken(
                user_id=user.id,
                token_hash=hash_token(token),
                prefix=token[:10],
                label=label,
                created_at=now,
                expires_at=expires_at,
                revoked_at=None,
            )
        )
    return IssuedToken(token, token[:10], username, expires_at)


def revoke_tokens(session: Session, *, prefix: str) -> int:
    with UnitOfWork(session):
        tokens = AuthRepository(session).token_by_prefix(prefix)
        now = utcnow()
        for token in tokens:
            if token.revoked_at is None:
                token.revoked_at = now
    return len(tokens)


def rotate_token(
    session: Session,
    *,
    raw_token: str | None = None,
    prefix: str | None = None,
    expires_in: timedelta | None = None,
) -> tuple[IssuedToken, str]:
    """Issue a new token for the same user and revoke the old one, in one transaction.

    The old token is named by its value (the API: the caller's own token) or by its prefix (the
    command line). The new one keeps the old label and, unless `expires_in` is given, the old
    token's lifetime (none if it had none). Returns the new token (shown once) and the old
    token's prefix. A revoked, expired or unknown token cannot be rotated (401 / 404).
    """
    with UnitOfWork(session):
        repo = AuthRepository(session)
        old = _token_to_rotate(repo, raw_token=raw_token, prefix=prefix)
        now = utcnow()
        if old.revoked_at is not None:
            raise Unauthorized("the bearer token has been revoked")
        if old.expires_at is not None and old.expires_at <= now:
            raise Unauthorized("the bearer token has expired")
        lifetime = expires_in
        if lifetime is None and old.expires_at is not None:
            lifetime = old.expires_at - old.created_at
        token = new_token()
        expires_at = now + lifetime if lifetime else None
        repo.add(
            ApiToken(
                user_id=old.user_id,
                token_hash=hash_token(token),
                prefix=token[:10],
                label=old.label,
                created_at=now,
                expires_at=expires_at,
                revoked_at=None,
            )
        )
        old.revoked_at = now
        user = session.get(User, old.user_id)
        assert user is not None  # noqa: S101 - api_tokens.user_id is a foreign key
    return IssuedToken(token, token[:10], user.username, expires_at), old.prefix


def _token_to_rotate(
    repo: AuthRepository, *, raw_token: str | None, prefix: str | None
) -> ApiToken:
    if raw_token is not None:
        found = repo.token_for_update(hash_token(raw_token))
        if found is None:
            raise Unauthorized("the bearer token is not recognised")
        return found
    live = [t for t in repo.token_by_prefix(prefix or "") if t.revoked_at is None]
    if len(live) != 1:
        raise NotFound(
            f"no live token with prefix {prefix!r}"
            if not live
            else f"{len(live)} live tokens share prefix {prefix!r}; revoke them instead"
        )
    found = repo.token_for_update(live[0].token_hash)
    assert found is not None  # noqa: S101 - read just above, in this transaction
    return found


# -- authenticating a request -------------------------------------------------------------------
# A token that authenticated is remembered for this many seconds (per process), so a busy client
# does not cost a database round trip per request. Expiry is checked on every request. Revoking a
# token, rotating it, or deactivating or changing its user through this process (API, CLI command
# in the same process, tests) forgets every remembered token at once; a revocation made by another
# process (the `homefirst tokens revoke` command, another worker) takes effect within this TTL.
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_MAX = 10_000


@dataclass(frozen=True)
class _Authenticated:
    actor: Actor
    expires_at: datetime | None
    valid_until: float  # time.monotonic() deadline


class TokenCache:
    """Authenticated tokens by (database, SHA-256 of the token): never the token itself."""

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, max_entries: int = TOKEN_CACHE_MAX):
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[tuple[int, str], _Authenticated] = {}
        self._lock = threading.Lock()

    def get(self, bind: object, token_hash: str, *, now: datetime) -> Actor | None:
        """The cached actor; None when not cached (or stale). Raises once the token expired."""
        entry = self._entries.get((id(bind), token_hash))
        if entry is None or entry.valid_until <= time.monotonic():
            return None
        if entry.expires_at is not None and entry.expires_at <= now:
            raise Unauthorized("the bearer token has expired")
        return entry.actor

    def put(self, bind: object, token_hash: str, actor: Actor, expires_at: datetime | None) -> None:
        entry = _Authenticated(actor, expires_at, time.monotonic() + self.ttl)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[(id(bind), token_hash)] = entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


TOKENS = TokenCache()


def _forget_tokens(*_args: Any) -> None:
    TOKENS.clear()


# Whatever changes whether a token authenticates, or as whom, forgets the cache: a revocation
# (`revoke_tokens`, `rotate_token`), an expiry change, a deactivation or a change of roles or
# organisation (the admin API). Attribute events fire as the value is set, in this process.
for _attribute in (
    ApiToken.revoked_at,
    ApiToken.expires_at,
    User.active,
    User.roles,
    User.organisation,
    User.username,
):
    event.listen(_attribute, "set", _forget_tokens)


def cached_actor(bind: object, raw_token: str, *, now: datetime) -> Actor | None:
    """The actor for a token authenticated recently (no database work), else None."""
    return TOKENS.get(bind, hash_token(raw_token), now=now)


def authenticate(session: Session, raw_token: str, *, now: datetime) -> Actor:
    token_hash = hash_token(raw_token)
    bind = session.get_bind()
    cached = TOKENS.get(bind, token_hash, now=now)
    if cached is not None:
        return cached
    found = AuthRepository(session).token_state(token_hash)
    # End the read at once: the request's real work runs in its own unit of work.
    session.rollback()
    if found is None:
        raise Unauthorized("the bearer token is not recognised")
    if found.revoked_at is not None:
        raise Unauthorized("the bearer token has been revoked")
    if found.expires_at is not None and found.expires_at <= now:
        raise Unauthorized("the bearer token has expired")
    if not found.active:
        raise Unauthorized("the user is inactive")
    actor = Actor(found.user_id, found.username, found.organisation, frozenset(found.roles.split()))
    TOKENS.put(bind, token_hash, actor, found.expires_at)
    return actor
