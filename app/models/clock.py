"""Durable SLA clocks and their append-only evidence.

A clock stores its budget and the time already consumed, not only a target instant, so pausing
and resuming stay exact. `next_check_at` is the earliest unfired threshold (warning or breach)
and is what the sweeper scans.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, JSONType
from app.models.event import refuse_change


class Clock(Base):
    __tablename__ = "clocks"
    __table_args__ = (
        UniqueConstraint("case_id", "name", "cycle"),
        Index("ix_clocks_due", "state", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    # A clock restarted by its start trigger gets a new row with the next cycle number.
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    calendar: Mapped[str] = mapped_column(String(64))
    budget_seconds: Mapped[int] = mapped_column(BigInteger)
    # Warning thresholds in seconds, ascending; the first `warnings_fired` of them have fired.
    warning_seconds: Mapped[list[int]] = mapped_column(JSONType)
    warnings_fired: Mapped[int] = mapped_column(Integer, default=0)
    consumed_seconds: Mapped[float] = mapped_column(default=0.0)
    # running | paused | stopped
    state: Mapped[str] = mapped_column(String(16))
    running_since: Mapped[datetime | None]
    started_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]


class ClockEvent(Base):
    """Append-only evidence: start, pause, resume, stop, warning, breach."""

    __tablename__ = "clock_events"
    # Warning and breach carry a dedupe key, so each fires once however many sweepers run;
    # other kinds leave it NULL (NULLs never collide in a unique constraint).
    __table_args__ = (UniqueConstraint("clock_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    clock_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("clocks.id", ondelete="RESTRICT"), index=True
    )
    case_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    case_event_seq: Mapped[int | None] = mapped_column(Integer)
    dedupe_key: Mapped[str | None] = mapped_column(String(32))
    # The threshold a warning or breach row is about, in seconds of running time.
    threshold_seconds: Mapped[int | None] = mapped_column(BigInteger)


event.listen(ClockEvent, "before_update", refuse_change("update"))
event.listen(ClockEvent, "before_delete", refuse_change("delete"))
