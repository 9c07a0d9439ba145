"""GET/POST /cases/{id}/shares and DELETE /cases/{id}/shares/{organisation}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.api_shared import PROBLEM
from app.auth.needs import OWNER_ONLY, needs, needs_role
from app.cases import sharing
from app.cases.schemas import CODE_PATTERN
from app.deps import CurrentActor, SessionDep, VisibleCaseId
from app.timeutil import utcnow

router = APIRouter(prefix="/cases/{case_id}/shares", tags=["sharing"])


@router.get(
    "",
    response_model=list[sharing.ShareRead],
    responses=PROBLEM,
    dependencies=[needs("cases.shares")],
)
def list_shares(
    case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep
) -> list[sharing.ShareRead]:
    """The organisations the case is shared with (its owner always sees it)."""
    return sharing.list_shares(db, actor=actor, case_id=case_id)


@router.post(
    "",
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
    hub, the CSU or an intermediate-care provider)."""
    return sharing.share_case(db, actor=actor, case_id=case_id, body=body, now=utcnow())


@router.delete(
    "/{organisation}",
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
) -> Response:
    """Stop sharing the case with an organisation."""
    sharing.withdraw_share(db, actor=actor, case_id=case_id, organisation=organisation)
    return Response(status_code=204)
