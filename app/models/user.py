"""Users, their roles and organisation, their bearer tokens, their passwords and their signed-in
browser sessions (tokens, passwords and session ids are stored hashed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK


class User(Base):
    __tablename__ = "users"
    # A username is unique within its organisation only: an administrator choosing a name must
    # learn nothing about other organisations' users (README "Users and tokens").
    __table_args__ = (UniqueConstraint("organisation", "username"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(64))
    # Comma-free role names, stored as a space-separated list to stay portable.
    roles: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    @property
    def role_list(self) -> list[str]:
        return self.roles.split()


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    # SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # First characters of the token, so a user can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser (`app.auth.sessions`): the cookie holds a random id, this row its
    SHA-256. It ends at sign-out (`revoked_at`), after `idle` without a request, at
    `expires_at`, or when its user is deactivated or the token it was signed in with is
    revoked or expires."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    # The credential the browser signed in with: "token" today (then `token_id` is set);
    # a password or single sign-on later.
    method: Mapped[str] = mapped_column(String(16))
    token_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("api_tokens.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute limit, whatever the activity
    revoked_at: Mapped[datetime | None]


class PasswordCredential(Base):
    """A person's password (`app.auth.passwords`), one per user: only its argon2id hash is kept,
    with who set it and when, whether it must be changed at the next sign-in (one an
    administrator issued), and the run of failed sign-ins that locks the account."""

    __tablename__ = "password_credentials"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True
    )
    # The PHC string form ($argon2id$v=19$m=...,t=...,p=...$salt$hash): the parameters travel
    # with the hash, so a change of parameters rehashes at the next sign-in.
    password_hash: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime]
    # Who set it: an administrator, the person themselves; None from the command line.
    set_by_user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    must_change: Mapped[bool] = mapped_column(Boolean)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_failed_at: Mapped[datetime | None]
