"""Stored daily metrics: once a reported day is over and stored, its figures never change."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK
from app.models.event import refuse_change

ALL_SITES = "*"


class MetricSnapshot(Base):
    __tablename__ = "metric_snapshots"
    __table_args__ = (UniqueConstraint("day", "site", "organisation"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    # A site code, or "*" for all sites together.
    site: Mapped[str] = mapped_column(String(64))
    # The figures cover the cases this organisation may see (owned or shared with it).
    organisation: Mapped[str] = mapped_column(String(64))
    snapshot_at: Mapped[datetime]
    computed_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


event.listen(MetricSnapshot, "before_update", refuse_change("update"))
event.listen(MetricSnapshot, "before_delete", refuse_change("delete"))
