"""SQL for OpenID Connect sign-in attempts (`app.auth.oidc_sign_in`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.models import OidcSignInAttempt


class OidcAttemptRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, attempt: OidcSignInAttempt) -> None:
        self.session.add(attempt)
        self.session.flush()

    def by_hash(self, attempt_hash: str) -> OidcSignInAttempt | None:
        return self.session.execute(
            select(OidcSignInAttempt).where(OidcSignInAttempt.attempt_hash == attempt_hash)
        ).scalar_one_or_none()

    def mark_used(self, attempt_id: int, now: datetime) -> bool:
        """True for the one caller that marks the attempt used: the condition is checked by the
        database in the same statement, so two callbacks at once cannot both get it."""
        done = self.session.execute(
            update(OidcSignInAttempt)
            .where(OidcSignInAttempt.id == attempt_id, OidcSignInAttempt.used_at.is_(None))
            .values(used_at=now)
        )
        return int(getattr(done, "rowcount", 0) or 0) == 1

    def purge_expired_before(self, cutoff: datetime) -> None:
        self.session.execute(delete(OidcSignInAttempt).where(OidcSignInAttempt.expires_at < cutoff))
