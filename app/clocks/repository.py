"""SQL for clocks and their evidence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Clock, ClockEvent


class ClockRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        # Clocks already read (with the case's lock) in this unit of work, in (name, cycle) order.
        self._known: dict[int, list[Clock]] = {}

    def prime(self, case_id: int, clocks: list[Clock]) -> None:
        """Serve this case's clocks from `clocks` (all of them, as read under the case's lock)."""
        self._known[case_id] = list(clocks)

    def current(self, case_id: int, name: str) -> Clock | None:
        if case_id in self._known:
            mine = [c for c in self._known[case_id] if c.name == name]
            return max(mine, key=lambda c: c.cycle) if mine else None
        stmt = (
            select(Clock)
            .where(Clock.case_id == case_id, Clock.name == name)
            .order_by(Clock.cycle.desc())
            .limit(1)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def for_case(self, case_id: int) -> list[Clock]:
        if case_id in self._known:
            return list(self._known[case_id])
        stmt = select(Clock).where(Clock.case_id == case_id).order_by(Clock.name, Clock.cycle)
        return list(self.session.execute(stmt).scalars())

    def evidence_for_case(self, case_id: int) -> list[ClockEvent]:
        stmt = select(ClockEvent).where(ClockEvent.case_id == case_id).order_by(ClockEvent.id)
        return list(self.session.execute(stmt).scalars())

    def add(self, clock: Clock) -> None:
        self.session.add(clock)
        self.session.flush()
        known = self._known.get(clock.case_id)
        if known is not None:
            # Keep (name, cycle) order: a new cycle goes after the clock's earlier cycles.
            same = [i for i, c in enumerate(known) if c.name == clock.name]
            if same:
                known.insert(same[-1] + 1, clock)
            else:
                known.append(clock)
                known.sort(key=lambda c: (c.name, c.cycle))

    def add_evidence(self, evidence: ClockEvent) -> None:
        """Add and flush at once (the sweeper relies on the unique key firing here)."""
        self.session.add(evidence)
        self.session.flush()

    def stage_evidence(self, evidence: ClockEvent) -> None:
        """Add evidence that cannot clash (no dedupe key); written with the unit of work's flush."""
        self.session.add(evidence)

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
