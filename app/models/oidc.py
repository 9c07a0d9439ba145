"""Sign-in attempts through an OpenID Connect provider (`app.auth.oidc_sign_in`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK


class OidcSignInAttempt(Base):
    """One browser's trip to an identity provider and back. The browser holds a random id in a
    short-lived cookie; this row its SHA-256 with the values the callback must match. Used once
    (`used_at`), then kept until it expires so a replayed callback is recognised."""

    __tablename__ = "oidc_sign_in_attempts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    attempt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    next_path: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
