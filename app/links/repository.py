"""SQL for case links."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.cases.scope import visible_to
from app.models import Case, CaseLink


class LinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, link: CaseLink) -> None:
        self.session.add(link)
        self.session.flush()

    def for_case(
        self, case_id: int, *, visible_to_org: str | None = None
    ) -> list[tuple[CaseLink, Case]]:
        """Links in both directions, each with the case at the other end (only ends the
        organisation may see, when one is given)."""
        stmt = (
            select(CaseLink, Case)
            .join(
                Case,
                or_(
                    (CaseLink.from_case_id == case_id) & (Case.id == CaseLink.to_case_id),
                    (CaseLink.to_case_id == case_id) & (Case.id == CaseLink.from_case_id),
                ),
            )
            .order_by(CaseLink.id)
        )
        if visible_to_org is not None:
            stmt = stmt.where(visible_to(visible_to_org))
        return [(link, other) for link, other in self.session.execute(stmt).all()]
