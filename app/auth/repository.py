"""SQL for users and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import ApiToken, User


class TokenState(NamedTuple):
    """What authenticating a request needs about a token and its user: plain values, so nothing
    is loaded again after the read ends."""

    revoked_at: datetime | None
    expires_at: datetime | None
    user_id: int
    username: str
    organisation: str
    roles: str
    active: bool


_TOKEN_STATE = (
    select(
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


class AuthRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def user_by_username(self, username: str) -> User | None:
        return self.session.execute(
            select(User).where(User.username == username)
        ).scalar_one_or_none()

    def users(self) -> list[User]:
        return list(self.session.execute(select(User).order_by(User.username)).scalars())

    def token_with_user(self, token_hash: str) -> tuple[ApiToken, User] | None:
        row = self.session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash)
        ).first()
        return (row[0], row[1]) if row else None

    def token_state(self, token_hash: str) -> TokenState | None:
        row = self.session.execute(_TOKEN_STATE, {"token_hash": token_hash}).first()
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

    def add(self, obj: User | ApiToken) -> None:
        self.session.add(obj)
        self.session.flush()
