"""Administrators manage the users of their own organisation: add, list, deactivate, issue
tokens and passwords.

Usernames are unique per organisation, and every lookup here is by (the administrator's
organisation, username): another organisation's users are invisible (404 for a name, and a
name taken elsewhere is simply free here), so no answer tells an administrator anything about
another organisation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.auth import passwords, sessions
from app.auth.actor import Actor
from app.auth.repository import AuthRepository
from app.auth.service import add_user, create_token
from app.db import UnitOfWork
from app.errors import Conflict, Forbidden, NotFound
from app.models import User
from app.security.inputs import RequestModel, SingleLine
from app.timeutil import utcnow

ADMIN_ROLES = ("admin",)


class LastAdmin(Conflict):
    code, title = "last_admin", "The organisation's last administrator"


class UserCreate(RequestModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    display_name: SingleLine = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1, max_length=20)


class UserRead(BaseModel):
    username: str
    display_name: str
    organisation: str
    roles: list[str]
    active: bool
    created_at: datetime


class TokenIssued(BaseModel):
    token: str = Field(description="Shown once: store it now")
    prefix: str
    username: str
    expires_at: datetime | None


class PasswordIssued(BaseModel):
    username: str
    organisation: str
    password: str = Field(description="Shown in this answer only: give it to the person now")
    must_change: bool = Field(description="The person must choose their own at the next sign-in")


class TokenRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    label: SingleLine = Field(default="", max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=366)


def _require_admin(actor: Actor) -> None:
    if actor.role_for(ADMIN_ROLES) is None:
        raise Forbidden("managing users needs the admin role", required_roles=list(ADMIN_ROLES))


def _own_user(session: Session, actor: Actor, username: str, *, for_update: bool = False) -> User:
    user = AuthRepository(session).user_in(actor.organisation, username, for_update=for_update)
    if user is None:
        raise NotFound(f"no user {username!r} in {actor.organisation}")
    return user


def read(user: User) -> UserRead:
    return UserRead(
        username=user.username,
        display_name=user.display_name,
        organisation=user.organisation,
        roles=user.role_list,
        active=user.active,
        created_at=user.created_at,
    )


def list_users(session: Session, *, actor: Actor) -> list[UserRead]:
    _require_admin(actor)
    return [read(u) for u in AuthRepository(session).users(actor.organisation)]


def create(session: Session, *, actor: Actor, body: UserCreate) -> UserRead:
    """A new user always joins the administrator's own organisation, never with an internal
    role (422 `role_not_grantable`); a name already used there is a 409 `username_taken`."""
    _require_admin(actor)
    return read(
        add_user(
            session,
            username=body.username,
            display_name=body.display_name,
            organisation=actor.organisation,
            roles=body.roles,
        )
    )


def deactivate(
    session: Session, *, actor: Actor, username: str, now: datetime | None = None
) -> UserRead:
    """An inactive user's tokens and browser sessions stop working at once; the user and their
    history remain. The organisation's last active administrator cannot be deactivated (409
    `last_admin`), by themselves or anyone: someone must be left to manage its users."""
    _require_admin(actor)
    now = now or utcnow()
    with UnitOfWork(session):
        repo = AuthRepository(session)
        # The administrators are locked first, always in the same order, so two deactivations
        # at once (each of the other) cannot both see another administrator left.
        admins = repo.lock_active_users_with_role(actor.organisation, "admin")
        user = _own_user(session, actor, username, for_update=True)
        if user.active and "admin" in user.role_list:
            if not [a for a in admins if a.id != user.id]:
                raise LastAdmin(
                    f"{username!r} is the last active administrator of {actor.organisation}; "
                    "make someone else an administrator first"
                )
        user.active = False
        sessions.end_all_for(session, user.id, now=now)
    return read(user)


def issue_token(
    session: Session, *, actor: Actor, username: str, body: TokenRequest
) -> TokenIssued:
    _require_admin(actor)
    _own_user(session, actor, username)
    session.rollback()
    issued = create_token(
        session,
        username=username,
        organisation=actor.organisation,
        label=body.label,
        expires_in=timedelta(days=body.expires_in_days) if body.expires_in_days else None,
    )
    return TokenIssued(
        token=issued.token,
        prefix=issued.prefix,
        username=issued.username,
        expires_at=issued.expires_at,
    )


def issue_password(
    session: Session, *, actor: Actor, username: str, now: datetime | None = None
) -> PasswordIssued:
    """A new random password for a user of the administrator's organisation (404 for anyone
    else), to be changed at their next sign-in. It unlocks the account and signs the user out
    of every browser; only its hash is kept."""
    _require_admin(actor)
    issued = passwords.issue_password(
        session,
        organisation=actor.organisation,
        username=username,
        set_by=actor,
        now=now or utcnow(),
    )
    return PasswordIssued(
        username=issued.username,
        organisation=issued.organisation,
        password=issued.password,
        must_change=issued.must_change,
    )
