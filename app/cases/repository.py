"""SQL for cases and their events. No commits here: the service's Unit of Work commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import StaleCase
from app.models import Case, CaseEvent


@dataclass(frozen=True)
class CaseFilter:
    workflow: str | None = None
    state: str | None = None
    organisation: str | None = None
    site: str | None = None
    patient_ref: str | None = None
    is_open: bool | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None


class CaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- CaseStore port -------------------------------------------------------------------
    def add_case(self, case: Case) -> None:
        self.session.add(case)
        self.session.flush()

    def append_event(self, event: CaseEvent) -> None:
        self.session.add(event)
        try:
            self.session.flush()
        except IntegrityError as exc:
            # Another writer appended this seq first: the caller's view of the case is stale.
            raise StaleCase("the case was changed by someone else; reload and retry") from exc

    def last_occurred_at(self, case_id: int, event: str) -> datetime | None:
        # ORDER BY + LIMIT rather than max(): an aggregate would bypass the UTC column type.
        stmt = (
            select(CaseEvent.occurred_at)
            .where(CaseEvent.case_id == case_id, CaseEvent.event == event)
            .order_by(CaseEvent.occurred_at.desc())
            .limit(1)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    # -- reads ----------------------------------------------------------------------------
    def get(self, case_id: int, *, for_update: bool = False) -> Case | None:
        stmt = select(Case).where(Case.id == case_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def search(self, flt: CaseFilter, *, before_id: int | None, limit: int) -> list[Case]:
        """Newest first, keyset-paginated on id (stable under inserts, unlike OFFSET)."""
        stmt = select(Case).order_by(Case.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(Case.id < before_id)
        conditions = {
            Case.workflow_key: flt.workflow,
            Case.state: flt.state,
            Case.organisation: flt.organisation,
            Case.site: flt.site,
            Case.patient_ref: flt.patient_ref,
            Case.is_open: flt.is_open,
        }
        for column, value in conditions.items():
            if value is not None:
                stmt = stmt.where(column == value)
        if flt.opened_from is not None:
            stmt = stmt.where(Case.opened_at >= flt.opened_from)
        if flt.opened_to is not None:
            stmt = stmt.where(Case.opened_at < flt.opened_to)
        if flt.updated_from is not None:
            stmt = stmt.where(Case.updated_at >= flt.updated_from)
        if flt.updated_to is not None:
            stmt = stmt.where(Case.updated_at < flt.updated_to)
        return list(self.session.execute(stmt).scalars())

    def events(self, case_id: int) -> list[CaseEvent]:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
        return list(self.session.execute(stmt).scalars())
