"""Stored daily metrics: once a reported day is over and stored, its figures never change.

A backdated entry recorded later can still change what the events say about a finished day: the
day is then marked (`RestatementMark`), and the restatement job stores the figures computed
again beside the originals (`MetricRestatement`), with the differences.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, JSONType
from app.models.event import refuse_change

ALL_SITES = "*"
ALL_WARDS = "*"


class MetricSnapshot(Base):
    __tablename__ = "metric_snapshots"
    __table_args__ = (UniqueConstraint("day", "site", "ward", "organisation"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    # A site code, or "*" for all sites together.
    site: Mapped[str] = mapped_column(String(64))
    # A ward (the patients on it at the snapshot), or "*" for every ward.
    ward: Mapped[str] = mapped_column(String(64), server_default=ALL_WARDS)
    # The figures cover the cases this organisation may see (owned or shared with it).
    organisation: Mapped[str] = mapped_column(String(64))
    snapshot_at: Mapped[datetime]
    computed_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


class MetricRestatement(Base):
    """A finished day's figures computed again after a late entry changed them; the newest row
    of a key is the current restatement. The stored original is never replaced."""

    __tablename__ = "metric_restatements"
    __table_args__ = (
        Index("ix_metric_restatements_key", "day", "site", "ward", "organisation", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    site: Mapped[str] = mapped_column(String(64))
    ward: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str] = mapped_column(String(64))
    snapshot_at: Mapped[datetime]
    computed_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    # Where these figures differ from the originals, as "path: original != restated" lines.
    differences: Mapped[list[str]] = mapped_column(JSONType)


class RestatementMark(Base):
    """A finished day that an entry recorded later, with an earlier clinical time, may have
    changed (that day and every day after it, up to yesterday). A queue: each such entry adds
    a row (an insert never waits for the job), and the restatement job deletes what it did."""

    __tablename__ = "metric_restatement_marks"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    marked_at: Mapped[datetime]
    case_id: Mapped[int] = mapped_column(BigInteger)


for _table in (MetricSnapshot, MetricRestatement):
    event.listen(_table, "before_update", refuse_change("update"))
    event.listen(_table, "before_delete", refuse_change("delete"))
