"""The operational figures /metrics reads from the database at each scrape (a handful of
aggregate queries on indexed columns: no patient data leaves this module, only counts and
ages), and the background jobs' heartbeats /readyz reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.models import AdtMessage, ChcImport, Clock, JobHeartbeat, LiveFigures
from app.models.adt import REJECTED
from app.models.notification import Notification, NotificationDelivery
from app.notifications.repository import DEAD, PENDING

OPEN_CLOCK_STATES = ("running", "paused")


@dataclass(frozen=True)
class OperationalFigures:
    clocks_warned: int  # open clocks past a warning and not breached
    clocks_breached: int  # open clocks past their budget
    sweeper_lag_seconds: float  # how long the oldest due clock has waited to be swept
    live_figures_age_seconds: float | None  # the stalest of today's figures readers asked for
    imports_pending: int  # CHC import jobs queued or running
    adt_dead_letters: int  # PAS messages refused and not yet resolved
    notifications_waiting: int  # outbox rows not yet fanned out to their recipients
    deliveries_pending: int  # emails and webhooks waiting for a first or next attempt
    deliveries_dead: int  # emails and webhooks given up on (the dead letters)


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
        waiting = self.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.fanned_out_at.is_(None))
        )
        by_status: dict[str, int] = {}
        for status, count in self.session.execute(
            select(NotificationDelivery.status, func.count())
            .where(NotificationDelivery.status.in_((PENDING, DEAD)))
            .group_by(NotificationDelivery.status)
        ):
            by_status[status] = count
        return OperationalFigures(
            clocks_warned=int(warned),
            clocks_breached=int(breached),
            sweeper_lag_seconds=_seconds_since(oldest_due, now) or 0.0,
            live_figures_age_seconds=_seconds_since(stalest, now),
            imports_pending=int(pending or 0),
            adt_dead_letters=int(dead or 0),
            notifications_waiting=int(waiting or 0),
            deliveries_pending=int(by_status.get(PENDING, 0)),
            deliveries_dead=int(by_status.get(DEAD, 0)),
        )


def _seconds_since(at: datetime | None, now: datetime) -> float | None:
    if at is None:
        return None
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=UTC)
    return max(0.0, (now - at).total_seconds())


# -- background jobs' heartbeats (readiness) --------------------------------------------------
# A job is taken to have stopped when its last run is older than this many periods.
STALE_AFTER_PERIODS = 3


@dataclass(frozen=True)
class StaleJob:
    job: str
    last_run_at: datetime
    period_seconds: float
    runner: str


class HeartbeatRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def beat(self, job: str, *, period_seconds: float, now: datetime, runner: str) -> None:
        """Record a finished run of `job` (insert or overwrite its one row)."""
        values = {
            "job": job,
            "period_seconds": period_seconds,
            "last_run_at": now,
            "runner": runner[:128],
        }
        insert = (
            pg_insert(JobHeartbeat)
            if self.session.get_bind().dialect.name == "postgresql"
            else sqlite_insert(JobHeartbeat)
        )
        statement = insert.values(**values)
        self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[JobHeartbeat.job],
                set_={k: statement.excluded[k] for k in values if k != "job"},
            )
        )

    def stale(self, now: datetime) -> list[StaleJob]:
        """Jobs whose last run is older than `STALE_AFTER_PERIODS` of their periods."""
        found = []
        for row in self.session.scalars(select(JobHeartbeat).order_by(JobHeartbeat.job)):
            last = (
                row.last_run_at if row.last_run_at.tzinfo else row.last_run_at.replace(tzinfo=UTC)
            )
            if (now - last).total_seconds() > STALE_AFTER_PERIODS * row.period_seconds:
                found.append(StaleJob(row.job, last, row.period_seconds, row.runner))
        return found
