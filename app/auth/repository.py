"""SQL for users, tokens, passwords and browser sessions."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    case,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from app.db import read_only_options
from app.models import ApiToken, PasswordCredential, User, WebSession
from app.models.base import UTCDateTime


class TokenState(NamedTuple):
    """What authenticating a request needs about a token and its user: plain values, so nothing
    is loaded again after the read ends."""

    token_id: int
    revoked_at: datetime | None
    expires_at: datetime | None
    user_id: int
    username: str
    organisation: str
    roles: str
    active: bool


class SessionState(NamedTuple):
    """A browser session with its user and the token it was signed in with (if any)."""

    session_id: int
    revoked_at: datetime | None
    last_seen_at: datetime
    expires_at: datetime
    user_id: int
    username: str
    organisation: str
    roles: str
    active: bool
    token_id: int | None
    token_revoked_at: datetime | None
    token_expires_at: datetime | None


class CredentialState(NamedTuple):
    """A user and their password (None when they have none), as signing in reads them."""

    user_id: int
    username: str
    organisation: str
    roles: str
    active: bool
    password_hash: str | None
    must_change: bool | None
    locked_until: datetime | None


# One statement by the unique index on the token's hash (and the user's primary key).
_TOKEN_STATE = (
    select(
        ApiToken.id,
        ApiToken.revoked_at,
        ApiToken.expires_at,
        User.id,
        User.username,
        User.organisation,
        User.roles,
        User.active,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)

_SESSION_STATE = (
    select(
        WebSession.id,
        WebSession.revoked_at,
        WebSession.last_seen_at,
        WebSession.expires_at,
        User.id,
        User.username,
        User.organisation,
        User.roles,
        User.active,
        ApiToken.id,
        ApiToken.revoked_at,
        ApiToken.expires_at,
    )
    .join(User, User.id == WebSession.user_id)
    .outerjoin(ApiToken, ApiToken.id == WebSession.token_id)
    .where(WebSession.session_hash == bindparam("session_hash"))
)


# One statement by the unique (organisation, username) index and the credential's primary key.
_CREDENTIAL_STATE = select(
    User.id,
    User.username,
    User.organisation,
    User.roles,
    User.active,
    PasswordCredential.password_hash,
    PasswordCredential.must_change,
    PasswordCredential.locked_until,
).outerjoin(PasswordCredential, PasswordCredential.user_id == User.id)
_CREDENTIAL_BY_NAME = _CREDENTIAL_STATE.where(
    User.organisation == bindparam("organisation"), User.username == bindparam("username")
)
_CREDENTIAL_BY_ID = _CREDENTIAL_STATE.where(User.id == bindparam("user_id"))
_CRED = PasswordCredential


def _unlocked(now: datetime) -> ColumnElement[bool]:
    """Not locked at `now`: never locked, or the lock has run out."""
    return or_(_CRED.locked_until.is_(None), _CRED.locked_until <= now)


def _has_role(role: str) -> ColumnElement[bool]:
    # Roles are a space-separated list: pad it so " admin " matches whole names only.
    return (literal(" ") + User.roles + literal(" ")).contains(f" {role} ")


class AuthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- users --------------------------------------------------------------------------------
    def user_in(self, organisation: str, username: str, *, for_update: bool = False) -> User | None:
        """The organisation's user with this name (usernames are unique per organisation)."""
        stmt = select(User).where(User.organisation == organisation, User.username == username)
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.session.execute(stmt).scalar_one_or_none()

    def users_named(self, username: str) -> list[User]:
        """Every user with this name, whatever their organisation (the command line's lookup)."""
        stmt = select(User).where(User.username == username).order_by(User.organisation)
        return list(self.session.execute(stmt).scalars())

    def users(self, organisation: str | None = None) -> list[User]:
        stmt = select(User).order_by(User.organisation, User.username)
        if organisation is not None:
            stmt = stmt.where(User.organisation == organisation)
        return list(self.session.execute(stmt).scalars())

    def lock_active_users_with_role(self, organisation: str, role: str) -> list[User]:
        """The organisation's active users holding `role`, locked until the transaction ends, in
        id order (so two transactions locking them cannot deadlock). A row another transaction
        changed meanwhile is read again as committed, so a user it deactivated is not counted."""
        stmt = (
            select(User)
            .where(User.organisation == organisation, User.active.is_(True), _has_role(role))
            .order_by(User.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list(self.session.execute(stmt).scalars())

    # -- tokens -------------------------------------------------------------------------------
    def token_with_user(self, token_hash: str) -> tuple[ApiToken, User] | None:
        row = self.session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash)
        ).first()
        return (row[0], row[1]) if row else None

    def token_state(self, token_hash: str) -> TokenState | None:
        row = self._reader().execute(_TOKEN_STATE, {"token_hash": token_hash}).first()
        return TokenState(*row) if row is not None else None

    def tokens_for(self, user_id: int) -> list[ApiToken]:
        return list(
            self.session.execute(
                select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
            ).scalars()
        )

    def token_for_update(self, token_hash: str) -> ApiToken | None:
        """The token row, locked until the transaction ends (PostgreSQL; SQLite's writer lock
        already serialises), so two rotations of one token cannot both succeed."""
        return self.session.execute(
            select(ApiToken)
            .where(ApiToken.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()

    def token_by_prefix(self, prefix: str) -> list[ApiToken]:
        return list(
            self.session.execute(select(ApiToken).where(ApiToken.prefix == prefix)).scalars()
        )

    # -- passwords ----------------------------------------------------------------------------
    def credential_state(self, organisation: str, username: str) -> CredentialState | None:
        """The organisation's user of this name with their password (one read)."""
        row = (
            self._reader()
            .execute(_CREDENTIAL_BY_NAME, {"organisation": organisation, "username": username})
            .first()
        )
        return CredentialState(*row) if row is not None else None

    def credential_state_of(self, user_id: int) -> CredentialState | None:
        row = self._reader().execute(_CREDENTIAL_BY_ID, {"user_id": user_id}).first()
        return CredentialState(*row) if row is not None else None

    def credential_for_update(self, user_id: int) -> PasswordCredential | None:
        """The user's password row, locked until the transaction ends (PostgreSQL; SQLite's
        writer lock already serialises)."""
        return self.session.execute(
            select(_CRED)
            .where(_CRED.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()

    def count_failed_sign_in(
        self, user_id: int, *, now: datetime, max_failures: int, lock_until: datetime
    ) -> tuple[int, datetime | None] | None:
        """One more failed sign-in, counted in the database (`failed_attempts + 1` in a single
        UPDATE, so failures at the same moment are each counted); the count reaching
        `max_failures` locks the account until `lock_until`. A lock that has run out starts the
        count again. Returns the count and the lock, or None when the account is locked now
        (another failure locked it meanwhile: nothing is counted)."""
        count = case((_CRED.locked_until.is_not(None), 1), else_=_CRED.failed_attempts + 1)
        row = self.session.execute(
            update(_CRED)
            .where(_CRED.user_id == user_id, _unlocked(now))
            .values(
                failed_attempts=count,
                last_failed_at=now,
                locked_until=case(
                    (count >= max_failures, literal(lock_until, UTCDateTime())), else_=null()
                ),
            )
            .returning(_CRED.failed_attempts, _CRED.locked_until)
            .execution_options(synchronize_session=False)
        ).first()
        return (int(row[0]), row[1]) if row is not None else None

    def record_sign_in(
        self, user_id: int, *, verified_hash: str, now: datetime, rehashed: str | None
    ) -> bool:
        """A successful sign-in clears the failures (and stores the rehashed password), unless
        the password checked is no longer the stored one or the account was locked meanwhile:
        then False, and nothing changes."""
        values: dict[str, object] = {"failed_attempts": 0, "locked_until": None}
        if rehashed is not None:
            values["password_hash"] = rehashed
        done = self.session.execute(
            update(_CRED)
            .where(
                _CRED.user_id == user_id,
                _CRED.password_hash == verified_hash,
                _unlocked(now),
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(done, "rowcount", 0) or 0) > 0

    # -- browser sessions ---------------------------------------------------------------------
    def session_state(self, session_hash: str) -> SessionState | None:
        row = self._reader().execute(_SESSION_STATE, {"session_hash": session_hash}).first()
        return SessionState(*row) if row is not None else None

    def touch_session(self, session_id: int, now: datetime) -> None:
        self.session.execute(
            update(WebSession)
            .where(WebSession.id == session_id, WebSession.last_seen_at < now)
            .values(last_seen_at=now)
        )

    def revoke_session(self, session_hash: str, now: datetime) -> int:
        done = self.session.execute(
            update(WebSession)
            .where(WebSession.session_hash == session_hash, WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(getattr(done, "rowcount", 0) or 0)

    def revoke_sessions_of(
        self, user_id: int, now: datetime, *, keep_hash: str | None = None
    ) -> None:
        """Every live session of the user, but the one whose hash is `keep_hash` (if given)."""
        stmt = update(WebSession).where(
            WebSession.user_id == user_id, WebSession.revoked_at.is_(None)
        )
        if keep_hash is not None:
            stmt = stmt.where(WebSession.session_hash != keep_hash)
        self.session.execute(stmt.values(revoked_at=now))

    def add(self, obj: User | ApiToken | WebSession | PasswordCredential) -> None:
        self.session.add(obj)
        self.session.flush()

    def _reader(self) -> Connection:
        """The session's connection, for a plain Core read (no ORM execution: these reads run on
        every request). A read that opens the session's transaction makes it a read-only one:
        no BEGIN and ROLLBACK round trips on PostgreSQL, no write lock on SQLite."""
        if self.session.in_transaction():
            return self.session.connection()
        dialect = self.session.get_bind().dialect.name
        return self.session.connection(execution_options=read_only_options(dialect))
