"""The operational figures /metrics reads from the database at each scrape: a handful of
aggregate queries on indexed columns (no patient data leaves this module, only counts and
ages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AdtMessage, ChcImport, Clock, LiveFigures
from app.models.adt import REJECTED

OPEN_CLOCK_STATES = ("running", "paused")


@dataclass(frozen=True)
class OperationalFigures:
    clocks_warned: int  # open clocks past a warning and not breached
    clocks_breached: int  # open clocks past their budget
    sweeper_lag_seconds: float  # how long the oldest due clock has waited to be swept
    live_figures_age_seconds: float | None  # the stalest of today's figures readers asked for
    imports_pending: int  # CHC import jobs queued or running
    adt_dead_letters: int  # PAS messages refused and not yet resolved


class OperationsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def figures(self, now: datetime, *, asked_since: datetime) -> OperationalFigures:
        open_clock = Clock.state.in_(OPEN_CLOCK_STATES)
        warned, breached = self.session.execute(
            select(
                func.count().filter(Clock.warned_at.is_not(None), Clock.breached_at.is_(None)),
                func.count().filter(Clock.breached_at.is_not(None)),
            ).where(open_clock)
        ).one()
        oldest_due = self.session.scalar(
            select(func.min(Clock.next_check_at)).where(
                Clock.state == "running", Clock.next_check_at <= now
            )
        )
        stalest = self.session.scalar(
            select(func.min(LiveFigures.computed_at)).where(LiveFigures.requested_at >= asked_since)
        )
        pending = self.session.scalar(
            select(func.count())
            .select_from(ChcImport)
            .where(ChcImport.state.in_(("queued", "running")))
        )
        dead = self.session.scalar(
            select(func.count()).select_from(AdtMessage).where(AdtMessage.outcome == REJECTED)
        )
        return OperationalFigures(
            clocks_warned=int(warned),
            clocks_breached=int(breached),
            sweeper_lag_seconds=_seconds_since(oldest_due, now) or 0.0,
            live_figures_age_seconds=_seconds_since(stalest, now),
            imports_pending=int(pending or 0),
            adt_dead_letters=int(dead or 0),
        )


def _seconds_since(at: datetime | None, now: datetime) -> float | None:
    if at is None:
        return None
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=UTC)
    return max(0.0, (now - at).total_seconds())
