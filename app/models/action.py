"""Actions and milestones on a case (README "Actions and milestones").

- `case_actions`: a read model. One row per action a person added (`A<seq>`, the sequence number
  of the event that added it) or per cycle of a milestone the pathway declares (its name, then
  `<name>-2`...), derived from the case's events by `app.actions.readmodel` in the transaction
  of each change, and rebuilt from the events the same way.
- `action_alerts`: append-only. One row per action and due time that went overdue, written by
  the overdue sweep with the notification that tells its owner, so each late action reaches its
  owner once however many sweepers run (a new due time can go late again, once).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, JSONType
from app.models.event import refuse_change


class CaseAction(Base):
    __tablename__ = "case_actions"
    __table_args__ = (
        UniqueConstraint("case_id", "ref"),
        Index("ix_case_actions_owner", "owner_organisation", "status", "due_at"),
        Index("ix_case_actions_assignee", "assignee", "status"),
        Index("ix_case_actions_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    ref: Mapped[str] = mapped_column(String(48))
    # action | milestone
    kind: Mapped[str] = mapped_column(String(16))
    milestone: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    owner_organisation: Mapped[str] = mapped_column(String(64))
    owner_role: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime]
    # open | done | cancelled | withdrawn
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    opened_seq: Mapped[int] = mapped_column(Integer)
    closed_at: Mapped[datetime | None]
    closed_seq: Mapped[int | None] = mapped_column(Integer)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    late_reason: Mapped[str | None] = mapped_column(String(64))
    # A milestone's own late reasons (from its pathway version), for the guard that checks one.
    late_reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Copied from the case so lists filter without reading it: its workflow, owner and site, and
    # the planned pathway (kept up to date when the pathway changes).
    workflow_key: Mapped[str] = mapped_column(String(64))
    case_organisation: Mapped[str] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(64))
    pathway: Mapped[str | None] = mapped_column(String(16))


class ActionAlert(Base):
    __tablename__ = "action_alerts"
    __table_args__ = (UniqueConstraint("case_id", "ref", "due_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(BigInteger, index=True)
    ref: Mapped[str] = mapped_column(String(48))
    due_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    owner_organisation: Mapped[str] = mapped_column(String(64))


event.listen(ActionAlert, "before_update", refuse_change("update"))
event.listen(ActionAlert, "before_delete", refuse_change("delete"))
