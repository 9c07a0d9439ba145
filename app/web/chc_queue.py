"""`/chc/queue`: the CSU assessor's working list. Their claims, the queue in the API's order
with each RAG rating explained, claiming the next case (the API's atomic claim), releasing and
reassigning claims. Every action is the API's own service; the page adds nothing to the rules.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.api_shared import log_read
from app.chc import queue
from app.chc.errors import ASSESSOR_ROLES
from app.chc.schemas import QueueItem
from app.deps import EngineDep, IdPath, SessionDep
from app.errors import DomainError
from app.timeutil import utcnow
from app.web.access import PageUser, page_needs
from app.web.chc_common import (
    HELPERS,
    chc_nav,
    config_of,
    error_list,
    has_any,
    humanise,
    text_problems,
)
from app.web.templating import render

router = APIRouter(include_in_schema=False)
READ = "chc.worklist"
Worker = Annotated[PageUser, page_needs(READ)]
REASSIGNERS = (*ASSESSOR_ROLES, "admin")  # as the API's reassign route declares
SHOWN = 100

# What the holder of a claim does next, by state (display text; the events themselves and who
# may fire them are the pathway's).
NEXT_ACTION = {
    "referred": ("Triage and allocate the case", None),
    "deferred": ("Allocate when assessment resource is free", None),
    "allocated": ("Start screening with the Checklist", None),
    "screening": ("Score the Checklist", "checklist"),
    "full_assessment": ("Complete the DST with the MDT", "dst"),
    "fast_track": (
        "Fast Track: the decision maker accepts it (the tool establishes eligibility)",
        None,
    ),
}


def next_action(item: QueueItem) -> tuple[str, str]:
    """(what to do, where) for a claimed case."""
    text, tool = NEXT_ACTION.get(item.state, (f"{humanise(item.state)}: see the case", None))
    href = f"/chc/cases/{item.case_id}" + (f"/{tool}" if tool else "")
    return text, href


def _page(
    request: Request,
    user: PageUser,
    db: SessionDep,
    engine: EngineDep,
    *,
    rag: str | None = None,
    cohort: str | None = None,
    unclaimed_only: bool = False,
    errors: list[dict[str, str]] | None = None,
    error_title: str = "",
    reassign_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    actor, now = user.actor, utcnow()
    read = queue.list_queue(
        db,
        engine=engine,
        actor=actor,
        now=now,
        cohort=cohort,
        rag=rag,
        unclaimed_only=unclaimed_only,
        limit=SHOWN,
    )
    mine = queue.my_claims(db, actor=actor, now=now)
    log_read(request, db, actor, sorted({i.case_id for i in (*read.items, *mine)}))
    if user.grant is not None:
        read = user.grant.reduce(read)
    done_case = request.query_params.get("case", "")
    done_case_id = int(done_case) if done_case.isdigit() and len(done_case) < 19 else None
    named = {i.case_id: i.person_name for i in mine}
    cfg = config_of(request)
    return render(
        request,
        "chc_queue.html",
        actor=actor,
        page_title="CHC work queue",
        queue=read,
        mine=[(item, *next_action(item)) for item in mine],
        shown=SHOWN,
        **HELPERS,
        filters={"rag": rag or "", "cohort": cohort or "", "unclaimed_only": unclaimed_only},
        cohorts=[(c.key, c.label) for c in cfg.local.cohorts]
        + [(cfg.local.unassigned_cohort, humanise(cfg.local.unassigned_cohort))],
        may_claim=has_any(actor, ASSESSOR_ROLES),
        may_reassign=has_any(actor, REASSIGNERS),
        is_admin="admin" in actor.roles,
        done=request.query_params.get("done"),
        done_case=done_case_id,
        done_name=named.get(done_case_id) if done_case_id else None,
        chc_nav=chc_nav(request, actor),
        errors=errors,
        error_title=error_title,
        reassign_form=reassign_form or {},
        status_code=status_code,
    )


@router.get("/chc/queue")
def queue_page(
    request: Request,
    user: Worker,
    db: SessionDep,
    engine: EngineDep,
    rag: Annotated[Literal["red", "amber", "green", ""], Query()] = "",
    cohort: Annotated[str, Query(max_length=32)] = "",
    unclaimed_only: bool = False,
) -> Response:
    if cohort and cohort not in _cohort_keys(request):
        return _page(
            request,
            user,
            db,
            engine,
            errors=[{"text": "Choose a cohort from the list", "href": "#cohort"}],
            error_title="There is no such cohort",
            status_code=422,
        )
    return _page(
        request,
        user,
        db,
        engine,
        rag=rag or None,
        cohort=cohort or None,
        unclaimed_only=unclaimed_only,
    )


def _cohort_keys(request: Request) -> set[str]:
    local = config_of(request).local
    return {c.key for c in local.cohorts} | {local.unassigned_cohort}


@router.post("/chc/queue/claim")
def claim_next(request: Request, user: Worker, db: SessionDep, engine: EngineDep) -> Response:
    """The API's atomic claim (`POST /queues/chc/claim`): never one case to two people."""
    try:
        item = queue.claim_next(
            db, engine=engine, cfg=config_of(request), actor=user.actor, now=utcnow()
        )
    except DomainError as exc:
        db.rollback()
        title = "Nothing to claim" if exc.code == "queue_empty" else "The case was not claimed"
        return _page(
            request,
            user,
            db,
            engine,
            errors=_claim_errors(exc),
            error_title=title,
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/chc/queue?done=claimed&case={item.case_id}", status_code=303)


def _claim_errors(exc: DomainError) -> list[dict[str, str]]:
    held = exc.extra.get("held_case_ids") or []
    items = [{"text": exc.detail, "href": "#my-claims" if held else "#claim"}]
    items += [{"text": f"Open case {c}, which you hold", "href": f"/chc/cases/{c}"} for c in held]
    return items


@router.post("/chc/queue/{case_id}/release")
def release(
    request: Request,
    case_id: IdPath,
    user: Worker,
    db: SessionDep,
    engine: EngineDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if problems := text_problems({"Reason": (reason, False)}, lambda _: "#my-claims"):
        return _page(
            request,
            user,
            db,
            engine,
            errors=problems,
            error_title=f"Case {case_id} was not released",
            status_code=422,
        )
    try:
        queue.release(
            db, actor=user.actor, case_id=case_id, reason=reason.strip() or None, now=utcnow()
        )
    except DomainError as exc:
        db.rollback()
        return _page(
            request,
            user,
            db,
            engine,
            errors=error_list(exc),
            error_title=f"Case {case_id} was not released",
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/chc/queue?done=released&case={case_id}", status_code=303)


@router.post("/chc/queue/{case_id}/reassign")
def reassign(
    request: Request,
    case_id: IdPath,
    user: Worker,
    db: SessionDep,
    engine: EngineDep,
    to: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    typed = {"case_id": case_id, "to": to, "reason": reason}
    problems = []
    if not to.strip():
        problems.append({"text": "Enter the username of the assessor", "href": f"#to-{case_id}"})
    if len(reason.strip()) < 3:
        problems.append(
            {"text": "Give a reason of 3 characters or more", "href": f"#reason-{case_id}"}
        )
    fields = {"Username": (to, True), "Reason": (reason, False)}
    ids = {"Username": f"#to-{case_id}", "Reason": f"#reason-{case_id}"}
    problems += text_problems(fields, ids.__getitem__)
    if problems:
        return _page(
            request,
            user,
            db,
            engine,
            errors=problems,
            error_title=f"Case {case_id} was not reassigned",
            reassign_form=typed,
            status_code=422,
        )
    try:
        queue.reassign(
            db,
            cfg=config_of(request),
            actor=user.actor,
            case_id=case_id,
            to=to.strip(),
            reason=reason.strip(),
            now=utcnow(),
        )
    except DomainError as exc:
        db.rollback()
        return _page(
            request,
            user,
            db,
            engine,
            errors=error_list(exc, lambda f: f"#{f}-{case_id}" if f == "to" else None),
            error_title=f"Case {case_id} was not reassigned",
            reassign_form=typed,
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/chc/queue?done=reassigned&case={case_id}", status_code=303)
