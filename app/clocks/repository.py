"""SQL for clocks and their evidence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Clock, ClockEvent


class ClockRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def current(self, case_id: int, name: str) -> Clock | None:
        stmt = (
            select(Clock)
            .where(Clock.case_id == case_id, Clock.name == name)
            .order_by(Clock.cycle.desc())
            .limit(1)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def for_case(self, case_id: int) -> list[Clock]:
        stmt = select(Clock).where(Clock.case_id == case_id).order_by(Clock.name, Clock.cycle)
        return list(self.session.execute(stmt).scalars())

    def evidence_for_case(self, case_id: int) -> list[ClockEvent]:
        stmt = select(ClockEvent).where(ClockEvent.case_id == case_id).order_by(ClockEvent.id)
        return list(self.session.execute(stmt).scalars())

    def add(self, clock: Clock) -> None:
        self.session.add(clock)
        self.session.flush()

    def add_evidence(self, evidence: ClockEvent) -> None:
        self.session.add(evidence)
        self.session.flush()

    def lock_due(self, now: datetime, limit: int) -> list[Clock]:
        """Running clocks with a threshold due, locked; rows another sweeper holds are skipped.

        SQLite ignores the locking clause; its single writer lock serialises sweepers instead.
        """
        stmt = (
            select(Clock)
            .where(Clock.state == "running", Clock.next_check_at <= now)
            .order_by(Clock.next_check_at, Clock.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.execute(stmt).scalars())
