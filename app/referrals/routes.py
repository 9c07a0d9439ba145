"""HTTP routes of referrals between partners. Thin: parse, call the service, shape the answer.

- POST /cases/{case_id}/referrals: send (the case's owning organisation);
- GET  /cases/{case_id}/referrals: the referrals the case sent;
- POST /cases/{case_id}/referrals/{referral_id}/withdraw: withdraw (the referring organisation);
- POST /referrals/{referral_id}/events: move the task (the receiving organisation only);
- GET  /referrals?direction=received|sent: the organisation's referral queue.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from app.api_shared import PROBLEM, log_read
from app.auth.access import Grant
from app.auth.needs import OWNER_ONLY, needs, needs_role
from app.deps import CurrentActor, IdPath, SessionDep, VisibleCaseId, WriterDep
from app.referrals import service
from app.referrals.partners import Kind, PartnerDirectory, partners_for
from app.timeutil import utcnow

router = APIRouter(tags=["referrals"])


def _partners(request: Request) -> PartnerDirectory:
    return partners_for(request.app.state.settings.pathways_dir / "config")


@router.post(
    "/cases/{case_id}/referrals",
    status_code=201,
    response_model=service.ReferralRead,
    responses=PROBLEM,
    dependencies=[needs_role(service.SEND_ROLES, "sending a referral")],
    openapi_extra=OWNER_ONLY,
)
def send_referral(
    request: Request,
    case_id: VisibleCaseId,
    body: service.ReferralCreate,
    actor: CurrentActor,
    db: SessionDep,
    writer: WriterDep,
) -> service.ReferralRead:
    """Send a referral from the case to a partner of the directory (the hub, the council, a
    provider, the CHC team). Opens a task in that organisation's queue, shares this case with it
    (need to know) and records `referral_update` (status `sent`) on this case. The organisation
    that owns the case may, and a partner the directory lets refer on for that kind (`refers_on`:
    a hub sourcing a package) once it has taken on a referral of the case; any other
    organisation it is shared with gets 403 `not_case_owner`."""
    return service.send(
        db,
        writer=writer,
        partners=_partners(request),
        actor=actor,
        case_id=case_id,
        body=body,
        now=utcnow(),
    )


@router.get(
    "/cases/{case_id}/referrals",
    response_model=list[service.ReferralRead],
    responses=PROBLEM,
    dependencies=[needs("referrals.read")],
)
def case_referrals(
    request: Request, case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep
) -> list[service.ReferralRead]:
    """The referrals the case sent, oldest first, with their status. The owning organisation
    sees all of them; an organisation the case is shared with only those sent to it."""
    items = service.for_case(
        db, partners=_partners(request), actor=actor, case_id=case_id, now=utcnow()
    )
    log_read(request, db, actor, [case_id])
    return items


@router.post(
    "/cases/{case_id}/referrals/{referral_id}/withdraw",
    response_model=service.ReferralRead,
    responses=PROBLEM,
    dependencies=[needs_role(service.SEND_ROLES, "withdrawing a referral")],
    openapi_extra=OWNER_ONLY,
)
def withdraw_referral(
    request: Request,
    case_id: VisibleCaseId,
    referral_id: IdPath,
    body: service.ReferralWithdraw,
    actor: CurrentActor,
    db: SessionDep,
    writer: WriterDep,
) -> service.ReferralRead:
    """Withdraw a referral the case sent (the organisation that owns the case only)."""
    return service.withdraw(
        db,
        writer=writer,
        partners=_partners(request),
        actor=actor,
        case_id=case_id,
        task_id=referral_id,
        body=body,
        now=utcnow(),
    )


@router.post(
    "/referrals/{referral_id}/events",
    response_model=service.ReferralRead,
    responses=PROBLEM,
    dependencies=[needs_role(service.WORK_ROLES, "working a referral")],
)
def move_referral(
    request: Request,
    referral_id: IdPath,
    body: service.ReferralEvent,
    actor: CurrentActor,
    db: SessionDep,
    writer: WriterDep,
) -> service.ReferralRead:
    """Move a referral your organisation received: `triage`, `accept`, `reject` (with
    `rejection_reason`), `allocate` (`allocated_to`), `propose_start` (`proposed_start`),
    `confirm_start` (`start_date`), `complete`. The referring case records the new status in the
    same transaction. Only the receiving organisation may (404 for anyone else)."""
    return service.move(
        db,
        writer=writer,
        partners=_partners(request),
        actor=actor,
        task_id=referral_id,
        body=body,
        now=utcnow(),
    )


class ReferralQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    direction: Literal["received", "sent"] = "received"
    status: service.Status | None = None
    kind: Kind | None = None
    include_closed: bool = False


@router.get("/referrals", response_model=service.ReferralList, responses=PROBLEM)
def list_referrals(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    query: Annotated[ReferralQuery, Query()],
    grant: Annotated[Grant, needs("referrals.read")],
) -> service.ReferralList:
    """Your organisation's referrals: `received` (sent to it, to work) or `sent` (from cases it
    owns), overdue first, then oldest first; open ones unless `include_closed`. Each carries
    enough of the patient's case to work it while your organisation may see that case."""
    page = service.listing(
        db,
        partners=_partners(request),
        actor=actor,
        grant=grant,
        direction=query.direction,
        status=query.status,
        kind=query.kind,
        include_closed=query.include_closed,
        now=utcnow(),
    )
    log_read(
        request,
        db,
        actor,
        [i.patient.case_id for i in page.items if i.patient and i.patient.case_id],
    )
    return page
