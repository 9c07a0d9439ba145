"""The discharge spell projection: each discharge case's derived facts, kept as plain columns.

The case events stay the only source of truth. These rows are what `app.discharge.projection`
derives from them (with the same `derive_facts` the reports use), rewritten in the transaction
that writes the events, so the live dashboard can answer with SQL aggregates instead of
re-deriving every spell on every request. A rebuild from the events gives the same rows.

Days are London calendar dates stored as ordinals (`date.toordinal()`), and times that enter
averages are also kept as whole microseconds since the epoch, so the aggregates are integer
arithmetic that SQLite and PostgreSQL compute identically.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class DischargeSpell(Base):
    __tablename__ = "discharge_spells"
    __table_args__ = (
        # Live figures read the spells still open (a small share once years of history exist)
        # plus those closed since the day began.
        Index(
            "ix_discharge_spells_open",
            "organisation",
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
        Index("ix_discharge_spells_closed_at", "closed_at"),
    )

    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True
    )
    organisation: Mapped[str] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(64))
    hospital_system: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    admitted_at: Mapped[datetime | None]
    admitted_day: Mapped[int | None] = mapped_column(Integer)
    left_at: Mapped[datetime | None]
    discharged_at: Mapped[datetime | None]
    discharged_day: Mapped[int | None] = mapped_column(Integer)
    discharge_pathway: Mapped[str | None] = mapped_column(String(8))
    drd_day: Mapped[int | None] = mapped_column(Integer)
    # The latest period of not meeting the criteria to reside (end NULL: still open).
    nctr_last_start: Mapped[datetime | None]
    nctr_last_end: Mapped[datetime | None]
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    # The clinical time of the latest criteria-to-reside entry and how many delay periods are
    # open: what decides whether the next entry can be applied to the row without the events.
    ctr_last_at: Mapped[datetime | None]
    open_delays: Mapped[int] = mapped_column(Integer, default=0)
    # The ward named last in clinical time (app.discharge.wards), and that time: a later entry
    # moves the row; a backdated transfer before it does not.
    ward: Mapped[str | None] = mapped_column(String(64))
    ward_at: Mapped[datetime | None]
    # The expected discharge date in force (set last in clinical time) and the first one set,
    # each with its clinical time (app.discharge.edd); days as ordinals.
    edd_day: Mapped[int | None] = mapped_column(Integer)
    edd_at: Mapped[datetime | None]
    first_edd_day: Mapped[int | None] = mapped_column(Integer)
    first_edd_at: Mapped[datetime | None]


class DischargeDelayPeriod(Base):
    """One delay period of a spell, in the order `derive_facts` lists them."""

    __tablename__ = "discharge_delay_periods"
    __table_args__ = (
        Index(
            "ix_discharge_delay_periods_open",
            "case_id",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index("ix_discharge_delay_periods_ended_at", "ended_at"),
    )

    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("discharge_spells.case_id", ondelete="CASCADE"), primary_key=True
    )
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    family: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime]
    marked_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    support_area: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(2000))
    # The code list version the code was checked against, as the event recorded it.
    codelist: Mapped[str | None] = mapped_column(String(100))
    started_us: Mapped[int] = mapped_column(BigInteger)
    ended_us: Mapped[int | None] = mapped_column(BigInteger)
