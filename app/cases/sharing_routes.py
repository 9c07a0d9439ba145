"""GET/POST /cases/{id}/shares, DELETE /cases/{id}/shares/{organisation} and the sharing log,
GET /cases/{id}/sharing-history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response

from app.api_shared import PROBLEM
from app.auth.needs import OWNER_ONLY, needs, needs_role
from app.cases import sharing
from app.cases.schemas import CODE_PATTERN
from app.deps import CurrentActor, SessionDep, VisibleCaseId
from app.timeutil import utcnow

# The log lives beside the shares, not under them: `/shares/{organisation}` would shadow it.
router = APIRouter(prefix="/cases/{case_id}", tags=["sharing"])


@router.get(
    "/shares",
    response_model=list[sharing.ShareRead],
    responses=PROBLEM,
    dependencies=[needs("cases.shares")],
)
def list_shares(
    case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep
) -> list[sharing.ShareRead]:
    """The organisations the case is shared with (its owner always sees it)."""
    return sharing.list_shares(db, actor=actor, case_id=case_id)


@router.get(
    "/sharing-history",
    response_model=list[sharing.ShareChangeRead],
    responses=PROBLEM,
    dependencies=[needs("cases.shares")],
)
def share_changes(
    case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep
) -> list[sharing.ShareChangeRead]:
    """The case's sharing audit, oldest first: every share and withdrawal, who made it (user
    and organisation), when, with which organisation, and why."""
    return sharing.share_changes(db, actor=actor, case_id=case_id)


@router.post(
    "/shares",
    status_code=201,
    response_model=sharing.ShareRead,
    responses=PROBLEM,
    dependencies=[needs_role(sharing.SHARING_ROLES, "sharing a case")],
    openapi_extra=OWNER_ONLY,
)
def share(
    case_id: VisibleCaseId, body: sharing.ShareCreate, actor: CurrentActor, db: SessionDep
) -> sharing.ShareRead:
    """Share the case with another organisation that works it (for example the care transfer
    hub, the CSU or an intermediate-care provider). Only the owning organisation may; another
    organisation the case is shared with gets 403 `not_case_owner`."""
    return sharing.share_case(db, actor=actor, case_id=case_id, body=body, now=utcnow())


@router.delete(
    "/shares/{organisation}",
    status_code=204,
    responses=PROBLEM,
    dependencies=[needs_role(sharing.SHARING_ROLES, "sharing a case")],
    openapi_extra=OWNER_ONLY,
)
def withdraw(
    case_id: VisibleCaseId,
    organisation: Annotated[str, Path(pattern=CODE_PATTERN)],
    actor: CurrentActor,
    db: SessionDep,
    body: Annotated[sharing.ShareWithdraw | None, Body()] = None,
) -> Response:
    """Stop sharing the case with an organisation (only the owning organisation may), with an
    optional `{"reason": ...}` body kept in the sharing audit."""
    sharing.withdraw_share(
        db,
        actor=actor,
        case_id=case_id,
        organisation=organisation,
        reason=body.reason if body is not None else None,
        now=utcnow(),
    )
    return Response(status_code=204)
