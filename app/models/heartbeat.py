"""When each background job last finished a run, for readiness (`/readyz`).

One row per job (`clock_sweeper`, `live_figures`), written by whichever process runs it (the
service's own threads or `homefirst worker`) at the end of each successful run, with the period
it runs at. A row older than three periods means the job has stopped: /readyz then answers 503.
Overwritten, never a record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class JobHeartbeat(Base):
    __tablename__ = "job_heartbeats"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    period_seconds: Mapped[float]
    last_run_at: Mapped[datetime]
    # Which process ran it last (host and pid), for the operator reading /readyz.
    runner: Mapped[str] = mapped_column(String(128))
