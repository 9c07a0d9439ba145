"""HTTP side of the ADT feed: `POST /adt` for interface engines that speak HTTP rather than MLLP
(the same processing as the listener), and the dead letters a person resolves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.adt.repository import AdtRepository
from app.adt.service import ROLE, AdtService
from app.api_shared import log_read
from app.auth.needs import needs, needs_role
from app.deps import CurrentActor, IdPath, SessionDep
from app.errors import DomainError
from app.models.adt import AdtMessage
from app.security.inputs import RequestModel
from app.timeutil import utcnow

router = APIRouter(prefix="/adt", tags=["adt"])

MEDIA_TYPE = "x-application/hl7-v2+er7"
ACCEPTED_TYPES = {MEDIA_TYPE, "application/hl7-v2", "application/hl7-v2+er7"}
MAX_BYTES = 1_000_000
RESOLVERS = ("discharge_team", "manager")


class UnsupportedMediaType(DomainError):
    status_code, code, title = 415, "unsupported_media_type", "Send an HL7 v2 message"


class TooLarge(DomainError):
    status_code, code, title = 413, "too_large", "Message too large"


def _service(request: Request) -> AdtService:
    service: AdtService = request.app.state.adt
    return service


@router.post(
    "",
    response_class=Response,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    },
    responses={
        200: {"description": "AA: applied and durable", "content": {MEDIA_TYPE: {}}},
        422: {
            "description": "AE or AR, with an ERR segment saying why",
            "content": {MEDIA_TYPE: {}},
        },
        413: {"description": "Over 1 MB"},
        415: {"description": "Not x-application/hl7-v2+er7"},
    },
    dependencies=[needs_role((ROLE,), "sending ADT messages")],
)
async def receive_message(request: Request, actor: CurrentActor, db: SessionDep) -> Response:
    """One HL7 v2 ADT message in the body; the answer is its ACK. Only an interface's own user
    (role `interface`) may send, and only as its own sender (MSH-3, MSH-4)."""
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(f"content type must be {MEDIA_TYPE}")
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise TooLarge(f"an ADT message over {MAX_BYTES} bytes is refused")
    text = body.decode("utf-8", errors="replace")
    receipt = await run_in_threadpool(_service(request).receive, db, text, now=utcnow(), via=actor)
    return Response(
        receipt.ack.encode("utf-8"),
        status_code=200 if receipt.code == "AA" else 422,
        media_type=MEDIA_TYPE,
        headers={"X-ADT-Outcome": receipt.outcome, "X-ADT-Message-Id": str(receipt.message_id)},
    )


class DeadLetter(BaseModel):
    id: int
    received_at: datetime
    sender: str
    control_id: str
    message_type: str
    event_at: datetime | None
    ack_code: str
    error_code: str | None
    error_text: str | None
    attempts: int
    case_id: int | None
    raw: str = Field(description="The message as received (segments separated by CR)")


class DeadLetterList(BaseModel):
    items: list[DeadLetter]
    total: int
    next_before: int | None


class Dismissal(RequestModel):
    reason: str = Field(min_length=3, max_length=500)


class Resolved(BaseModel):
    id: int
    outcome: str
    ack_code: str
    error_code: str | None
    error_text: str | None
    case_id: int | None
    events: str | None
    attempts: int
    resolved_by: str | None
    resolution: str | None


@router.get("/dead-letters", response_model=DeadLetterList, dependencies=[needs("adt.messages")])
def dead_letters(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeadLetterList:
    """Messages refused (AE/AR) and not yet resolved, newest first, with their raw text."""
    repo = AdtRepository(db)
    rows = repo.dead_letters(organisation=actor.organisation, before_id=before, limit=limit)
    log_read(request, db, actor, [r.case_id for r in rows if r.case_id is not None])
    db.commit()
    return DeadLetterList(
        items=[_dead_letter(r) for r in rows],
        total=repo.count_dead_letters(actor.organisation),
        next_before=rows[-1].id if len(rows) == limit else None,
    )


@router.post(
    "/dead-letters/{message_id}/retry",
    response_model=Resolved,
    dependencies=[needs_role(RESOLVERS, "resolving ADT dead letters")],
)
def retry(request: Request, actor: CurrentActor, db: SessionDep, message_id: IdPath) -> Resolved:
    """Apply a refused message again, as its interface, with today's configuration and the case
    as it is now. Still refused: it stays a dead letter with the new reason (200, outcome
    rejected)."""
    row = _service(request).retry(
        db, message_id, organisation=actor.organisation, by=actor, now=utcnow()
    )
    return _resolved(row)


@router.post(
    "/dead-letters/{message_id}/dismiss",
    response_model=Resolved,
    dependencies=[needs_role(RESOLVERS, "resolving ADT dead letters")],
)
def dismiss(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    message_id: IdPath,
    body: Annotated[Dismissal, Body()],
) -> Resolved:
    """Decide not to apply a refused message, saying why."""
    row = _service(request).dismiss(
        db, message_id, organisation=actor.organisation, by=actor, reason=body.reason, now=utcnow()
    )
    return _resolved(row)


def _dead_letter(row: AdtMessage) -> DeadLetter:
    return DeadLetter.model_validate(row, from_attributes=True)


def _resolved(row: AdtMessage) -> Resolved:
    return Resolved.model_validate(row, from_attributes=True)
