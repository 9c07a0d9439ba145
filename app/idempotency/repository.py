"""SQL for stored idempotent responses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import IdempotencyRecord


class IdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, actor_id: int, key: str) -> IdempotencyRecord | None:
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.actor_id == actor_id, IdempotencyRecord.key == key
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def try_claim(self, record: IdempotencyRecord) -> bool:
        """Insert the claim; False when a concurrent request with the key committed first.

        On PostgreSQL the insert waits for the other transaction and then fails on the unique
        key; the savepoint keeps this transaction usable so the caller can read the winner.
        """
        try:
            with self.session.begin_nested():
                self.session.add(record)
                self.session.flush()
        except IntegrityError:
            return False
        return True

    def delete(self, record: IdempotencyRecord) -> None:
        self.session.delete(record)
        self.session.flush()
