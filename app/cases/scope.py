"""Organisation scoping: a case is seen and changed only by its owner and the organisations it
is shared with (for example the hospital trust and the care transfer hub; the CSU for CHC; the
provider of an intermediate-care episode). Everything else answers 404, never 403, so a case
number from another organisation tells the caller nothing."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, exists, or_, select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import Case, CaseShare, CaseShareChange


def visible_to(organisation: str) -> ColumnElement[bool]:
    """SQL condition on `Case`: owned by or shared with the organisation."""
    shared = exists().where(CaseShare.case_id == Case.id, CaseShare.organisation == organisation)
    return or_(Case.organisation == organisation, shared)


def shared_with(organisation: str) -> ColumnElement[bool]:
    """SQL condition on `Case`: shared with the organisation by another (referred to it), for
    readers granted only the cases referred to them (a `shared_only` grant)."""
    return exists().where(CaseShare.case_id == Case.id, CaseShare.organisation == organisation)


class ScopeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def is_visible(self, case_id: int, organisation: str) -> bool:
        stmt = select(Case.id).where(Case.id == case_id, visible_to(organisation))
        return self.session.execute(stmt).first() is not None

    def is_shared_with(self, case_id: int, organisation: str) -> bool:
        stmt = select(Case.id).where(Case.id == case_id, shared_with(organisation))
        return self.session.execute(stmt).first() is not None

    def visible_ids(self, case_ids: list[int], organisation: str) -> set[int]:
        if not case_ids:
            return set()
        stmt = select(Case.id).where(Case.id.in_(case_ids), visible_to(organisation))
        return set(self.session.execute(stmt).scalars())

    def organisations(self, case_id: int) -> list[str]:
        """The owner first, then every organisation the case is shared with."""
        owner = self.session.execute(select(Case.organisation).where(Case.id == case_id))
        shares = self.session.execute(
            select(CaseShare.organisation)
            .where(CaseShare.case_id == case_id)
            .order_by(CaseShare.id)
        )
        return [*owner.scalars(), *shares.scalars()]

    def shares(self, case_id: int) -> list[CaseShare]:
        stmt = select(CaseShare).where(CaseShare.case_id == case_id).order_by(CaseShare.id)
        return list(self.session.execute(stmt).scalars())

    def add_share(self, share: CaseShare) -> None:
        self.session.add(share)
        self.session.flush()

    def delete_share(self, case_id: int, organisation: str) -> bool:
        """Remove the share; False when there was none (or a concurrent withdrawal took it)."""
        stmt = delete(CaseShare).where(
            CaseShare.case_id == case_id, CaseShare.organisation == organisation
        )
        result = cast("CursorResult[Any]", self.session.execute(stmt))
        return result.rowcount > 0

    def owner(self, case_id: int) -> str | None:
        stmt = select(Case.organisation).where(Case.id == case_id)
        return self.session.execute(stmt).scalar_one_or_none()

    def add_change(self, change: CaseShareChange) -> None:
        self.session.add(change)
        self.session.flush()

    def changes(self, case_id: int) -> list[CaseShareChange]:
        stmt = (
            select(CaseShareChange)
            .where(CaseShareChange.case_id == case_id)
            .order_by(CaseShareChange.id)
        )
        return list(self.session.execute(stmt).scalars())


def require_visible(session: Session, case_id: int, organisation: str) -> None:
    if not ScopeRepository(session).is_visible(case_id, organisation):
        raise NotFound(f"case {case_id} not found")
