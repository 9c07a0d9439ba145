"""A case: one person's journey through one workflow (pathway key + version)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_workflow_state", "workflow_key", "state"),
        Index("ix_cases_org_site", "organisation", "site"),
        Index("ix_cases_queue", "queue"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    workflow_key: Mapped[str] = mapped_column(String(64))
    workflow_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(64))
    # Denormalised projection of the latest event: the work queue its state belongs to.
    queue: Mapped[str | None] = mapped_column(String(64))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    # Optimistic-concurrency counter; equals the seq of the case's latest event.
    version: Mapped[int] = mapped_column(Integer)
    patient_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    organisation: Mapped[str] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(64))
    # Clinical time the case opened (may be backdated), and server times.
    opened_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    @property
    def etag(self) -> str:
        return f'"{self.version}"'
