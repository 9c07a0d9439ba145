"""Read-side SQL for CHC: audit trails, panel agendas and report inputs (no writes)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Case, CaseEvent, ChcClaimLog, ChcRagOverride, ChcRagRating, Clock

CHC = "chc"


class ChcReadRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- audit trails -----------------------------------------------------------------------------
    def ratings(self, case_id: int) -> list[ChcRagRating]:
        stmt = select(ChcRagRating).where(ChcRagRating.case_id == case_id)
        return list(self.session.execute(stmt.order_by(ChcRagRating.id)).scalars())

    def overrides(self, case_id: int) -> list[ChcRagOverride]:
        stmt = select(ChcRagOverride).where(ChcRagOverride.case_id == case_id)
        return list(self.session.execute(stmt.order_by(ChcRagOverride.id)).scalars())

    def claim_log(self, case_id: int) -> list[ChcClaimLog]:
        stmt = select(ChcClaimLog).where(ChcClaimLog.case_id == case_id)
        return list(self.session.execute(stmt.order_by(ChcClaimLog.id)).scalars())

    # -- panels and reports -----------------------------------------------------------------------
    def cases_on_panel(self, organisation: str, day: str) -> list[Case]:
        stmt = (
            select(Case)
            .where(
                Case.workflow_key == CHC,
                Case.organisation == organisation,
                Case.attributes["panel_date"].as_string() == day,
            )
            .order_by(Case.id)
        )
        return list(self.session.execute(stmt).scalars())

    def panel_counts(self, organisation: str, days: Sequence[str]) -> dict[str, int]:
        panel_date = Case.attributes["panel_date"].as_string()
        stmt = (
            select(panel_date, func.count())
            .where(
                Case.workflow_key == CHC,
                Case.organisation == organisation,
                panel_date.in_(list(days)),
            )
            .group_by(panel_date)
        )
        return {str(d): int(n) for d, n in self.session.execute(stmt).tuples()}

    def chc_cases(self, organisation: str) -> list[Case]:
        stmt = select(Case).where(Case.workflow_key == CHC, Case.organisation == organisation)
        return list(self.session.execute(stmt.order_by(Case.id)).scalars())

    def clocks_named(self, organisation: str, name: str) -> list[Clock]:
        stmt = (
            select(Clock)
            .join(Case, Case.id == Clock.case_id)
            .where(Case.workflow_key == CHC, Case.organisation == organisation, Clock.name == name)
            .order_by(Clock.case_id, Clock.cycle)
        )
        return list(self.session.execute(stmt).scalars())

    def events_named(self, organisation: str, events: Sequence[str]) -> list[CaseEvent]:
        stmt = (
            select(CaseEvent)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                Case.workflow_key == CHC,
                Case.organisation == organisation,
                CaseEvent.event.in_(list(events)),
            )
            .order_by(CaseEvent.id)
        )
        return list(self.session.execute(stmt).scalars())
