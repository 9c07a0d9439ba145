"""SQL for the discharge read side: the cases on the RFD list and the events behind them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cases.scope import visible_to
from app.discharge.tracker_repository import attribute
from app.models import Case, CaseEvent
from app.models.spell import DischargeDelayPeriod, DischargeSpell

WORKFLOW = "discharge"


class DischargeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def cases_in_states(
        self,
        states: Iterable[str],
        *,
        organisation: str,
        limit: int,
        site: str | None = None,
        attributes: Mapping[str, str | None] | None = None,
    ) -> list[Case]:
        """Discharge cases in the states, that the organisation owns or shares, at the site and
        with the attribute values given (filtered here, before the limit, so a ward's list is
        whole however many cases the organisation has)."""
        stmt = (
            select(Case)
            .where(
                Case.workflow_key == WORKFLOW,
                Case.state.in_(list(states)),
                visible_to(organisation),
            )
            .order_by(Case.id)
            .limit(limit)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        for name, value in (attributes or {}).items():
            if value is not None:
                stmt = stmt.where(attribute(name) == value)
        return list(self.session.execute(stmt).scalars())

    def events_by_case(
        self, case_ids: list[int], events: Iterable[str]
    ) -> dict[int, list[CaseEvent]]:
        """The named events of many cases in one query, grouped by case, oldest first."""
        grouped: dict[int, list[CaseEvent]] = defaultdict(list)
        if not case_ids:
            return grouped
        stmt = (
            select(CaseEvent)
            .where(CaseEvent.case_id.in_(case_ids), CaseEvent.event.in_(list(events)))
            .order_by(CaseEvent.case_id, CaseEvent.seq)
        )
        for event in self.session.execute(stmt).scalars():
            grouped[event.case_id].append(event)
        return grouped

    def projected(
        self, case_ids: list[int]
    ) -> tuple[dict[int, DischargeSpell], dict[int, list[DischargeDelayPeriod]]]:
        """The spell projection of the cases, with their open delay periods in order."""
        if not case_ids:
            return {}, {}
        spells = {
            s.case_id: s
            for s in self.session.execute(
                select(DischargeSpell).where(DischargeSpell.case_id.in_(case_ids))
            ).scalars()
        }
        periods: dict[int, list[DischargeDelayPeriod]] = defaultdict(list)
        stmt = (
            select(DischargeDelayPeriod)
            .where(
                DischargeDelayPeriod.case_id.in_(case_ids),
                DischargeDelayPeriod.ended_at.is_(None),
            )
            .order_by(DischargeDelayPeriod.case_id, DischargeDelayPeriod.ordinal)
        )
        for period in self.session.execute(stmt).scalars():
            periods[period.case_id].append(period)
        return spells, periods
