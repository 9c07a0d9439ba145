"""SQL for stored idempotent responses."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Insert, Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached

from app.models import IdempotencyRecord

_COLUMNS = (
    "actor_id",
    "key",
    "fingerprint",
    "status_code",
    "response_body",
    "response_headers",
    "created_at",
    "expires_at",
)


class IdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, actor_id: int, key: str) -> IdempotencyRecord | None:
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.actor_id == actor_id, IdempotencyRecord.key == key
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def try_claim(self, record: IdempotencyRecord) -> bool:
        """Insert the claim; False when the key is taken (by a concurrent request that committed
        first, or earlier).

        `INSERT ... ON CONFLICT DO NOTHING RETURNING id`: one statement, and no error to recover
        from, so no savepoint. On PostgreSQL the insert waits for a concurrent transaction
        holding the same key and then inserts nothing; the caller reads the winner.
        """
        postgres = self.session.get_bind().dialect.name == "postgresql"
        insert = pg_insert if postgres else sqlite_insert
        stmt = (
            insert(IdempotencyRecord)
            .values({name: getattr(record, name) for name in _COLUMNS})
            .on_conflict_do_nothing(index_elements=["actor_id", "key"])
            .returning(IdempotencyRecord.id)
        )
        new_id = self.session.execute(stmt).scalar_one_or_none()
        if new_id is None:
            return False
        # Track the inserted row without reading it back: later changes become an UPDATE.
        record.id = new_id
        make_transient_to_detached(record)
        self.session.add(record)
        return True

    def get(self, record_id: int) -> IdempotencyRecord | None:
        return self.session.get(IdempotencyRecord, record_id)

    def insert_answered(self, values: dict[str, Any]) -> bool:
        """Store a request's key with its answer in one statement; False when the key was taken
        meanwhile (a concurrent request with the same key committed first)."""
        dialect = self.session.get_bind().dialect.name
        inserted = self.session.execute(_insert_answered(dialect), values).scalar_one_or_none()
        return inserted is not None

    def delete(self, record: IdempotencyRecord) -> None:
        self.session.delete(record)
        self.session.flush()


@cache
def _insert_answered(dialect: str) -> Insert:
    """Built once per dialect: `INSERT ... ON CONFLICT (actor_id, key) DO NOTHING RETURNING id`."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, IdempotencyRecord.__table__)  # Core, not the ORM's bulk-insert path
    return (
        insert(table)
        .values({name: bindparam(name) for name in _COLUMNS})
        .on_conflict_do_nothing(index_elements=["actor_id", "key"])
        .returning(table.c.id)
    )
