"""Which organisations, besides the owner, work a case and may see and change it; and the
append-only log of every share and withdrawal (the case's sharing audit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK
from app.models.event import refuse_change


class CaseShare(Base):
    __tablename__ = "case_shares"
    __table_args__ = (UniqueConstraint("case_id", "organisation"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    organisation: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class CaseShareChange(Base):
    """Append-only: who shared a case with an organisation or withdrew the share, when, and why.

    Written in the transaction of the share or withdrawal itself. A share is not a step of the
    case's pathway, so it is kept here rather than in `case_events` (whose rows are the pathway's
    transitions, numbered by the case's version and replayed to rebuild it)."""

    __tablename__ = "case_share_changes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    # shared | withdrawn
    action: Mapped[str] = mapped_column(String(16))
    # The organisation the case was shared with, or whose share was withdrawn.
    organisation: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    # None only for shares made before this log existed (copied in by the migration).
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_org: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


event.listen(CaseShareChange, "before_update", refuse_change("update"))
event.listen(CaseShareChange, "before_delete", refuse_change("delete"))
