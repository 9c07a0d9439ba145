"""`/referrals`: an organisation's referral queue, and the "Referrals" panel of a case page.

The queue lists the referrals sent to the person's organisation (or, `?direction=sent`, those
its cases sent), overdue first, each with a form for every step its status allows (triage,
accept, reject with a reason, allocate, propose and confirm a start date, complete). The case
page's panel lists the referrals the case sent and offers a form to send one to a partner of
the directory, and to withdraw one. Every form goes through the same use cases as the API
(`app.referrals.service`): the same roles, organisation checks and pathway rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.api_shared import log_read
from app.auth.actor import Actor
from app.cases.schemas import NAME_PATTERN, CaseRead
from app.deps import IdPath, SessionDep
from app.engine.engine import Engine
from app.engine.spec import PathwaySpec
from app.errors import DomainError, GuardRejected, NotFound
from app.referrals import service
from app.referrals.partners import KINDS, PartnerDirectory, partners_for
from app.referrals.repository import REFERRAL_WORKFLOW
from app.timeutil import utcnow
from app.web.access import PageForbidden, PageUser, page_needs
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageUser, page_needs("referrals.read")]
Text = Annotated[str, Form(max_length=10_000)]
Direction = Literal["received", "sent"]
# What each step's form asks for (pathways/referral.yaml), in the order shown.
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "triage": ("triage_note",),
    "accept": (),
    "reject": ("rejection_reason", "rejection_note"),
    "allocate": ("allocated_to",),
    "propose_start": ("proposed_start",),
    "confirm_start": ("start_date",),
    "complete": (),
}
KIND_WORDS = {
    "hub": "Care transfer hub",
    "council": "Council social care",
    "provider": "Care provider",
    "chc": "Continuing healthcare",
    "other": "Other partner",
}
DONE_WORDS = {
    "triage": "Triaged",
    "accept": "Accepted",
    "reject": "Rejected",
    "allocate": "Allocated",
    "propose_start": "Start date proposed",
    "confirm_start": "Start date confirmed",
    "complete": "Completed",
}


@dataclass
class Failure:
    """A form that was not saved: the referral, the messages and what was typed."""

    referral_id: int | None
    heading: str
    messages: list[str]
    status_code: int
    values: dict[str, str] = field(default_factory=dict)


def _partners(request: Request) -> PartnerDirectory:
    return partners_for(request.app.state.settings.pathways_dir / "config")


def _spec(request: Request) -> PathwaySpec:
    engine: Engine = request.app.state.engine
    loaded = engine.catalogue.latest(REFERRAL_WORKFLOW)
    assert loaded is not None  # noqa: S101 - the workflow is registered
    return loaded.spec


def steps_from(spec: PathwaySpec, state: str, roles: frozenset[str]) -> list[str]:
    """The steps the receiving organisation may take from `state`, in the pathway's order."""
    out: list[str] = []
    for t in spec.transitions:
        if (
            t.trigger in STEP_FIELDS
            and state in t.source
            and roles & set(t.roles)
            and t.trigger not in out
        ):
            out.append(t.trigger)
    return out


def _words(value: str | None) -> str:
    return (value or "").replace("_", " ").capitalize()


# -- the queue -------------------------------------------------------------------------------
@router.get("/referrals")
def queue_page(
    request: Request,
    user: Reader,
    db: SessionDep,
    direction: Annotated[Direction, Query()] = "received",
    done: Annotated[str | None, Query(max_length=64, pattern=NAME_PATTERN)] = None,
) -> Response:
    """The organisation's referrals with a form for each step."""
    return _queue(request, db, user, direction, done=done)


@router.post("/referrals/{referral_id}/events/{event}")
def record_step(
    request: Request,
    user: Reader,
    db: SessionDep,
    referral_id: IdPath,
    event: str,
    triage_note: Text = "",
    rejection_reason: Annotated[str, Form(max_length=64)] = "",
    rejection_note: Text = "",
    allocated_to: Text = "",
    proposed_start: Annotated[str, Form(max_length=10)] = "",
    start_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Take one step of a received referral; 303 back to the queue, or the queue with what
    refused it."""
    if user.actor.role_for(service.WORK_ROLES) is None:
        raise PageForbidden("working a referral")
    if event not in STEP_FIELDS:
        raise NotFound(f"no step {event!r}")
    typed = {
        "triage_note": triage_note,
        "rejection_reason": rejection_reason,
        "rejection_note": rejection_note,
        "allocated_to": allocated_to,
        "proposed_start": proposed_start,
        "start_date": start_date,
    }
    data = {name: typed[name].strip() for name in STEP_FIELDS[event] if typed[name].strip()}
    try:
        service.move(
            db,
            writer=request.app.state.writer,
            partners=_partners(request),
            actor=user.actor,
            task_id=referral_id,
            body=service.ReferralEvent(event=event, data=data),
            now=utcnow(),
        )
    except NotFound:
        raise
    except DomainError as exc:
        failure = Failure(
            referral_id,
            f"Referral {referral_id}: {_words(event).lower()} was not saved",
            _messages(exc),
            exc.status_code,
            {f"{name}-{referral_id}": typed[name] for name in STEP_FIELDS[event]},
        )
        return _queue(request, db, user, "received", failure=failure)
    query = urlencode({"done": event})
    return RedirectResponse(f"/referrals?{query}#referral-{referral_id}", status_code=303)


def _messages(exc: DomainError) -> list[str]:
    reasons = exc.extra.get("reasons") if isinstance(exc, GuardRejected) else None
    found = [str(r) for r in reasons or []]
    for error in exc.extra.get("errors") or []:
        found.append(f"{_words(str(error.get('field')))}: {error.get('problem')}")
    return found or [exc.detail]


def _queue(
    request: Request,
    db: Session,
    user: PageUser,
    direction: Direction,
    *,
    done: str | None = None,
    failure: Failure | None = None,
) -> Response:
    actor, grant = user.actor, user.grant
    assert grant is not None  # noqa: S101 - page_needs always grants or refuses
    page = service.listing(
        db,
        partners=_partners(request),
        actor=actor,
        grant=grant,
        direction=direction,
        status=None,
        kind=None,
        include_closed=False,
        now=utcnow(),
    )
    log_read(
        request,
        db,
        actor,
        [i.patient.case_id for i in page.items if i.patient and i.patient.case_id],
    )
    spec = _spec(request)
    may_work = direction == "received" and actor.role_for(service.WORK_ROLES) is not None
    steps = {
        i.id: (steps_from(spec, i.status, actor.roles) if may_work else []) for i in page.items
    }
    reasons = spec.fields["rejection_reason"]
    title = "Referrals received" if direction == "received" else "Referrals sent"
    return render(
        request,
        "referrals.html",
        actor=actor,
        page_title=("Error: " if failure else "") + title,
        heading=title,
        direction=direction,
        items=page.items,
        steps=steps,
        step_fields=STEP_FIELDS,
        step_words=_words,
        kind_words=KIND_WORDS,
        rejection_reasons=[(c, reasons.labels.get(c, _words(c))) for c in reasons.choices],
        done_text=DONE_WORDS.get(done or ""),
        failure=failure,
        status_code=failure.status_code if failure else 200,
    )


# -- the case page's panel -------------------------------------------------------------------
@dataclass(frozen=True)
class Panel:
    case_id: int
    referrals: list[service.ReferralRead]
    may_send: bool
    partners: list[tuple[str, list[tuple[str, str]]]]  # (kind words, [(value, name)])
    kind_words: dict[str, str]


def referral_panel(request: Request, db: Session, actor: Actor, case: CaseRead) -> Panel | None:
    """The "Referrals" panel of a case page: None when the case's pathway sends no referrals
    or the person may not read referrals."""
    engine: Engine = request.app.state.engine
    loaded = engine.catalogue.get(case.workflow, case.workflow_version)
    if loaded is None or service.UPDATE not in loaded.spec.triggers():
        return None
    if request.app.state.access.grant("referrals.read", actor.roles) is None:
        return None
    directory = _partners(request)
    referrals = service.for_case(db, partners=directory, actor=actor, case_id=case.id, now=utcnow())
    may_send = (
        case.is_open
        and case.organisation == actor.organisation
        and actor.role_for(service.SEND_ROLES) is not None
    )
    options = [
        (
            KIND_WORDS[kind],
            [
                (f"{kind}|{p.organisation}", p.name)
                for p in directory.partners
                if kind in p.kinds and p.organisation != case.organisation
            ],
        )
        for kind in KINDS
    ]
    return Panel(case.id, referrals, may_send, [o for o in options if o[1]], KIND_WORDS)


@router.post("/tracker/cases/{case_id}/referrals")
def send_from_page(
    request: Request,
    user: Reader,
    db: SessionDep,
    case_id: IdPath,
    partner: Annotated[str, Form(max_length=100)] = "",
    note: Text = "",
    requested_start: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Send a referral from the case page; 303 back to the case's Referrals panel."""
    if user.actor.role_for(service.SEND_ROLES) is None:
        raise PageForbidden("sending a referral")
    kind, _, organisation = partner.partition("|")
    if kind not in KINDS or not organisation:
        return _refused(request, user, case_id, "The referral was not sent", ["Choose a partner."])
    try:
        body = service.ReferralCreate.model_validate(
            {
                "organisation": organisation,
                "kind": kind,
                "note": note.strip() or None,
                "requested_start": requested_start.strip() or None,
            }
        )
    except ValueError:
        return _refused(
            request,
            user,
            case_id,
            "The referral was not sent",
            ["Check the partner and the requested start date (YYYY-MM-DD)."],
        )
    try:
        service.send(
            db,
            writer=request.app.state.writer,
            partners=_partners(request),
            actor=user.actor,
            case_id=case_id,
            body=body,
            now=utcnow(),
        )
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(
            request, user, case_id, "The referral was not sent", _messages(exc), exc.status_code
        )
    return RedirectResponse(f"/tracker/cases/{case_id}#referrals", status_code=303)


@router.post("/tracker/cases/{case_id}/referrals/{referral_id}/withdraw")
def withdraw_from_page(
    request: Request,
    user: Reader,
    db: SessionDep,
    case_id: IdPath,
    referral_id: IdPath,
    reason: Text = "",
) -> Response:
    """Withdraw a referral the case sent; 303 back to the case's Referrals panel."""
    if user.actor.role_for(service.SEND_ROLES) is None:
        raise PageForbidden("withdrawing a referral")
    if len(reason.strip()) < 3 or len(reason.strip()) > 500:
        return _refused(
            request,
            user,
            case_id,
            "The referral was not withdrawn",
            ["Enter why the referral is withdrawn (3 to 500 characters)."],
        )
    try:
        service.withdraw(
            db,
            writer=request.app.state.writer,
            partners=_partners(request),
            actor=user.actor,
            case_id=case_id,
            task_id=referral_id,
            body=service.ReferralWithdraw(reason=reason.strip()),
            now=utcnow(),
        )
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(
            request,
            user,
            case_id,
            "The referral was not withdrawn",
            _messages(exc),
            exc.status_code,
        )
    return RedirectResponse(f"/tracker/cases/{case_id}#referrals", status_code=303)


def _refused(
    request: Request,
    user: PageUser,
    case_id: int,
    heading: str,
    messages: list[str],
    status_code: int = 422,
) -> Response:
    return render(
        request,
        "referral_refused.html",
        actor=user.actor,
        page_title=f"Error: {heading}",
        heading=heading,
        messages=messages,
        case_id=case_id,
        status_code=status_code,
    )
