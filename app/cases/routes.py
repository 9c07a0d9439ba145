"""HTTP routes for cases. Thin: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from app.audit.routes import log_read
from app.cases import service
from app.cases.repository import CaseFilter
from app.cases.schemas import (
    CaseCreate,
    CaseList,
    CaseRead,
    EventCreate,
    EventRead,
    TransitionResult,
)
from app.deps import (
    CurrentActor,
    EngineDep,
    IdempotencyKey,
    IfMatch,
    SessionDep,
    SettingsDep,
    VisibleCaseId,
)
from app.idempotency.service import StoredResponse
from app.timeutil import utcnow

router = APIRouter(prefix="/cases", tags=["cases"])

PROBLEM: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        401: "No valid bearer token",
        403: "Your role may not do this",
        404: "No such case",
        409: "Not allowed in the case's current state, or refused by a rule (every reason given)",
        412: "The ETag in If-Match is stale: reload the case",
        422: "Invalid data",
        428: "If-Match is missing",
    }.items()
}


def respond(stored: StoredResponse) -> JSONResponse:
    headers = dict(stored.headers)
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)


@router.post("", status_code=201, response_model=CaseRead, responses=PROBLEM)
def create_case(
    body: CaseCreate,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Open a case on the latest version of a pathway. Returns `Location` and `ETag`."""
    return respond(
        service.create_case(
            db,
            engine=engine,
            actor=actor,
            body=body,
            idempotency_key=key,
            now=utcnow(),
            ttl=settings.idempotency_ttl,
        )
    )


@router.get("", response_model=CaseList, responses=PROBLEM)
def list_cases(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    settings: SettingsDep,
    workflow: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=64)] = None,
    organisation: Annotated[str | None, Query(max_length=64)] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    patient_ref: Annotated[str | None, Query(max_length=32)] = None,
    is_open: bool | None = None,
    opened_from: AwareDatetime | None = None,
    opened_to: AwareDatetime | None = None,
    updated_from: AwareDatetime | None = None,
    updated_to: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int | None, Query(ge=1, description="Capped at the server's maximum")] = None,
) -> CaseList:
    """Cases, newest first, with a keyset cursor."""
    flt = CaseFilter(
        workflow,
        state,
        organisation,
        site,
        patient_ref,
        is_open,
        opened_from,
        opened_to,
        updated_from,
        updated_to,
        visible_to=actor.organisation,
    )
    capped = min(limit or settings.default_page_size, settings.max_page_size)
    page = service.list_cases(db, flt=flt, cursor=cursor, limit=capped)
    log_read(request, db, actor, [c.id for c in page.items])
    return page


@router.get("/{case_id}", response_model=CaseRead, responses=PROBLEM)
def get_case(
    request: Request,
    case_id: VisibleCaseId,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    response: Response,
) -> CaseRead:
    """The case, its clocks and `allowed_events` for you, with reasons for each refusal."""
    read, etag = service.get_case(db, engine=engine, actor=actor, case_id=case_id, now=utcnow())
    log_read(request, db, actor, [case_id])
    response.headers["ETag"] = etag
    return read


@router.post("/{case_id}/events", response_model=TransitionResult, responses=PROBLEM)
def fire_event(
    case_id: VisibleCaseId,
    body: EventCreate,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Fire an event. Needs `If-Match: <ETag>`; returns the new ETag."""
    return respond(
        service.fire_event(
            db,
            engine=engine,
            actor=actor,
            case_id=case_id,
            body=body,
            if_match=if_match,
            idempotency_key=key,
            now=utcnow(),
            ttl=settings.idempotency_ttl,
        )
    )


@router.get("/{case_id}/events", response_model=list[EventRead], responses=PROBLEM)
def case_history(
    request: Request, case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep
) -> list[EventRead]:
    """The case's full history, oldest first."""
    events = service.history(db, case_id=case_id)
    log_read(request, db, actor, [case_id])
    return events
