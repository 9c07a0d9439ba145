"""The daily escalation call (huddle): one row per organisation, site and London day, and an
append-only log of what the call noted about each patient (discussed, the action agreed, its
owner and due date). The agenda shows each patient's latest note; earlier ones stay as history.

Issue #17 will turn a note's action into a case action (a task on the case with its own
lifecycle); until then the action lives only here.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK
from app.models.event import refuse_change

# The site of a huddle that covers every site of the organisation (system-wide).
SYSTEM_WIDE = ""


class Huddle(Base):
    __tablename__ = "huddles"
    # One call per organisation, site and day: starting it twice (a double click, two chairs)
    # finds the first.
    __table_args__ = (UniqueConstraint("organisation", "site", "held_on"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))  # SYSTEM_WIDE for the whole organisation
    held_on: Mapped[date] = mapped_column(Date)  # the London calendar day of the call
    started_at: Mapped[datetime]
    started_by_user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    started_by_username: Mapped[str] = mapped_column(String(64))


class HuddleNote(Base):
    """What one huddle recorded about one patient. Never changed: a later note supersedes it."""

    __tablename__ = "huddle_notes"
    __table_args__ = (Index("ix_huddle_notes_case_huddle", "case_id", "huddle_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    huddle_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("huddles.id", ondelete="RESTRICT"), index=True
    )
    case_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime]
    recorded_by_user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    recorded_by_username: Mapped[str] = mapped_column(String(64))
    discussed: Mapped[bool] = mapped_column(Boolean)
    action: Mapped[str | None] = mapped_column(String(500))
    action_owner: Mapped[str | None] = mapped_column(String(100))
    action_due: Mapped[date | None] = mapped_column(Date)


event.listen(HuddleNote, "before_update", refuse_change("update"))
event.listen(HuddleNote, "before_delete", refuse_change("delete"))
