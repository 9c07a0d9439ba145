"""SQL of the actions read model and of the lists people work from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from app.actions.fold import OPEN, ActionState
from app.cases.scope import shared_with, visible_to
from app.models import ActionAlert, Case, CaseAction, CaseEvent

STATE_COLUMNS = (
    "kind",
    "milestone",
    "title",
    "owner_organisation",
    "owner_role",
    "assignee",
    "due_at",
    "status",
    "opened_at",
    "opened_seq",
    "closed_at",
    "closed_seq",
    "closed_by",
    "late_reason",
)


def state_of(row: CaseAction) -> ActionState:
    cycle = int(row.ref.rsplit("-", 1)[1]) if row.kind == "milestone" and "-" in row.ref else 1
    return ActionState(
        ref=row.ref,
        cycle=cycle,
        late_reasons=tuple(row.late_reasons or ()),
        **{name: getattr(row, name) for name in STATE_COLUMNS},
    )


@dataclass(frozen=True)
class ListFilter:
    """Which actions a list shows (`GET /actions`)."""

    organisation: str  # the reader's: only cases it owns or that are shared with it
    shared_only: bool = False  # only cases shared with it (a provider's grant)
    owner_organisation: str | None = None
    owner_roles: frozenset[str] | None = None
    assignee: str | None = None
    statuses: tuple[str, ...] = (OPEN,)
    site: str | None = None
    pathway: str | None = None
    kind: str | None = None
    overdue_at: datetime | None = None  # only those past their due time at this instant


class ActionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- the read model ----------------------------------------------------------------------
    def for_case(self, case_id: int) -> list[CaseAction]:
        stmt = select(CaseAction).where(CaseAction.case_id == case_id).order_by(CaseAction.id)
        return list(self.session.execute(stmt).scalars())

    def write(self, case: Case, rows: dict[str, CaseAction], states: Iterable[ActionState]) -> None:
        """Insert or update the rows of `states` (`rows`: the case's rows by reference)."""
        for state in states:
            row = rows.get(state.ref)
            if row is None:
                row = CaseAction(
                    case_id=case.id,
                    ref=state.ref,
                    workflow_key=case.workflow_key,
                    case_organisation=case.organisation,
                    site=case.site,
                    pathway=_pathway(case),
                )
                self.session.add(row)
                rows[state.ref] = row
            for name in STATE_COLUMNS:
                value = getattr(state, name)
                if getattr(row, name) != value:
                    setattr(row, name, value)
            if tuple(row.late_reasons or ()) != state.late_reasons:
                row.late_reasons = list(state.late_reasons)

    def set_case_columns(self, case: Case) -> None:
        """The copied case columns of every row of the case (its site or pathway changed)."""
        self.session.execute(
            update(CaseAction)
            .where(CaseAction.case_id == case.id)
            .values(site=case.site, pathway=_pathway(case))
            .execution_options(synchronize_session=False)
        )

    def clear(self, workflows: Sequence[str]) -> None:
        self.session.execute(delete(CaseAction).where(CaseAction.workflow_key.in_(workflows)))

    def cases_with_events(
        self, workflows: Sequence[str], batch: int = 500
    ) -> Iterator[tuple[Case, list[CaseEvent]]]:
        """Each case of the workflows with its events in order, a batch of cases at a time."""
        ids = list(
            self.session.execute(
                select(Case.id).where(Case.workflow_key.in_(workflows)).order_by(Case.id)
            ).scalars()
        )
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            cases = {
                c.id: c
                for c in self.session.execute(select(Case).where(Case.id.in_(chunk))).scalars()
            }
            events: dict[int, list[CaseEvent]] = {cid: [] for cid in chunk}
            stmt = (
                select(CaseEvent)
                .where(CaseEvent.case_id.in_(chunk))
                .order_by(CaseEvent.case_id, CaseEvent.seq)
            )
            for event in self.session.execute(stmt).scalars():
                events[event.case_id].append(event)
            for cid in chunk:
                yield cases[cid], events[cid]

    def all_rows(self, workflows: Sequence[str]) -> dict[int, list[CaseAction]]:
        out: dict[int, list[CaseAction]] = {}
        stmt = select(CaseAction).where(CaseAction.workflow_key.in_(workflows))
        for row in self.session.execute(stmt).scalars():
            out.setdefault(row.case_id, []).append(row)
        return out

    # -- lists -------------------------------------------------------------------------------
    def listed(self, flt: ListFilter, limit: int) -> list[tuple[CaseAction, Case]]:
        """Actions on cases the reader's organisation owns or shares, by `flt`: those past due
        first, then by due time."""
        stmt = (
            select(CaseAction, Case)
            .join(Case, Case.id == CaseAction.case_id)
            .where(
                shared_with(flt.organisation) if flt.shared_only else visible_to(flt.organisation),
                CaseAction.status.in_(flt.statuses),
            )
        )
        if flt.owner_organisation is not None:
            stmt = stmt.where(CaseAction.owner_organisation == flt.owner_organisation)
        if flt.owner_roles is not None:
            role_match: ColumnElement[bool] = CaseAction.owner_role.in_(sorted(flt.owner_roles))
            if flt.assignee is not None:  # my team's, and mine whatever team they are on
                role_match = or_(role_match, CaseAction.assignee == flt.assignee)
            stmt = stmt.where(role_match)
        elif flt.assignee is not None:
            stmt = stmt.where(CaseAction.assignee == flt.assignee)
        if flt.site is not None:
            stmt = stmt.where(CaseAction.site == flt.site)
        if flt.pathway is not None:
            stmt = stmt.where(CaseAction.pathway == flt.pathway)
        if flt.kind is not None:
            stmt = stmt.where(CaseAction.kind == flt.kind)
        if flt.overdue_at is not None:
            stmt = stmt.where(CaseAction.status == OPEN, CaseAction.due_at <= flt.overdue_at)
        stmt = stmt.order_by(CaseAction.due_at, CaseAction.id).limit(limit)
        return [(a, c) for a, c in self.session.execute(stmt).all()]

    def overdue_on(self, case_ids: Sequence[int], now: datetime) -> dict[int, list[CaseAction]]:
        """Open actions past due on the given cases, by case."""
        if not case_ids:
            return {}
        stmt = (
            select(CaseAction)
            .where(
                CaseAction.case_id.in_(list(case_ids)),
                CaseAction.status == OPEN,
                CaseAction.due_at <= now,
            )
            .order_by(CaseAction.due_at)
        )
        out: dict[int, list[CaseAction]] = {}
        for row in self.session.execute(stmt).scalars():
            out.setdefault(row.case_id, []).append(row)
        return out

    def count_overdue(self, organisation: str, now: datetime) -> int:
        """Open actions the organisation owns past their due time, on cases it may see."""
        stmt = (
            select(func.count())
            .select_from(CaseAction)
            .join(Case, Case.id == CaseAction.case_id)
            .where(
                CaseAction.owner_organisation == organisation,
                CaseAction.status == OPEN,
                CaseAction.due_at <= now,
                visible_to(organisation),
            )
        )
        return int(self.session.execute(stmt).scalar_one())

    # -- the overdue sweep -------------------------------------------------------------------
    def due_unalerted(self, now: datetime, limit: int) -> list[CaseAction]:
        """Open actions past their due time whose owner has not been told of that due time."""
        alerted = exists().where(
            and_(
                ActionAlert.case_id == CaseAction.case_id,
                ActionAlert.ref == CaseAction.ref,
                ActionAlert.due_at == CaseAction.due_at,
            )
        )
        stmt = (
            select(CaseAction)
            .where(CaseAction.status == OPEN, CaseAction.due_at <= now, ~alerted)
            .order_by(CaseAction.due_at, CaseAction.id)
            .limit(limit)
        )
        return list(self.session.execute(stmt).scalars())

    def add_alert(self, alert: ActionAlert) -> None:
        self.session.add(alert)
        self.session.flush([alert])


def _pathway(case: Case) -> str | None:
    value = (case.attributes or {}).get("pathway")
    return str(value) if value is not None else None
