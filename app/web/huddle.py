"""`/huddle`: the daily escalation call's agenda for a site (or the whole organisation).

The chair picks the site, starts today's huddle, and goes through three sections (escalated
patients, the longest waits, patients newly not meeting the criteria to reside); for each
patient the call marks them discussed with the action agreed, and escalates or de-escalates.
`?print=1` is the agenda without forms, for the people on the call who want it on paper.

The agenda and its notes are `app.discharge.huddle`'s; escalation goes through the one
transition entry point with the case version the page was rendered with, so a change someone
made meanwhile is refused (412) and the page says so rather than overwriting it. Reading the
page is `rfd.read` (as the Ready-for-Discharge list); writing is for `huddle.WRITE_ROLES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api_shared import log_read
from app.config import Settings
from app.deps import IdPath, SessionDep
from app.discharge import huddle
from app.errors import DomainError, GuardRejected, NotFound, StaleCase
from app.security.inputs import MAX_ID
from app.security.text import control_character
from app.timeutil import EARLIEST_DATE, LATEST_DATE, LONDON, london_date, utcnow
from app.web.access import PageForbidden, PageUser, page_needs
from app.web.templating import render

router = APIRouter(include_in_schema=False)
READ = "rfd.read"
Reader = Annotated[PageUser, page_needs(READ)]
# A site code as cases carry it (app.cases.schemas.CODE_PATTERN), or empty for system-wide.
SITE_PATTERN = r"^(|[A-Za-z0-9][A-Za-z0-9 ._-]{0,63})$"
SiteQuery = Annotated[str, Query(pattern=SITE_PATTERN)]
SiteForm = Annotated[str, Form(pattern=SITE_PATTERN)]
# Free text is read generously and checked here, so a long entry is re-shown with a message
# rather than lost to a bare "the form could not be read".
Text = Annotated[str, Form(max_length=10_000)]
DatePart = Annotated[str, Form(max_length=10)]
Version = Annotated[int, Form(ge=0, le=MAX_ID)]
Done = Literal["started", "discussed", "escalated", "de-escalated"]
DONE_TEXT = {
    "started": "Today's huddle has started.",
    "discussed": "Marked as discussed.",
    "escalated": "Escalated.",
    "de-escalated": "Escalation cleared.",
}


@dataclass
class Failure:
    """A form that was not saved: what to say, where, and what the person typed."""

    case_id: int
    form: Literal["discussed", "escalate", "de-escalate"]
    title: str
    messages: list[tuple[str, str]]  # (text, the field's id) for the error summary
    field_errors: dict[str, str] = field(default_factory=dict)  # field id -> message
    values: dict[str, str] = field(default_factory=dict)
    status_code: int = 422


@router.get("/huddle", response_class=HTMLResponse)
def agenda_page(
    request: Request,
    user: Reader,
    db: SessionDep,
    site: SiteQuery = "",
    print_view: Annotated[bool, Query(alias="print")] = False,
    done: Done | None = None,
    case: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    return _page(request, db, user, site, print_view=print_view, done=done, done_case=case)


@router.post("/huddle/start")
def start_huddle(user: Reader, db: SessionDep, site: SiteForm = "") -> Response:
    _require_writer(user)
    if site and site not in huddle.sites(db, organisation=user.actor.organisation):
        raise NotFound(f"no open discharge cases at site {site!r}")
    huddle.start(db, actor=user.actor, site=site, now=utcnow())
    return _back(site, "started")


@router.post("/huddle/cases/{case_id}/discussed")
def mark_discussed(
    request: Request,
    user: Reader,
    db: SessionDep,
    case_id: IdPath,
    site: SiteForm = "",
    action: Text = "",
    owner: Text = "",
    due_day: DatePart = "",
    due_month: DatePart = "",
    due_year: DatePart = "",
) -> Response:
    _require_writer(user)
    values = {
        f"action-{case_id}": action,
        f"owner-{case_id}": owner,
        "due_day": due_day,
        "due_month": due_month,
        "due_year": due_year,
    }
    failure = Failure(case_id, "discussed", "The patient was not marked discussed", [], {}, values)
    action_text = _line(failure, f"action-{case_id}", action, "The action", huddle.ACTION_MAX)
    owner_text = _line(failure, f"owner-{case_id}", owner, "The action owner", huddle.OWNER_MAX)
    due = _due_date(failure, case_id, due_day, due_month, due_year)
    if action_text is None and (owner_text or due):
        _fail(failure, f"action-{case_id}", "Enter the action the owner and due date are for")
    if failure.messages:
        return _page(request, db, user, site, failure=failure)
    try:
        huddle.record_note(
            db,
            actor=user.actor,
            site=site,
            case_id=case_id,
            action=action_text,
            action_owner=owner_text,
            action_due=due,
            now=utcnow(),
        )
    except NotFound:
        raise
    except DomainError as exc:
        failure.messages.append((_sentence(exc.detail), "#start-huddle"))
        failure.status_code = exc.status_code
        return _page(request, db, user, site, failure=failure)
    return _back(site, "discussed", case_id)


@router.post("/huddle/cases/{case_id}/escalate")
def escalate(
    request: Request,
    user: Reader,
    db: SessionDep,
    case_id: IdPath,
    version: Version,
    site: SiteForm = "",
    reason: Text = "",
) -> Response:
    _require_writer(user)
    field_id = f"escalate-reason-{case_id}"
    failure = Failure(
        case_id, "escalate", "The patient was not escalated", [], {}, {field_id: reason}
    )
    text = _free_text(failure, field_id, reason, "The reason", huddle.ESCALATION_TEXT_MAX)
    if text is None and not failure.messages:
        _fail(failure, field_id, "Enter the reason for escalating")
    if failure.messages or text is None:
        return _page(request, db, user, site, failure=failure)
    return _fire(
        request,
        db,
        user,
        site,
        failure,
        field_id,
        lambda now, ttl: huddle.escalate(
            db,
            writer=request.app.state.writer,
            actor=user.actor,
            case_id=case_id,
            version=version,
            reason=text,
            now=now,
            ttl=ttl,
        ),
        "escalated",
    )


@router.post("/huddle/cases/{case_id}/de-escalate")
def de_escalate(
    request: Request,
    user: Reader,
    db: SessionDep,
    case_id: IdPath,
    version: Version,
    site: SiteForm = "",
    outcome: Text = "",
) -> Response:
    _require_writer(user)
    field_id = f"outcome-{case_id}"
    failure = Failure(
        case_id, "de-escalate", "The escalation was not cleared", [], {}, {field_id: outcome}
    )
    text = _free_text(failure, field_id, outcome, "The outcome", huddle.ESCALATION_TEXT_MAX)
    if failure.messages:
        return _page(request, db, user, site, failure=failure)
    return _fire(
        request,
        db,
        user,
        site,
        failure,
        field_id,
        lambda now, ttl: huddle.de_escalate(
            db,
            writer=request.app.state.writer,
            actor=user.actor,
            case_id=case_id,
            version=version,
            outcome=text,
            now=now,
            ttl=ttl,
        ),
        "de-escalated",
    )


def _fire(
    request: Request,
    db: SessionDep,
    user: PageUser,
    site: str,
    failure: Failure,
    field_id: str,
    fire: Callable[[datetime, timedelta], object],
    done: Done,
) -> Response:
    """Fire the event; a refusal re-renders the agenda (read afresh) with its reasons."""
    settings: Settings = request.app.state.settings
    try:
        fire(utcnow(), settings.idempotency_ttl)
    except NotFound:
        raise  # not this organisation's case, or no such case: the 404 page
    except StaleCase:
        failure.messages.append(
            (
                "Someone else changed this patient's record after the agenda was opened, so "
                "nothing was saved. The agenda now shows the record as it is: check it, then "
                "submit again.",
                f"#{field_id}",
            )
        )
        failure.status_code = StaleCase.status_code
        return _page(request, db, user, site, failure=failure)
    except DomainError as exc:
        reasons = exc.extra.get("reasons") if isinstance(exc, GuardRejected) else None
        for reason in reasons or [exc.detail]:
            failure.messages.append((_sentence(str(reason)), f"#{field_id}"))
        failure.status_code = exc.status_code
        return _page(request, db, user, site, failure=failure)
    return _back(site, done, failure.case_id)


def _page(
    request: Request,
    db: SessionDep,
    user: PageUser,
    site: str,
    *,
    print_view: bool = False,
    done: Done | None = None,
    done_case: int | None = None,
    failure: Failure | None = None,
) -> HTMLResponse:
    state = request.app.state
    actor, grant = user.actor, user.grant
    assert grant is not None  # noqa: S101 - page_needs(READ) always grants or refuses
    agenda = huddle.agenda(
        db,
        catalogue=state.engine.catalogue,
        codes=state.codes,
        config=state.discharge_config,
        grant=grant,
        organisation=actor.organisation,
        site=site,
        now=utcnow(),
    )
    site_options = huddle.sites(db, organisation=actor.organisation)
    log_read(request, db, actor, agenda.case_ids)
    place = site or "all sites"
    if print_view:
        title = f"Huddle agenda, {_day(agenda.today)}, {place}"
    else:
        title = f"{'Error: ' if failure else ''}Huddle, {place}"
    return render(
        request,
        "huddle.html",
        actor=actor,
        page_title=title,
        agenda=agenda,
        site=site,
        place=place,
        site_options=site_options,
        print_view=print_view,
        can_write=huddle.may_write(actor),
        can_escalate=huddle.may_escalate(state.engine.catalogue, actor),
        done_text=DONE_TEXT.get(done or ""),
        done=done,
        done_case=done_case,
        failure=failure,
        Section=huddle.Section,
        patient=_patient,
        day=_day,
        clock=_clock,
        status_code=failure.status_code if failure else 200,
    )


def _require_writer(user: PageUser) -> None:
    if not huddle.may_write(user.actor):
        raise PageForbidden("huddle writes")


def _back(site: str, done: Done, case_id: int | None = None) -> RedirectResponse:
    query: dict[str, str | int] = {"site": site} if site else {}
    query["done"] = done
    anchor = ""
    if case_id is not None:
        query["case"] = case_id
        anchor = f"#case-{case_id}"
    return RedirectResponse(f"/huddle?{urlencode(query)}{anchor}", status_code=303)


def _fail(failure: Failure, field_id: str, message: str) -> None:
    failure.messages.append((message, f"#{field_id}"))
    failure.field_errors[field_id] = message


def _line(failure: Failure, field_id: str, value: str, what: str, limit: int) -> str | None:
    """One line of text, trimmed; None when empty."""
    text = value.strip()
    if control_character(text, single_line=True) is not None:
        _fail(failure, field_id, f"{what} must be one line of plain text")
    elif len(text) > limit:
        _fail(failure, field_id, f"{what} must be {limit} characters or fewer")
    return text or None


def _free_text(failure: Failure, field_id: str, value: str, what: str, limit: int) -> str | None:
    text = value.strip()
    if control_character(text, single_line=False) is not None:
        _fail(failure, field_id, f"{what} must be plain text")
    elif len(text) > limit:
        _fail(failure, field_id, f"{what} must be {limit} characters or fewer")
    return text or None


def _due_date(failure: Failure, case_id: int, day: str, month: str, year: str) -> date | None:
    parts = [day.strip(), month.strip(), year.strip()]
    if not any(parts):
        return None
    field_id = f"due-{case_id}-day"
    try:
        found = date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        _fail(failure, field_id, "The due date must be a real date, for example 15 3 2027")
        return None
    if not EARLIEST_DATE <= found <= LATEST_DATE:
        _fail(failure, field_id, "The due date must be a real date, for example 15 3 2027")
        return None
    if found < london_date(utcnow()):
        _fail(failure, field_id, "The due date must be today or in the future")
        return None
    return found


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def _patient(nhs_number: str | None, case_id: int) -> str:
    """The NHS number as people read it (3 3 4), or the case number when withheld."""
    if nhs_number and len(nhs_number) == 10 and nhs_number.isdigit():
        return f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}"
    return nhs_number or f"Case {case_id}"


def _day(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value.day} {value.strftime('%B %Y')}"


def _clock(value: datetime) -> str:
    return value.astimezone(LONDON).strftime("%H:%M")
