"""Users, tokens and authenticating a request."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import INTERNAL_ROLES, KNOWN_ROLES, Actor
from app.auth.repository import AuthRepository, TokenState
from app.auth.tokens import hash_token, new_token
from app.db import UnitOfWork
from app.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from app.models import ApiToken, User
from app.timeutil import utcnow


class UsernameTaken(Conflict):
    code, title = "username_taken", "Username already in use"


class AmbiguousUsername(Conflict):
    code, title = "ambiguous_username", "Username used in several organisations"


class RoleNotGrantable(ValidationFailed):
    code, title = "role_not_grantable", "Role cannot be granted"


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    prefix: str
    username: str
    expires_at: datetime | None


def check_roles(roles: Iterable[str], *, allow_internal: bool = False) -> list[str]:
    """The roles, sorted and without repeats, once each is known and may be granted."""
    wanted = sorted(set(roles))
    unknown = [r for r in wanted if r not in KNOWN_ROLES]
    if unknown:
        raise ValidationFailed(
            f"unknown roles: {', '.join(unknown)}", known_roles=sorted(KNOWN_ROLES)
        )
    if not wanted:
        raise ValidationFailed("a user needs at least one role")
    internal = [r for r in wanted if r in INTERNAL_ROLES]
    if internal and not allow_internal:
        raise RoleNotGrantable(
            f"{', '.join(internal)} is internal to the service and cannot be granted to a user",
            roles=internal,
        )
    return wanted


def add_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    organisation: str,
    roles: list[str],
    allow_internal_roles: bool = False,
) -> User:
    """A new active user. The username must be free in the organisation (409 `username_taken`,
    also when another request takes it at the same moment); other organisations' users do not
    matter. Internal roles (`system`) only with `allow_internal_roles`."""
    granted = check_roles(roles, allow_internal=allow_internal_roles)
    with UnitOfWork(session):
        repo = AuthRepository(session)
        taken = UsernameTaken(f"user {username!r} already exists in {organisation}")
        if repo.user_in(organisation, username) is not None:
            raise taken
        user = User(
            username=username,
            display_name=display_name,
            organisation=organisation,
            roles=" ".join(granted),
            active=True,
            created_at=utcnow(),
        )
        try:
            # Two requests may both find the name free; the unique (organisation, username)
            # refuses the second's insert, which is then the same 409 as above.
            with session.begin_nested():
                repo.add(user)
        except IntegrityError:
            raise taken from None
    return user


def find_user(session: Session, username: str, organisation: str | None = None) -> User:
    """The user with this name: in `organisation` when given; else the only one of that name,
    or `AmbiguousUsername` naming the organisations (for the command line, run on the server by
    someone who sees every organisation)."""
    repo = AuthRepository(session)
    if organisation is not None:
        user = repo.user_in(organisation, username)
        if user is None:
            raise NotFound(f"no user {username!r} in {organisation}")
        return user
    found = repo.users_named(username)
    if not found:
        raise NotFound(f"no user {username!r}")
    if len(found) > 1:
        orgs = ", ".join(u.organisation for u in found)
        raise AmbiguousUsername(
            f"user {username!r} exists in {len(found)} organisations ({orgs}); name one",
            organisations=[u.organisation for u in found],
        )
    return found[0]


def create_token(
    session: Session,
    *,
    username: str,
    organisation: str | None = None,
    label: str = "",
    expires_in: timedelta | None = None,
) -> IssuedToken:
    """A new token for the user (`find_user`: scoped to `organisation` when given)."""
    with UnitOfWork(session):
        repo = AuthRepository(session)
        user = find_user(session, username, organisation)
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
# Every request reads its token from the database: one statement by the unique index on the
# token's hash, outside any transaction (PostgreSQL) or in a read-only one (SQLite). Nothing is
# remembered between requests, so a revocation, rotation, expiry or deactivation committed by
# any process on any host refuses the very next request (bench/README.md: what it costs).


def authenticate(session: Session, raw_token: str, *, now: datetime) -> Actor:
    """The actor a bearer token stands for; Unauthorized when it is unknown, revoked, expired
    or its user inactive. Ends the read it makes (when it began it)."""
    return _actor_for(authenticated_token(session, raw_token, now=now))


def authenticate_request(
    sessions: sessionmaker[Session], raw_token: str, *, now: datetime
) -> Actor:
    """`authenticate` in a session of its own (the caller's work runs in another)."""
    with sessions() as session:
        return authenticate(session, raw_token, now=now)


def authenticated_token(session: Session, raw_token: str, *, now: datetime) -> TokenState:
    began = not session.in_transaction()
    found = AuthRepository(session).token_state(hash_token(raw_token))
    if began:
        session.rollback()  # end the read: the request's work runs in its own unit of work
    if found is None:
        raise Unauthorized("the bearer token is not recognised")
    if found.revoked_at is not None:
        raise Unauthorized("the bearer token has been revoked")
    if found.expires_at is not None and found.expires_at <= now:
        raise Unauthorized("the bearer token has expired")
    if not found.active:
        raise Unauthorized("the user is inactive")
    return found


def _actor_for(found: TokenState) -> Actor:
    return Actor(found.user_id, found.username, found.organisation, frozenset(found.roles.split()))
