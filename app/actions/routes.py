"""/actions and /cases/{id}/actions: the lists people work from. Actions are added, changed,
completed and explained as events of their case (POST /cases/{id}/events: `add_action`,
`update_action`, `complete_action`, `explain_late_action`, `cancel_action`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from app.actions import service
from app.actions.schemas import ActionList, Assignee, KindFilter, StatusFilter
from app.api_shared import PROBLEM, log_read
from app.auth.access import Grant
from app.auth.needs import needs
from app.cases.schemas import CODE_PATTERN
from app.deps import CurrentActor, SessionDep, SettingsDep
from app.security.inputs import MAX_ID
from app.timeutil import utcnow

router = APIRouter(tags=["actions"])
Site = Annotated[str | None, Query(pattern=CODE_PATTERN, description="One site; all if omitted")]
Pathway = Annotated[
    str | None, Query(pattern=r"^P[0-3]b?$", description="One planned pathway (P0-P3, P3b)")
]


@router.get("/actions", response_model=ActionList, responses=PROBLEM)
def my_actions(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    settings: SettingsDep,
    grant: Annotated[Grant, needs("actions.list")],
    assignee: Annotated[
        Assignee,
        Query(
            description="me: assigned to you; my-team: your teams' and yours; "
            "my-organisation: every action your organisation owns"
        ),
    ] = "me",
    status: StatusFilter = "open",
    site: Site = None,
    pathway: Pathway = None,
    kind: KindFilter | None = None,
    overdue: Annotated[bool, Query(description="Only those past their due time")] = False,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> ActionList:
    """Actions and milestones owned by you, your teams or your organisation, on cases your
    organisation may see: past their due time first, then by due time."""
    listed = service.my_actions(
        db,
        actor=actor,
        grant=grant,
        assignee=assignee,
        status=status,
        site=site,
        pathway=pathway,
        kind=kind,
        overdue_only=overdue,
        now=utcnow(),
        limit=min(limit, settings.max_page_size),
    )
    log_read(request, db, actor, [item.case_id for item in listed.items])
    return listed


@router.get(
    "/cases/{case_id}/actions",
    response_model=ActionList,
    responses=PROBLEM,
)
def case_actions(
    request: Request,
    case_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("actions.list")],
) -> ActionList:
    """Every action and milestone of one case: open ones first, by due time."""
    listed = service.case_actions(db, actor=actor, grant=grant, case_id=case_id, now=utcnow())
    log_read(request, db, actor, [case_id])
    return listed
