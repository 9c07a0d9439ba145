"""Partner statements of the delay ledger: a month's delayed bed days and cost for one
responsible organisation, frozen when published (append-only, like daily snapshots).

Version 1 is the statement as published; a later version is a restatement, stored when the
events (late entries) give different figures for the month, with the differences from the
original. No row is ever changed or deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, JSONType
from app.models.event import refuse_change


class LedgerStatement(Base):
    __tablename__ = "ledger_statements"
    __table_args__ = (UniqueConstraint("organisation", "responsible", "month", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # Whose cases the figures cover (owned or shared with it): the publishing organisation.
    organisation: Mapped[str] = mapped_column(String(64))
    # The responsible organisation's code (pathways/config/ledger.yaml).
    responsible: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    version: Mapped[int] = mapped_column(Integer)  # 1: as published; 2+: restatements
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(64))
    as_at: Mapped[datetime]  # the figures are derived from events up to this instant
    definitions: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]
    # Where this version differs from version 1, as "path: original != restated" lines.
    differences: Mapped[list[str]] = mapped_column(JSONType)


event.listen(LedgerStatement, "before_update", refuse_change("update"))
event.listen(LedgerStatement, "before_delete", refuse_change("delete"))
