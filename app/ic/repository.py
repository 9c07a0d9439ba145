"""SQL for intermediate care: services, occupancy, the waiting list and the report's rows.

Occupancy is counted from the `ic_placements` read model, which the transition entry point keeps
in the transaction of every IC state change (and `homefirst metrics check` compares with the
episodes).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cases.scope import visible_to
from app.errors import Conflict
from app.ic.episode import WORKFLOW
from app.models import Case, CaseEvent, Clock, IcPlacement, IcService, IcServiceChange


class IcRepository:
    """With `organisation`, services are only that organisation's own (another's is not found),
    and episode lists and report inputs cover only the episodes it owns or shares. A service's
    occupancy count stays whole: it may hold episodes owned by another organisation that shared
    them with the provider."""

    def __init__(self, session: Session, organisation: str | None = None) -> None:
        self.session = session
        self.organisation = organisation

    def _scoped(self, stmt: Select[Any]) -> Select[Any]:
        return stmt if self.organisation is None else stmt.where(visible_to(self.organisation))

    def _own(self, stmt: Select[Any]) -> Select[Any]:
        if self.organisation is None:
            return stmt
        return stmt.where(IcService.organisation == self.organisation)

    # -- services -------------------------------------------------------------------------
    def services(
        self,
        *,
        site: str | None = None,
        model: str | None = None,
        active: bool | None = None,
        for_update: bool = False,
    ) -> list[IcService]:
        stmt = select(IcService).order_by(IcService.site, IcService.model, IcService.code)
        if site is not None:
            stmt = stmt.where(IcService.site == site)
        if model is not None:
            stmt = stmt.where(IcService.model == model)
        if active is not None:
            stmt = stmt.where(IcService.active == active)
        if for_update:
            stmt = stmt.with_for_update()
        return list(self.session.execute(self._own(stmt)).scalars())

    def service(self, service_id: int, *, for_update: bool = False) -> IcService | None:
        stmt = self._own(select(IcService).where(IcService.id == service_id))
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def service_by_code(self, code: str) -> IcService | None:
        stmt = self._own(select(IcService).where(IcService.code == code))
        return self.session.execute(stmt).scalar_one_or_none()

    def add_service(self, service: IcService) -> None:
        self.session.add(service)
        try:
            self.session.flush()
        except IntegrityError as exc:  # another request took the code first
            raise Conflict(
                f"an IC service with code {service.code!r} already exists",
                service_code=service.code,
            ) from exc

    def add_change(self, change: IcServiceChange) -> None:
        self.session.add(change)
        self.session.flush()

    def changes(self, service_id: int) -> list[IcServiceChange]:
        stmt = (
            select(IcServiceChange)
            .where(IcServiceChange.service_id == service_id)
            .order_by(IcServiceChange.id)
        )
        return list(self.session.execute(stmt).scalars())

    # -- occupancy ------------------------------------------------------------------------
    def occupancy(
        self, service_ids: Iterable[int] | None = None, *, exclude_case: int | None = None
    ) -> dict[int, int]:
        """People holding a bed or slot, by service id (services with nobody are absent)."""
        sid = IcPlacement.service_id
        stmt = select(sid, func.count()).where(IcPlacement.occupying.is_(True)).group_by(sid)
        if service_ids is not None:
            stmt = stmt.where(sid.in_(list(service_ids)))
        if exclude_case is not None:
            stmt = stmt.where(IcPlacement.case_id != exclude_case)
        return {int(s): int(n) for s, n in self.session.execute(stmt).all() if s is not None}

    def occupants(self, service_id: int) -> list[Case]:
        stmt = (
            select(Case)
            .join(IcPlacement, IcPlacement.case_id == Case.id)
            .where(IcPlacement.occupying.is_(True), IcPlacement.service_id == service_id)
            .order_by(Case.id)
        )
        return list(self.session.execute(self._scoped(stmt)).scalars())

    # -- episodes -------------------------------------------------------------------------
    def episodes_in_state(self, state: str, *, site: str | None, limit: int) -> list[Case]:
        stmt = (
            select(Case)
            .where(Case.workflow_key == WORKFLOW, Case.state == state)
            .order_by(Case.id)
            .limit(limit)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        stmt = self._scoped(stmt)
        return list(self.session.execute(stmt).scalars())

    def versions(self, case_ids: list[int]) -> dict[int, int]:
        """Each case's version (what a change to it must name), for the cases the organisation
        may see."""
        if not case_ids:
            return {}
        stmt = self._scoped(select(Case.id, Case.version).where(Case.id.in_(case_ids)))
        return {int(case_id): int(version) for case_id, version in self.session.execute(stmt)}

    def latest_event_times(self, case_ids: list[int], event: str) -> dict[int, datetime]:
        if not case_ids:
            return {}
        stmt = (
            select(CaseEvent.case_id, CaseEvent.occurred_at)
            .where(CaseEvent.case_id.in_(case_ids), CaseEvent.event == event)
            .order_by(CaseEvent.case_id, CaseEvent.seq)
        )
        return {int(case_id): at for case_id, at in self.session.execute(stmt).all()}

    def first_event_times(self, case_ids: list[int], event: str) -> dict[int, datetime]:
        """When each case first fired `event` (cases that never did are absent)."""
        if not case_ids:
            return {}
        stmt = (
            select(CaseEvent.case_id, func.min(CaseEvent.occurred_at))
            .where(CaseEvent.case_id.in_(case_ids), CaseEvent.event == event)
            .group_by(CaseEvent.case_id)
        )
        return {int(case_id): at for case_id, at in self.session.execute(stmt).all()}

    def current_clocks(self, case_ids: list[int], name: str) -> dict[int, Clock]:
        """Each case's latest cycle of the named clock."""
        if not case_ids:
            return {}
        stmt = (
            select(Clock)
            .where(Clock.case_id.in_(case_ids), Clock.name == name)
            .order_by(Clock.case_id, Clock.cycle)
        )
        return {c.case_id: c for c in self.session.execute(stmt).scalars()}

    # -- reporting ------------------------------------------------------------------------
    def clocks_started(
        self, name: str, start: datetime, end: datetime, site: str | None
    ) -> list[tuple[Clock, Case]]:
        """Every cycle of an IC clock started in [start, end), with its episode."""
        stmt = (
            select(Clock, Case)
            .join(Case, Case.id == Clock.case_id)
            .where(
                Case.workflow_key == WORKFLOW,
                Clock.name == name,
                Clock.started_at >= start,
                Clock.started_at < end,
            )
            .order_by(Clock.id)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        stmt = self._scoped(stmt)
        return [(clock, case) for clock, case in self.session.execute(stmt).all()]

    def events_between(
        self, events: Iterable[str], start: datetime, end: datetime, site: str | None
    ) -> list[tuple[CaseEvent, Case]]:
        """IC events of the named kinds whose clinical time falls in [start, end)."""
        stmt = (
            select(CaseEvent, Case)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                Case.workflow_key == WORKFLOW,
                CaseEvent.event.in_(list(events)),
                CaseEvent.occurred_at >= start,
                CaseEvent.occurred_at < end,
            )
            .order_by(CaseEvent.id)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        stmt = self._scoped(stmt)
        return [(event, case) for event, case in self.session.execute(stmt).all()]

    def discharged_between(self, start: datetime, end: datetime, site: str | None) -> list[Case]:
        """Episodes whose recorded hospital discharge falls in [start, end) UTC. The stored
        value is an ISO 8601 UTC text, so the query compares text a day wider each side and
        the exact bounds are applied here."""
        discharged = Case.attributes["hospital_discharge_at"].as_string()
        stmt = (
            select(Case)
            .where(
                Case.workflow_key == WORKFLOW,
                discharged >= (start - timedelta(days=1)).isoformat(),
                discharged < (end + timedelta(days=1)).isoformat(),
            )
            .order_by(Case.id)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        cases = self.session.execute(self._scoped(stmt)).scalars()
        return [c for c in cases if start <= _discharged_at(c) < end]

    def running_clocks(self, name: str, site: str | None) -> list[Clock]:
        stmt = (
            select(Clock)
            .join(Case, Case.id == Clock.case_id)
            .where(Case.workflow_key == WORKFLOW, Clock.name == name, Clock.state == "running")
            .order_by(Clock.id)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        stmt = self._scoped(stmt)
        return list(self.session.execute(stmt).scalars())


def _discharged_at(case: Case) -> datetime:
    at = datetime.fromisoformat(str(case.attributes["hospital_discharge_at"]))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
