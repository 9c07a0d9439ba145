"""Record each clock's warning and breach exactly once, however many sweepers run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.clocks.repository import ClockRepository
from app.clocks.service import schedule, threshold_instant
from app.db import UnitOfWork
from app.models import Clock, ClockEvent
from app.notifications.kinds import case_link
from app.notifications.outbox import notify


@dataclass
class SweepReport:
    warnings: int = 0
    breaches: int = 0
    batches: int = 0


def sweep(sessions: sessionmaker[Session], *, now: datetime, batch_size: int = 100) -> SweepReport:
    report = SweepReport()
    while True:
        with sessions() as session, UnitOfWork(session):
            repo = ClockRepository(session)
            due = repo.lock_due(now, batch_size)
            for clock in due:
                _fire_due(session, repo, clock, now, report)
                schedule(clock)
        if not due:
            return report
        report.batches += 1


def _fire_due(
    session: Session, repo: ClockRepository, clock: Clock, now: datetime, report: SweepReport
) -> None:
    # Warnings fire in order; a sweep that was late fires every one it missed, each once.
    while clock.warnings_fired < len(clock.warning_seconds):
        threshold = clock.warning_seconds[clock.warnings_fired]
        at = threshold_instant(clock, threshold)
        if at > now:
            break
        if _record(session, repo, clock, "warning", threshold, at, now):
            report.warnings += 1
        clock.warnings_fired += 1
        clock.warned_at = at
    if clock.due_at and clock.breached_at is None and clock.due_at <= now:
        if _record(session, repo, clock, "breach", clock.budget_seconds, clock.due_at, now):
            report.breaches += 1
        clock.breached_at = clock.due_at


def _record(
    session: Session,
    repo: ClockRepository,
    clock: Clock,
    kind: str,
    threshold: int,
    at: datetime,
    now: datetime,
) -> bool:
    """Insert the evidence row; the unique (clock, dedupe key) makes a second insert a no-op."""
    try:
        with session.begin_nested():
            repo.add_evidence(
                ClockEvent(
                    clock_id=clock.id,
                    case_id=clock.case_id,
                    kind=kind,
                    at=at,
                    recorded_at=now,
                    case_event_seq=None,
                    dedupe_key=f"{kind}:{threshold}",
                    threshold_seconds=threshold,
                )
            )
    except IntegrityError:
        return False
    # Subscribers hear of it from the outbox, written with the evidence (README "Notifications").
    notify(
        session,
        kind=f"clock_{kind}",
        case_id=clock.case_id,
        link=case_link(clock.case_id),
        summary=f"Clock {clock.name}: {kind} at {at:%Y-%m-%d %H:%M} UTC",
        now=now,
    )
    return True
