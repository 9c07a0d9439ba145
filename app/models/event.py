"""The append-only case event log: the source of truth for every case's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from app.models.base import Base, BigIntPK


class AppendOnlyViolation(RuntimeError):
    """Raised when code tries to change or remove an audit row."""


class CaseEvent(Base):
    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        Index("ix_case_events_case_event", "case_id", "event", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    pathway_key: Mapped[str] = mapped_column(String(64))
    pathway_version: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int] = mapped_column(BigInteger)
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(64))
    actor_org: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(2000))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(index=True)
    backdated: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # PostgreSQL only: the writing transaction's id, filled by a column default. The change feed
    # serves an event only once every transaction older than the oldest one still running has
    # finished, so a poller never skips an event whose transaction commits late.
    tx_id: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())


def refuse_change(kind: str) -> Any:
    def _refuse(_mapper: Mapper[Any], _conn: Connection, target: Any) -> None:
        raise AppendOnlyViolation(f"{type(target).__tablename__} is append-only: {kind} refused")

    return _refuse


event.listen(CaseEvent, "before_update", refuse_change("update"))
event.listen(CaseEvent, "before_delete", refuse_change("delete"))
