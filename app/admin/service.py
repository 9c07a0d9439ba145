"""Administrators manage the users of their own organisation: add, list, deactivate, issue."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.auth.repository import AuthRepository
from app.auth.service import add_user, create_token
from app.db import UnitOfWork
from app.errors import Forbidden, NotFound
from app.models import User
from app.security.inputs import RequestModel, SingleLine

ADMIN_ROLES = ("admin",)


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


class TokenRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    label: SingleLine = Field(default="", max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=366)


def _require_admin(actor: Actor) -> None:
    if actor.role_for(ADMIN_ROLES) is None:
        raise Forbidden("managing users needs the admin role", required_roles=list(ADMIN_ROLES))


def _own_user(session: Session, actor: Actor, username: str) -> User:
    user = AuthRepository(session).user_by_username(username)
    if user is None or user.organisation != actor.organisation:
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
    return [
        read(u) for u in AuthRepository(session).users() if u.organisation == actor.organisation
    ]


def create(session: Session, *, actor: Actor, body: UserCreate) -> UserRead:
    """A new user always joins the administrator's own organisation."""
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


def deactivate(session: Session, *, actor: Actor, username: str) -> UserRead:
    """An inactive user's tokens stop working at once; the user and their history remain."""
    _require_admin(actor)
    with UnitOfWork(session):
        user = _own_user(session, actor, username)
        user.active = False
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
        label=body.label,
        expires_in=timedelta(days=body.expires_in_days) if body.expires_in_days else None,
    )
    return TokenIssued(
        token=issued.token,
        prefix=issued.prefix,
        username=issued.username,
        expires_at=issued.expires_at,
    )
