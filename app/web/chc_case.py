"""`/chc/cases/{id}`: the CHC view of a case (RAG with the rules that fired, claim, the
Checklist and DST results, provenance of the merged backlog rows, open conflicts), and the
Checklist and DST entry forms that show the indicative result and the rule behind it as the
assessor scores (decision support only). The case's timeline and its other events are on the
generic case page, `/tracker/cases/{id}`.

Reads are the API's (`GET /chc/cases/{id}` and `GET /cases/{id}`: the same scoping); saving
fires the pathway's events through the API's event service, with the version the person read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api_shared import log_read
from app.cases import service as cases
from app.chc import service
from app.chc.schemas import ChcCaseRead
from app.deps import EngineDep, SessionDep
from app.engine.engine import Engine
from app.errors import DomainError
from app.security.inputs import MAX_ID
from app.timeutil import utcnow
from app.web.access import PageUser, page_needs
from app.web.chc_common import HELPERS, chc_nav, config_of, error_list, fire
from app.web.chc_tools import Tool, checklist_tool, dst_tool, indicative
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Reader = Annotated[PageUser, page_needs("chc.case")]
# Named apart from `case_id`: these pages are for CHC cases only (another workflow's case is
# not found here), and the page-access test gives each path parameter a value that fits it.
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
MATCH_RULES = {
    "new_case": "Opened the case",
    "nhs_number": "Matched on NHS number",
    "name_dob_postcode": "Matched on name, date of birth and postcode",
}
EXTRA_LABELS = {
    "checklist_date": "Date of the Checklist",
    "checklist_rationale": "Rationale",
    "dst_setting": "Where the MDT assessed the person",
    "acute_exception_reason": "Why the assessment was in an acute setting",
    "dst_date": "Date of the DST",
}


def _not_found(request: Request, user: PageUser, exc: DomainError) -> Response:
    return render(
        request,
        "chc_problem.html",
        actor=user.actor,
        page_title="Not found",
        detail=exc.detail,
        chc_nav=chc_nav(request, user.actor),
        status_code=exc.status_code,
    )


def _reads(
    request: Request, db: Session, engine: Engine, user: PageUser, case_id: int
) -> tuple[ChcCaseRead, Any]:
    """The API's CHC read of the case (404 unless it is a CHC case of the person's
    organisation) and its generic read (state, clocks, the events the person may fire)."""
    actor, now = user.actor, utcnow()
    chc = service.get_case(db, cfg=config_of(request), actor=actor, case_id=case_id, now=now)
    read, _etag = cases.get_case(db, engine=engine, actor=actor, case_id=case_id, now=now)
    db.rollback()  # end the reads' transaction before the audit record commits its own
    log_read(request, db, actor, [case_id])
    if user.grant is not None:
        chc = user.grant.reduce(chc)
    return chc, read


@router.get("/chc/cases/{chc_case_id}")
def case_page(
    request: Request, chc_case_id: CaseId, user: Reader, db: SessionDep, engine: EngineDep
) -> Response:
    try:
        chc, read = _reads(request, db, engine, user, chc_case_id)
        history = service.rag_history(db, actor=user.actor, case_id=chc_case_id)
    except DomainError as exc:
        return _not_found(request, user, exc)
    return render(
        request,
        "chc_case.html",
        actor=user.actor,
        page_title=f"CHC case {chc_case_id}",
        chc=chc,
        case=read,
        history=history,
        match_rules=MATCH_RULES,
        mine=bool(
            chc.work_item
            and chc.work_item.claim
            and not chc.work_item.claim.expired
            and chc.work_item.claim.assessor == user.actor.username
        ),
        chc_nav=chc_nav(request, user.actor),
        **HELPERS,
    )


def _event(engine: Engine, read: Any, actor: Any, event: str) -> tuple[bool, list[str]]:
    """(whether the person's roles may fire `event`, the states it may be fired in), from the
    case's pathway version."""
    loaded = engine.catalogue.get(read.workflow, read.workflow_version)
    found = [t for t in loaded.spec.transitions if t.trigger == event] if loaded else []
    roles = any(actor.roles & set(t.roles) for t in found)
    return roles, sorted({s for t in found for s in t.source})


# -- the Checklist and the DST -------------------------------------------------------------------
def _tool(request: Request, key: str) -> Tool:
    cfg = config_of(request)
    return checklist_tool(cfg) if key == "checklist" else dst_tool(cfg)


def _tool_page(
    request: Request,
    user: PageUser,
    db: Session,
    engine: Engine,
    case_id: int,
    tool: Tool,
    *,
    typed: dict[str, str] | None = None,
    checked: bool = False,
    errors: list[dict[str, str]] | None = None,
    error_title: str = "",
    version: int | None = None,
    step_typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The form with the recorded values (or what the person typed), the indicative result
    for them, whether they can be saved now, and the usual next step."""
    try:
        chc, read = _reads(request, db, engine, user, case_id)
    except DomainError as exc:
        return _not_found(request, user, exc)
    cfg = config_of(request)
    source: dict[str, Any] = typed if typed is not None else dict(chc.attributes)
    values = tool.values(source)
    result = None
    if not tool.problems(values):
        result = indicative(tool, values, cfg)
    allowed = {a.event: a for a in read.allowed_events}
    recorded = tool.values(chc.attributes)
    may_save, save_states = _event(engine, read, user.actor, tool.record_event)
    may_step, _ = _event(engine, read, user.actor, tool.next_step.event)
    return render(
        request,
        "chc_tool.html",
        actor=user.actor,
        page_title=f"{tool.title}: case {case_id}",
        tool=tool,
        chc=chc,
        case=read,
        values=values,
        extras={k: str(source.get(k) or "") for k in EXTRA_LABELS},
        extra_labels=EXTRA_LABELS,
        result=result,
        checked=checked,
        recorded=all(recorded.values()),
        save=allowed.get(tool.record_event),
        may_save=may_save,
        save_states=save_states,
        step=allowed.get(tool.next_step.event) if may_step else None,
        version=version if version is not None else chc.version,
        step_typed=step_typed or {},
        errors=errors,
        error_title=error_title,
        done=request.query_params.get("done"),
        table_version=cfg.tools.version,
        provisional=cfg.tools.status == "provisional",
        chc_nav=chc_nav(request, user.actor),
        status_code=status_code,
        **HELPERS,
    )


@router.get("/chc/cases/{chc_case_id}/checklist")
def checklist_page(
    request: Request, chc_case_id: CaseId, user: Reader, db: SessionDep, engine: EngineDep
) -> Response:
    return _tool_page(request, user, db, engine, chc_case_id, _tool(request, "checklist"))


@router.get("/chc/cases/{chc_case_id}/dst")
def dst_page(
    request: Request, chc_case_id: CaseId, user: Reader, db: SessionDep, engine: EngineDep
) -> Response:
    return _tool_page(request, user, db, engine, chc_case_id, _tool(request, "dst"))


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=50)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _version(form: dict[str, str]) -> int:
    text = form.get("version", "")
    return int(text) if text.isdigit() and len(text) < 19 else -1


@router.post("/chc/cases/{chc_case_id}/checklist")
async def checklist_post(
    request: Request, chc_case_id: CaseId, user: Reader, db: SessionDep, engine: EngineDep
) -> Response:
    form = await _form(request)
    return await run_in_threadpool(
        _tool_post, request, user, db, engine, chc_case_id, _tool(request, "checklist"), form
    )


@router.post("/chc/cases/{chc_case_id}/dst")
async def dst_post(
    request: Request, chc_case_id: CaseId, user: Reader, db: SessionDep, engine: EngineDep
) -> Response:
    form = await _form(request)
    return await run_in_threadpool(
        _tool_post, request, user, db, engine, chc_case_id, _tool(request, "dst"), form
    )


def _tool_post(
    request: Request,
    user: PageUser,
    db: Session,
    engine: Engine,
    case_id: int,
    tool: Tool,
    form: dict[str, str],
) -> Response:
    """The "Check the indicative result" button shows it for the scores as they are; "Save"
    records them (the pathway's record event, refused unless the case is where it may happen)."""
    values = tool.values(form)
    typed = {k: v for k, v in form.items() if k in EXTRA_LABELS or k.startswith(f"{tool.key}_")}
    version = _version(form)
    if problems := tool.problems(values):
        return _tool_page(
            request,
            user,
            db,
            engine,
            case_id,
            tool,
            typed=typed,
            version=version,
            errors=problems,
            error_title="Check the levels",
            status_code=422,
        )
    if form.get("action") != "save":
        return _tool_page(
            request, user, db, engine, case_id, tool, typed=typed, version=version, checked=True
        )
    data: dict[str, Any] = {d.key: values[d.key] for d in tool.domains if values[d.key]}
    data |= {k: typed[k].strip() for k in tool.extras if typed.get(k, "").strip()}
    try:
        fire(request, db, user.actor, case_id, event=tool.record_event, data=data, version=version)
    except DomainError as exc:
        db.rollback()
        if exc.status_code == 404:
            return _not_found(request, user, exc)
        if exc.code == "stale_case":  # the form now carries the version the person sees
            current = exc.extra.get("current_version")
            version = current if isinstance(current, int) else version
        return _tool_page(
            request,
            user,
            db,
            engine,
            case_id,
            tool,
            typed=typed,
            version=version,
            errors=_save_errors(tool, exc),
            error_title=f"The {tool.title} was not saved",
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/chc/cases/{case_id}/{tool.key}?done=saved", status_code=303)


def _save_errors(tool: Tool, exc: DomainError) -> list[dict[str, str]]:
    """Every reason, in the order the form reads, each linking to its field. When the case
    changed since the person read it, nothing was written: their entries are kept and saving
    again applies them to the case as it is now, which the summary says."""
    if exc.code == "stale_case":
        return [
            {
                "text": "Someone else changed this case since you opened the form. Your entries "
                "are kept below: check the case and save again to apply them.",
                "href": "#form",
            }
        ]
    labels = {d.key: d.label for d in tool.domains} | EXTRA_LABELS
    errors = error_list(exc, lambda f: f"#{f}" if f in labels else None, labels)
    order = {f"#{name}": n for n, name in enumerate([d.key for d in tool.domains] + [*tool.extras])}
    return sorted(errors, key=lambda e: order.get(e["href"], len(order)))


@router.post("/chc/cases/{chc_case_id}/checklist/next")
async def checklist_next(
    request: Request, chc_case_id: CaseId, user: Reader, db: SessionDep, engine: EngineDep
) -> Response:
    form = await _form(request)
    return await run_in_threadpool(
        _next_step, request, user, db, engine, chc_case_id, _tool(request, "checklist"), form
    )


@router.post("/chc/cases/{chc_case_id}/dst/next")
async def dst_next(
    request: Request, chc_case_id: CaseId, user: Reader, db: SessionDep, engine: EngineDep
) -> Response:
    form = await _form(request)
    return await run_in_threadpool(
        _next_step, request, user, db, engine, chc_case_id, _tool(request, "dst"), form
    )


def _next_step(
    request: Request,
    user: PageUser,
    db: Session,
    engine: Engine,
    case_id: int,
    tool: Tool,
    form: dict[str, str],
) -> Response:
    """The step after recording: start the full assessment (a rationale when it departs from
    the Checklist's indicative result), or refer the case to the next panel."""
    step, version = tool.next_step, _version(form)
    typed = {step.field: form.get(step.field, "")} if step.field else {}
    data = {k: v.strip() for k, v in typed.items() if v.strip()}
    try:
        body = fire(request, db, user.actor, case_id, event=step.event, data=data, version=version)
    except DomainError as exc:
        db.rollback()
        if exc.status_code == 404:
            return _not_found(request, user, exc)
        return _tool_page(
            request,
            user,
            db,
            engine,
            case_id,
            tool,
            errors=_step_errors(tool, exc),
            error_title=f"{step.title}: not done",
            step_typed=typed,
            status_code=exc.status_code,
        )
    if tool.key == "checklist":
        return RedirectResponse(f"/chc/cases/{case_id}/dst?done=started", status_code=303)
    panel = body["case"]["attributes"].get("panel_date", "")
    return RedirectResponse(
        f"/chc/panels?date={panel}&done=referred&case={case_id}", status_code=303
    )


def _step_errors(tool: Tool, exc: DomainError) -> list[dict[str, str]]:
    """Every reason, linking to the step's field (a rule that wants a rationale names it in
    its text); when the case changed meanwhile, the page now shows it as it is."""
    if exc.code == "stale_case":
        return [
            {
                "text": "Someone else changed this case since you opened the page. It is "
                "shown as it is now: check it and try again.",
                "href": "#next-step",
            }
        ]
    field = tool.next_step.field
    anchor = f"#{field}" if field else "#next-step"
    return [
        {**e, "href": anchor} if e["href"] == "#form" else e
        for e in error_list(exc, lambda f: f"#{f}" if f == field else None, EXTRA_LABELS)
    ]
