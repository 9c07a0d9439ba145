"""SQL for clocks and their evidence."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from app.bulk import IdAllocator, insert_rows, row_of
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


class StagedClockRepository(ClockRepository):
    """The clocks of cases being opened in bulk (`CaseWriter.open_batch`): each new clock gets
    its id ahead, and `write` inserts the clocks and their evidence with one statement each.

    Only for cases that have no clocks yet (every case being opened): `current` looks only at
    the clocks staged here.
    """

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.clocks: list[Clock] = []
        self.evidence: list[ClockEvent] = []
        self._ids = IdAllocator(session, cast(Table, Clock.__table__))
        self._by_case: dict[int, list[Clock]] = {}

    def current(self, case_id: int, name: str) -> Clock | None:
        mine = [c for c in self._by_case.get(case_id, ()) if c.name == name]
        return max(mine, key=lambda c: c.cycle) if mine else None

    def for_case(self, case_id: int) -> list[Clock]:
        return list(self._by_case.get(case_id, ()))

    def add(self, clock: Clock) -> None:
        clock.id = self._ids.next()
        self.clocks.append(clock)
        self._by_case.setdefault(clock.case_id, []).append(clock)

    def stage_evidence(self, evidence: ClockEvent) -> None:
        self.evidence.append(evidence)

    def mark(self) -> tuple[int, int]:
        return len(self.clocks), len(self.evidence)

    def undo(self, mark: tuple[int, int]) -> None:
        for clock in self.clocks[mark[0] :]:
            self._by_case[clock.case_id].remove(clock)
        del self.clocks[mark[0] :]
        del self.evidence[mark[1] :]

    def write(self) -> None:
        clocks, evidence = cast(Table, Clock.__table__), cast(Table, ClockEvent.__table__)
        insert_rows(self.session, clocks, [row_of(c, clocks) for c in self.clocks])
        insert_rows(self.session, evidence, [row_of(e, evidence) for e in self.evidence])
        self.clocks, self.evidence, self._by_case = [], [], {}
        self._ids.reset()
