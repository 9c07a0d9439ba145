"""`/adt/dead-letters`: the PAS messages HomeFirst refused, for a person to retry or dismiss
(issue #15; the API's `GET /api/v1/adt/dead-letters` and its retry and dismiss, on a screen).

The list is the organisation's waiting messages, newest first, a page at a time (keyset on the
message id, as the API pages); each shows when it came, from which sender, its type and control
id, why it was refused in words, how often it was tried, the case it touched if any, and the
message itself a segment a line. `/adt/dead-letters/{id}` is one message, waiting or resolved,
with what became of it. Reading needs `adt.messages`; NHS numbers in the raw text are shown only
to a `full` grant. Retrying and dismissing are for the API's resolvers (app.adt.routes.RESOLVERS)
and go through the same `AdtService` the API uses (`app.state.adt`); after each the page says
what happened: applied to which case with which events, or still refused and why. Every view is
in the access audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.adt.repository import AdtRepository
from app.adt.routes import RESOLVERS
from app.adt.service import AdtService
from app.api_shared import log_read
from app.deps import IdPath, SessionDep
from app.errors import Conflict, NotFound
from app.security.inputs import MAX_ID
from app.timeutil import utcnow
from app.web.access import PageForbidden, PageUser, page_needs
from app.web.adt_view import Outcome, letter_view, outcome_of, reason_problem, was_dead_letter
from app.web.templating import render

router = APIRouter(prefix="/adt/dead-letters", include_in_schema=False)
READ = "adt.messages"
Reader = Annotated[PageUser, page_needs(READ)]
PAGE_SIZE = 20
Done = Literal["retried", "dismissed"]
Back = Literal["list", "message"]
# Read generously and checked here, so a long reason is shown again with a message.
ReasonForm = Annotated[str, Form(max_length=10_000)]
BeforeForm = Annotated[str, Form(max_length=20)]
BackForm = Annotated[Back, Form()]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@dataclass
class Failure:
    """A retry or dismissal that did not happen: what to say, where, and what was typed."""

    message_id: int
    form: Literal["retry", "dismiss"]
    title: str
    messages: list[tuple[str, str]]  # (text, href) for the error summary
    field_error: str = ""
    reason: str = ""
    status_code: int = 422


# -- reading ------------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def dead_letters(
    request: Request,
    user: Reader,
    db: SessionDep,
    before: IdQuery = None,
    done: Done | None = None,
    message: IdQuery = None,
) -> Response:
    return _list_page(request, db, user, before, done=done, done_id=message)


@router.get("/{message_id}", response_class=HTMLResponse)
def dead_letter(
    request: Request, user: Reader, db: SessionDep, message_id: IdPath, done: Done | None = None
) -> Response:
    return _message_page(request, db, user, message_id, done=done)


def _list_page(
    request: Request,
    db: Session,
    user: PageUser,
    before: int | None,
    *,
    done: Done | None = None,
    done_id: int | None = None,
    failure: Failure | None = None,
) -> HTMLResponse:
    actor, identifiers = user.actor, _identifiers(user)
    repo = AdtRepository(db)
    rows = repo.dead_letters(organisation=actor.organisation, before_id=before, limit=PAGE_SIZE + 1)
    letters = [letter_view(r, identifiers=identifiers) for r in rows[:PAGE_SIZE]]
    waiting = repo.count_dead_letters(actor.organisation)
    outcome = _outcome(repo, actor.organisation, done, done_id, identifiers)
    shown = [x.case_id for x in letters if x.case_id is not None]
    if outcome is not None and outcome.letter.case_id is not None:
        shown.append(outcome.letter.case_id)
    log_read(request, db, actor, shown)
    older = (
        f"/adt/dead-letters?{urlencode({'before': letters[-1].id})}"
        if len(rows) > PAGE_SIZE
        else None
    )
    return render(
        request,
        "adt_dead_letters.html",
        actor=actor,
        page_title=("Error: " if failure else "") + "Refused PAS messages",
        letters=letters,
        waiting=waiting,
        before=before,
        pages=_pagination(before, older),
        may_resolve=may_resolve(user),
        outcome=outcome,
        failure=failure,
        status_code=failure.status_code if failure else 200,
    )


def _message_page(
    request: Request,
    db: Session,
    user: PageUser,
    message_id: int,
    *,
    done: Done | None = None,
    failure: Failure | None = None,
) -> HTMLResponse:
    actor, identifiers = user.actor, _identifiers(user)
    repo = AdtRepository(db)
    row = repo.message_by_id(message_id, organisation=actor.organisation)
    if row is None or not was_dead_letter(row):
        raise NotFound(f"no refused PAS message {message_id} for {actor.organisation}")
    letter = letter_view(row, identifiers=identifiers)
    outcome = outcome_of(letter, retried=done == "retried") if done is not None else None
    log_read(request, db, actor, [letter.case_id] if letter.case_id is not None else [])
    return render(
        request,
        "adt_dead_letter.html",
        actor=actor,
        page_title=("Error: " if failure else "") + f"PAS message {letter.control_id}",
        letter=letter,
        may_resolve=may_resolve(user),
        outcome=outcome,
        failure=failure,
        status_code=failure.status_code if failure else 200,
    )


def _outcome(
    repo: AdtRepository,
    organisation: str,
    done: Done | None,
    message_id: int | None,
    identifiers: bool,
) -> Outcome | None:
    """The banner after a retry or dismissal: the message as it is now. An address naming
    another organisation's message, or none, shows no banner."""
    if done is None or message_id is None:
        return None
    row = repo.message_by_id(message_id, organisation=organisation)
    if row is None or not was_dead_letter(row):
        return None
    return outcome_of(letter_view(row, identifiers=identifiers), retried=done == "retried")


def _pagination(before: int | None, older: str | None) -> dict[str, object] | None:
    if before is None and older is None:
        return None
    out: dict[str, object] = {"ariaLabel": "Pages of messages"}
    if before is not None:
        out["previous"] = {"href": "/adt/dead-letters", "text": "Newest messages"}
    if older is not None:
        out["next"] = {"href": older, "text": "Older messages"}
    return out


# -- resolving ----------------------------------------------------------------------------------
@router.post("/{message_id}/retry")
def retry(
    request: Request,
    user: Reader,
    db: SessionDep,
    message_id: IdPath,
    before: BeforeForm = "",
    back: BackForm = "list",
) -> Response:
    """Apply the message again as its interface (the API's retry); still refused, it stays
    waiting with the new reason, which the page after says."""
    _require_resolver(user)
    _known(db, user, message_id)
    service: AdtService = request.app.state.adt
    try:
        service.retry(
            db, message_id, organisation=user.actor.organisation, by=user.actor, now=utcnow()
        )
    # Resolved meanwhile, its sender still not configured, or its text cannot be read.
    except Conflict as exc:
        db.rollback()
        failure = _failure(message_id, "retry", "The message was not retried", exc.detail, 409)
        return _again(request, db, user, message_id, before, back, failure)
    return _redirect(message_id, "retried", before, back)


@router.post("/{message_id}/dismiss")
def dismiss(
    request: Request,
    user: Reader,
    db: SessionDep,
    message_id: IdPath,
    reason: ReasonForm = "",
    before: BeforeForm = "",
    back: BackForm = "list",
) -> Response:
    """Decide not to apply the message, saying why (the API's dismissal)."""
    _require_resolver(user)
    _known(db, user, message_id)
    text = reason.strip()
    problem = reason_problem(text)
    if problem is not None:
        failure = Failure(
            message_id,
            "dismiss",
            "The message was not dismissed",
            [(problem, f"#reason-{message_id}")],
            field_error=problem,
            reason=reason,
        )
        return _again(request, db, user, message_id, before, back, failure)
    service: AdtService = request.app.state.adt
    try:
        service.dismiss(
            db,
            message_id,
            organisation=user.actor.organisation,
            by=user.actor,
            reason=text,
            now=utcnow(),
        )
    except Conflict as exc:  # someone resolved it meanwhile
        db.rollback()
        failure = _failure(message_id, "dismiss", "The message was not dismissed", exc.detail, 409)
        return _again(request, db, user, message_id, before, back, failure)
    return _redirect(message_id, "dismissed", before, back)


def may_resolve(user: PageUser) -> bool:
    return user.actor.role_for(RESOLVERS) is not None


def _require_resolver(user: PageUser) -> None:
    if not may_resolve(user):
        raise PageForbidden("resolving refused PAS messages")


def _known(db: Session, user: PageUser, message_id: int) -> None:
    """404 unless the message is one of the organisation's (once) refused messages: what the
    screen lists, never another organisation's, whatever the id."""
    row = AdtRepository(db).message_by_id(message_id, organisation=user.actor.organisation)
    found = row is not None and was_dead_letter(row)
    db.rollback()  # end the read: the change is a transaction of its own
    if not found:
        raise NotFound(f"no refused PAS message {message_id} for {user.actor.organisation}")


def _failure(
    message_id: int, form: Literal["retry", "dismiss"], title: str, detail: str, status: int
) -> Failure:
    # The message's own page says what became of it (it may have left the list).
    text = detail.strip()
    text = (text[:1].upper() + text[1:]).rstrip(".") + "."
    return Failure(
        message_id, form, title, [(text, f"/adt/dead-letters/{message_id}")], status_code=status
    )


def _again(
    request: Request,
    db: Session,
    user: PageUser,
    message_id: int,
    before: str,
    back: Back,
    failure: Failure,
) -> HTMLResponse:
    """The page the form was on, read afresh, with what went wrong."""
    if back == "message":
        return _message_page(request, db, user, message_id, failure=failure)
    return _list_page(request, db, user, _whole(before), failure=failure)


def _redirect(message_id: int, done: Done, before: str, back: Back) -> RedirectResponse:
    if back == "message":
        return RedirectResponse(f"/adt/dead-letters/{message_id}?done={done}", status_code=303)
    query: dict[str, str | int] = {}
    if (page := _whole(before)) is not None:
        query["before"] = page
    query.update(done=done, message=message_id)
    return RedirectResponse(f"/adt/dead-letters?{urlencode(query)}", status_code=303)


def _identifiers(user: PageUser) -> bool:
    assert user.grant is not None  # noqa: S101 - page_needs(READ) always gives one
    return user.grant.level == "full"


def _whole(raw: str) -> int | None:
    """A message id from a hidden form field, or None (the first page)."""
    value = raw.strip()
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        return None
    return int(value)
