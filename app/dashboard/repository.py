"""SQL for the dashboard: the spells a reporting day can touch, and the change feed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import Case, CaseEvent


class DashboardRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def discharge_cases_touching(
        self, day_start: datetime, snapshot: datetime, site: str | None
    ) -> list[Case]:
        """Discharge cases open at the snapshot, or closed on or after the day began."""
        stmt = (
            select(Case)
            .where(
                Case.workflow_key == "discharge",
                Case.opened_at <= snapshot,
                or_(Case.closed_at.is_(None), Case.closed_at >= day_start),
            )
            .order_by(Case.id)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        return list(self.session.execute(stmt).scalars())

    def events_after(
        self, after_id: int, settled_before: datetime, limit: int, workflow: str | None
    ) -> list[tuple[CaseEvent, Case]]:
        """Events with id above the cursor that were recorded before the settle time."""
        stmt = (
            select(CaseEvent, Case)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.id > after_id, CaseEvent.recorded_at < settled_before)
            .order_by(CaseEvent.id)
            .limit(limit)
        )
        if workflow is not None:
            stmt = stmt.where(Case.workflow_key == workflow)
        return [(e, c) for e, c in self.session.execute(stmt).all()]
