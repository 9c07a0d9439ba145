"""Append-only records of reads of patient-identifiable data (information governance)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK
from app.models.event import refuse_change


class AccessRecord(Base):
    __tablename__ = "access_records"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    username: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    # The route template (e.g. /api/v1/cases/{case_id}), so records group by endpoint.
    endpoint: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(String(500), default="")
    case_count: Mapped[int] = mapped_column(Integer)


class AccessRecordCase(Base):
    """One row per case a read returned, so "who saw this patient?" is one indexed query."""

    __tablename__ = "access_record_cases"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("access_records.id", ondelete="RESTRICT"), index=True
    )
    case_id: Mapped[int] = mapped_column(BigInteger, index=True)


for _model in (AccessRecord, AccessRecordCase):
    event.listen(_model, "before_update", refuse_change("update"))
    event.listen(_model, "before_delete", refuse_change("delete"))
