"""Today's dashboard figures, computed ahead of the readers who ask for them.

One row per organisation, site ("*" for all) and part ("daily": discharge and intermediate
care; "chc": the organisation's CHC figures). The service's refresher recomputes a row a few
seconds after it goes stale while someone has asked for it recently; a reader gets the stored
figures with the instant they were computed (`computed_at`), or computes them itself if the
row is missing or older than the configured maximum age. Unlike `metric_snapshots` these rows
are overwritten: they are a cache of derived figures, never a record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class LiveFigures(Base):
    __tablename__ = "live_figures"

    organisation: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    part: Mapped[str] = mapped_column(String(16), primary_key=True)
    computed_at: Mapped[datetime]
    # The last time a reader asked for the row: rows nobody reads stop being refreshed.
    requested_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
