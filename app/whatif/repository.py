"""SQL for the what-if: the runs (claimed by the background job under a lease) and the events
the observed inputs read besides the discharge spells (intermediate care's bed-based stays, the
CHC worklist)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.models import Case, CaseEvent, IcService, WhatIfRun

IC_BED_MODEL = "bed_based_ic"


class WhatIfRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- runs ------------------------------------------------------------------------------
    def add(self, run: WhatIfRun) -> WhatIfRun:
        self.session.add(run)
        self.session.flush()
        return run

    def get(self, run_id: int, organisation: str) -> WhatIfRun | None:
        stmt = select(WhatIfRun).where(
            WhatIfRun.id == run_id, WhatIfRun.organisation == organisation
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def listed(self, organisation: str, limit: int) -> list[WhatIfRun]:
        stmt = (
            select(WhatIfRun)
            .where(WhatIfRun.organisation == organisation)
            .order_by(WhatIfRun.id.desc())
            .limit(limit)
        )
        return list(self.session.execute(stmt).scalars())

    def claim(self, now: datetime, *, only: int | None = None) -> WhatIfRun | None:
        """The oldest run to do: queued, or running under a lease that has run out (its job
        died). Locked for this transaction; one another job is claiming is skipped (SQLite: its
        single writer lock serialises claims instead)."""
        stmt = (
            select(WhatIfRun)
            .where(
                WhatIfRun.status.in_(("queued", "running")),
                or_(WhatIfRun.lease_expires_at.is_(None), WhatIfRun.lease_expires_at <= now),
            )
            .order_by(WhatIfRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if only is not None:
            stmt = stmt.where(WhatIfRun.id == only)
        return self.session.execute(stmt).scalar_one_or_none()

    def lock(self, run_id: int) -> WhatIfRun | None:
        stmt = (
            select(WhatIfRun)
            .where(WhatIfRun.id == run_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    # -- what the inputs read --------------------------------------------------------------
    def community_beds(self, organisation: str) -> tuple[int, int]:
        """The beds of the organisation's active bed-based IC services, and how many services."""
        stmt = select(func.coalesce(func.sum(IcService.capacity), 0), func.count()).where(
            IcService.organisation == organisation,
            IcService.model == IC_BED_MODEL,
            IcService.active.is_(True),
        )
        beds, services = self.session.execute(stmt).one()
        return int(beds), int(services)

    def events_of(
        self,
        organisation: str,
        workflow: str,
        events: Collection[str] | None = None,
        *,
        moves_only: bool = False,
    ) -> list[CaseEvent]:
        """Events of the organisation's cases of `workflow` (only `events`, if given; only
        those that open a case or change its state, with `moves_only`), each case's in order."""
        stmt = (
            select(CaseEvent)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(Case.organisation == organisation, Case.workflow_key == workflow)
            .order_by(CaseEvent.case_id, CaseEvent.seq)
        )
        if events is not None:
            stmt = stmt.where(CaseEvent.event.in_(tuple(events)))
        if moves_only:
            stmt = stmt.where(
                or_(CaseEvent.from_state.is_(None), CaseEvent.from_state != CaseEvent.to_state)
            )
        return list(self.session.execute(stmt).scalars())

    def open_cases(self, organisation: str, workflow: str, states: Collection[str]) -> list[Case]:
        stmt = select(Case).where(
            Case.organisation == organisation,
            Case.workflow_key == workflow,
            Case.is_open.is_(True),
            Case.state.in_(tuple(states)),
        )
        return list(self.session.execute(stmt).scalars())
