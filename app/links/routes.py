"""POST /cases/{id}/links opens a linked case; GET /cases/{id}/links lists both directions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api_shared import PROBLEM, respond
from app.auth.needs import PATHWAY_ROLES, needs
from app.cases.schemas import CaseRead, LinkRead
from app.deps import (
    CurrentActor,
    IdempotencyKey,
    SessionDep,
    SettingsDep,
    VisibleCaseId,
    WriterDep,
)
from app.links import service
from app.links.schemas import LinkedCaseCreate
from app.timeutil import utcnow

router = APIRouter(prefix="/cases/{case_id}/links", tags=["links"])


@router.post(
    "", status_code=201, response_model=CaseRead, responses=PROBLEM, openapi_extra=PATHWAY_ROLES
)
def open_linked_case(
    case_id: VisibleCaseId,
    body: LinkedCaseCreate,
    actor: CurrentActor,
    db: SessionDep,
    writer: WriterDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Open a case on another workflow for the same patient, linked to this one (for example a
    CHC referral from a discharge case). Visible from both cases."""
    return respond(
        service.create_linked_case(
            db,
            writer=writer,
            actor=actor,
            case_id=case_id,
            body=body,
            idempotency_key=key,
            now=utcnow(),
            ttl=settings.idempotency_ttl,
        )
    )


@router.get(
    "", response_model=list[LinkRead], responses=PROBLEM, dependencies=[needs("cases.read")]
)
def list_links(case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep) -> list[LinkRead]:
    """Links in both directions."""
    return service.links_for(db, case_id, actor.organisation)
