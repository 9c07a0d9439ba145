"""What-if runs (issue 19, item 3): a manager's scenario, queued for the background job, with
the inputs observed from the event log that it ran on and its result, so each figure can be
explained and run again (the same inputs and seed give the same result)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK

_PENDING = "status IN ('queued', 'running')"


class WhatIfRun(Base):
    __tablename__ = "whatif_runs"
    __table_args__ = (
        Index("ix_whatif_runs_organisation", "organisation", "id"),
        Index(
            "ix_whatif_runs_pending",
            "id",
            postgresql_where=text(_PENDING),
            sqlite_where=text(_PENDING),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    # queued -> running -> done | failed
    status: Mapped[str] = mapped_column(String(16))
    # The capacity changes (app.whatif.schemas.ScenarioIn), the horizon and the options asked.
    scenario: Mapped[dict[str, Any]]
    seed: Mapped[int] = mapped_column(Integer)
    runs: Mapped[int] = mapped_column(Integer)
    weeks: Mapped[int] = mapped_column(Integer)
    # The observed parameters the model ran on (app.whatif.observed), set when it starts.
    inputs: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Which job holds the run, until when: a run whose job died is claimed again after this.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
