"""Lists of actions and milestones people work from: theirs, their team's, their
organisation's, and a case's own (README "Actions and milestones")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.actions.fold import OPEN
from app.actions.repository import ActionRepository, ListFilter, state_of
from app.actions.schemas import ActionList, ActionRead, Assignee, KindFilter, StatusFilter
from app.auth.access import Grant
from app.auth.actor import Actor
from app.cases.scope import require_visible
from app.models import Case, CaseAction
from app.notifications.kinds import case_link

STATUSES: dict[str, tuple[str, ...]] = {
    "open": ("open",),
    "done": ("done",),
    "cancelled": ("cancelled",),
    "withdrawn": ("withdrawn",),
    "all": ("open", "done", "cancelled", "withdrawn"),
}


def my_actions(
    session: Session,
    *,
    actor: Actor,
    grant: Grant,
    assignee: Assignee,
    status: StatusFilter,
    site: str | None,
    pathway: str | None,
    kind: KindFilter | None,
    overdue_only: bool,
    now: datetime,
    limit: int,
) -> ActionList:
    """The actions owned by the caller (`me`), their teams (`my-team`: the roles they hold in
    their organisation, and theirs on any team) or their organisation, on cases it may see."""
    flt = ListFilter(
        organisation=actor.organisation,
        shared_only=grant.shared_only,
        owner_organisation=actor.organisation,
        owner_roles=frozenset(actor.roles) if assignee == "my-team" else None,
        assignee=actor.username if assignee in ("me", "my-team") else None,
        statuses=STATUSES[status],
        site=site,
        pathway=pathway,
        kind=kind,
        overdue_at=now if overdue_only else None,
    )
    rows = ActionRepository(session).listed(flt, limit + 1)
    items = [_read(action, case, now) for action, case in rows[:limit]]
    listed = ActionList(
        items=items,
        as_at=now,
        complete=len(rows) <= limit,
        overdue=sum(item.overdue for item in items),
    )
    return grant.reduce(listed)


def case_actions(
    session: Session, *, actor: Actor, grant: Grant, case_id: int, now: datetime
) -> ActionList:
    """Every action and milestone of one case the caller may see, open ones first."""
    require_visible(session, case_id, actor.organisation)
    case = session.get(Case, case_id)
    assert case is not None  # noqa: S101 - require_visible found it
    rows = ActionRepository(session).for_case(case_id)
    items = sorted(
        (_read(row, case, now) for row in rows),
        key=lambda a: (a.status != OPEN, a.due_at, a.ref),
    )
    listed = ActionList(
        items=items, as_at=now, complete=True, overdue=sum(a.overdue for a in items)
    )
    return grant.reduce(listed)


def _read(row: CaseAction, case: Case, now: datetime) -> ActionRead:
    state = state_of(row)
    late = state.late_at(now)
    end = state.closed_at if state.status != OPEN and state.closed_at else now
    return ActionRead(
        case_id=row.case_id,
        case_link=case_link(row.case_id),
        workflow=row.workflow_key,
        site=row.site,
        pathway=row.pathway,
        patient_ref=case.patient_ref,
        ref=row.ref,
        kind=row.kind,
        milestone=row.milestone,
        title=row.title,
        owner_organisation=row.owner_organisation,
        owner_role=row.owner_role,
        assignee=row.assignee,
        due_at=row.due_at,
        status=row.status,
        overdue=state.status == OPEN and late,
        late=late,
        minutes_late=int((end - state.due_at).total_seconds() // 60) if late else None,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        late_reason=row.late_reason,
        late_reasons=list(state.late_reasons),
    )
