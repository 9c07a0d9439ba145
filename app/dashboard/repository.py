"""SQL for the dashboard: the spells a reporting day can touch, and the change feed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from app.models import Case, CaseEvent
from app.models.snapshot import MetricSnapshot


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

    def snapshot(self, day: date, site: str) -> MetricSnapshot | None:
        stmt = select(MetricSnapshot).where(MetricSnapshot.day == day, MetricSnapshot.site == site)
        return self.session.execute(stmt).scalar_one_or_none()

    def add_snapshot(self, row: MetricSnapshot) -> None:
        self.session.add(row)
        self.session.flush()

    def discharge_sites(self) -> list[str]:
        stmt = (
            select(Case.site)
            .where(Case.workflow_key == "discharge", Case.site.is_not(None))
            .distinct()
            .order_by(Case.site)
        )
        return [s for s in self.session.execute(stmt).scalars() if s]

    def events_after(
        self, after_id: int, limit: int, workflow: str | None
    ) -> list[tuple[CaseEvent, Case]]:
        """Committed events above the cursor, in id order, that no late commit can precede.

        Ids are taken at INSERT, not at COMMIT, so id 101 can be visible while id 100 is still
        being written. On PostgreSQL an event is served only when its transaction is older than
        every transaction still running (`pg_snapshot_xmin`), so the cursor never passes an id
        that could still appear. SQLite runs one writer at a time, so ids commit in order there.
        """
        stmt = (
            select(CaseEvent, Case)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.id > after_id)
            .order_by(CaseEvent.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            xmin = text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            stmt = stmt.where(CaseEvent.tx_id < xmin)
        if workflow is not None:
            stmt = stmt.where(Case.workflow_key == workflow)
        return [(e, c) for e, c in self.session.execute(stmt).all()]
