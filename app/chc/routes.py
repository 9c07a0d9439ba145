"""HTTP routes for CHC: backlog imports, reconciliation, the work queue, RAG, panels, report.

Thin: parse, call a service, shape the response. Every read needs a bearer token and a grant
in pathways/config/access.yaml; every write names its roles; every list is limited to the
caller's organisation.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from app.auth.needs import ANY_USER, needs, needs_role
from app.chc import importer, panels, queue, reconciliation, reports, service
from app.chc.config import ChcConfig, chc_config
from app.chc.errors import ASSESSOR_ROLES, IMPORT_ROLES, ImportFileInvalid
from app.chc.schemas import (
    ChcCaseRead,
    ChcReport,
    ChecklistRequest,
    DstRequest,
    ImportSummary,
    IndicativeRead,
    OverrideRequest,
    PanelList,
    PanelRead,
    QueueItem,
    QueueRead,
    RagHistoryRead,
    ReassignRequest,
    ReconciliationItemRead,
    ReconciliationList,
    ReleaseRequest,
    ResolveRequest,
)
from app.deps import CurrentActor, EngineDep, IdPath, SessionDep, SettingsDep, WriterDep
from app.errors import ValidationFailed
from app.security.inputs import MAX_ID
from app.timeutil import LONDON, utcnow

CHARSET = re.compile(r"charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)
PROBLEM: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        401: "No valid bearer token",
        403: "Your role may not do this",
        404: "Not found (or not in your organisation)",
        409: "Conflicts with the current state (every reason given)",
        422: "Invalid data",
    }.items()
}


def get_chc_config(settings: SettingsDep) -> ChcConfig:
    return chc_config(settings.pathways_dir / "config")


ConfigDep = Annotated[ChcConfig, Depends(get_chc_config)]
Limit = Annotated[int, Query(ge=1, le=500)]

imports = APIRouter(prefix="/imports/chc-backlog", tags=["chc"], responses=PROBLEM)
recon = APIRouter(prefix="/reconciliation/chc", tags=["chc"], responses=PROBLEM)
work_queue = APIRouter(prefix="/queues/chc", tags=["chc"], responses=PROBLEM)
cases = APIRouter(prefix="/chc", tags=["chc"], responses=PROBLEM)
panel_routes = APIRouter(prefix="/panels", tags=["chc"], responses=PROBLEM)
report_routes = APIRouter(prefix="/reports", tags=["chc"], responses=PROBLEM)
WORKLIST, CASE = [needs("chc.worklist")], [needs("chc.case")]
ASSESSES = [needs_role(ASSESSOR_ROLES, "working the CHC queue")]


@imports.post(
    "",
    status_code=202,
    responses={
        202: {"description": "The import job is queued; `Location` is where to follow it"},
        200: {"description": "The same file was uploaded before: its job, `already_imported`"},
    },
    dependencies=[needs_role(IMPORT_ROLES, "importing a CHC backlog list")],
)
def import_backlog(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    cfg: ConfigDep,
    file: Annotated[UploadFile, File(description="The source list as CSV")],
    source: Annotated[str, Form(max_length=64, description="e.g. MLCSU, LSCFT, Sefton MBC")],
    encoding: Annotated[
        str | None,
        Form(
            max_length=40,
            description="The file's encoding if it is not UTF-8 (e.g. windows-1252); also read "
            "from the part's `charset`. Without one it is detected: UTF-8, or Windows-1252.",
        ),
    ] = None,
) -> JSONResponse:
    """Upload one organisation's backlog list: 202 with the import job (follow `Location`
    until its `state` is `done`, when it carries the report). The same file again is 200 with
    the first job and `already_imported: true` (nothing changes). A file that cannot be read
    (encoding, CSV, headings) is a 422 at once."""
    outcome = importer.submit(
        db,
        cfg=cfg,
        actor=actor,
        source=source,
        filename=file.filename or "upload.csv",
        file=file.file,
        declared_encoding=_declared(encoding, file.content_type),
        now=utcnow(),
    )
    wake = getattr(request.app.state, "import_wake", None)
    if wake is not None and outcome.status_code == 202:
        wake.set()  # this process's runner starts now rather than at its next poll
    location = f"{request.url.path.rstrip('/')}/{outcome.import_id}"
    headers = {"Location": location, "Retry-After": "1"}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


def _declared(field: str | None, content_type: str | None) -> str | None:
    """The encoding the client declares: the form field, or the file part's `charset`."""
    match = CHARSET.search(content_type or "")
    charset = match.group(1) if match else None
    field = field.strip() if field and field.strip() else None
    if field and charset and field.lower() != charset.lower():
        raise ImportFileInvalid(
            f"the encoding field says {field[:40]!r} but the file part says {charset[:40]!r}"
        )
    return field or charset


@imports.get("", response_model=list[ImportSummary], dependencies=WORKLIST)
def list_imports(actor: CurrentActor, db: SessionDep, limit: Limit = 50) -> list[ImportSummary]:
    """Your organisation's imports, newest first, with their state."""
    return importer.list_imports(db, actor=actor, limit=limit)


@imports.get(
    "/{import_id}",
    dependencies=WORKLIST,
    responses={200: {"description": "The job; once `done`, with its whole report"}},
)
def get_import(
    import_id: IdPath, request: Request, actor: CurrentActor, db: SessionDep
) -> StreamingResponse:
    """One import job: state (`queued`, `running`, `done`, `failed` with `error`), progress
    and counts; once done, the full report (row numbers and reasons), streamed."""
    job = importer.get_job(db, actor=actor, import_id=import_id)
    body = importer.report_json(request.app.state.sessions, job)
    return StreamingResponse(body, media_type="application/json")


@recon.get("", response_model=ReconciliationList, dependencies=WORKLIST)
def list_reconciliation(
    actor: CurrentActor,
    db: SessionDep,
    status: Literal["open", "resolved"] | None = "open",
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 200,
) -> ReconciliationList:
    """Values on which source lists disagree (open ones by default)."""
    return reconciliation.list_items(db, actor=actor, status=status, case_id=case_id, limit=limit)


@recon.post("/{item_id}/resolve", response_model=ReconciliationItemRead, dependencies=ASSESSES)
def resolve_reconciliation(
    item_id: IdPath,
    body: ResolveRequest,
    actor: CurrentActor,
    db: SessionDep,
    writer: WriterDep,
) -> ReconciliationItemRead:
    """Keep the case's value, or take the list's value (one case event)."""
    return reconciliation.resolve(
        db, writer=writer, actor=actor, item_id=item_id, body=body, now=utcnow()
    )


@work_queue.get("", response_model=QueueRead, dependencies=WORKLIST)
def get_queue(
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    cohort: Annotated[str | None, Query(max_length=32)] = None,
    rag: Literal["red", "amber", "green"] | None = None,
    unclaimed_only: bool = False,
    limit: Limit = 100,
) -> QueueRead:
    """The working list in order (RAG, then waiting time), each item saying why it is there."""
    return queue.list_queue(
        db,
        engine=engine,
        actor=actor,
        now=utcnow(),
        cohort=cohort,
        rag=rag,
        unclaimed_only=unclaimed_only,
        limit=limit,
    )


@work_queue.post("/claim", response_model=QueueItem, dependencies=ASSESSES)
def claim(actor: CurrentActor, db: SessionDep, engine: EngineDep, cfg: ConfigDep) -> QueueItem:
    """Take the next unclaimed case. 404 `queue_empty`; 409 `claim_limit_reached`."""
    return queue.claim_next(db, engine=engine, cfg=cfg, actor=actor, now=utcnow())


@work_queue.post("/{case_id}/release", response_model=QueueItem, dependencies=ASSESSES)
def release(
    case_id: IdPath, body: ReleaseRequest, actor: CurrentActor, db: SessionDep
) -> QueueItem:
    """Give a claimed case back to the queue."""
    return queue.release(db, actor=actor, case_id=case_id, reason=body.reason, now=utcnow())


@work_queue.post(
    "/{case_id}/reassign",
    response_model=QueueItem,
    dependencies=[needs_role((*ASSESSOR_ROLES, "admin"), "reassigning a claim")],
)
def reassign(
    case_id: IdPath, body: ReassignRequest, actor: CurrentActor, db: SessionDep, cfg: ConfigDep
) -> QueueItem:
    """Hand a case to another assessor of your organisation, with a reason."""
    return queue.reassign(
        db, cfg=cfg, actor=actor, case_id=case_id, to=body.to, reason=body.reason, now=utcnow()
    )


@cases.get("/cases/{case_id}", response_model=ChcCaseRead, dependencies=CASE)
def get_chc_case(
    case_id: IdPath, actor: CurrentActor, db: SessionDep, cfg: ConfigDep
) -> ChcCaseRead:
    """The case with cohort, RAG and reasons, Checklist/DST indicative results and provenance."""
    return service.get_case(db, cfg=cfg, actor=actor, case_id=case_id, now=utcnow())


@cases.post("/cases/{case_id}/rag-override", response_model=QueueItem, dependencies=ASSESSES)
def override(
    case_id: IdPath, body: OverrideRequest, actor: CurrentActor, db: SessionDep, cfg: ConfigDep
) -> QueueItem:
    """Set a manual colour (or clear it with `rag: null`); a reason is required and audited."""
    return service.override_rag(db, cfg=cfg, actor=actor, case_id=case_id, body=body, now=utcnow())


@cases.get("/cases/{case_id}/rag-history", response_model=RagHistoryRead, dependencies=CASE)
def rag_history(case_id: IdPath, actor: CurrentActor, db: SessionDep) -> RagHistoryRead:
    """Every rating, override and claim of the case, oldest first."""
    return service.rag_history(db, actor=actor, case_id=case_id)


@cases.post("/checklist/indicative", response_model=IndicativeRead, openapi_extra=ANY_USER)
def checklist_indicative(
    body: ChecklistRequest, _actor: CurrentActor, cfg: ConfigDep
) -> IndicativeRead:
    """Indicative Checklist result with the threshold that fired (decision support only)."""
    return service.indicative_checklist(dict(body.scores), cfg)


@cases.post("/dst/indicative", response_model=IndicativeRead, openapi_extra=ANY_USER)
def dst_indicative(body: DstRequest, _actor: CurrentActor, cfg: ConfigDep) -> IndicativeRead:
    """Indicative DST recommendation with the rule that fired (decision support only)."""
    return service.indicative_dst(dict(body.levels), cfg)


@panel_routes.get("", response_model=PanelList, dependencies=[needs("chc.panels")])
def list_panels(
    actor: CurrentActor,
    db: SessionDep,
    cfg: ConfigDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    count: Annotated[int, Query(ge=1, le=52)] = 6,
) -> PanelList:
    """The next panel dates (fortnightly, from configuration) with the cases on each."""
    today = utcnow().astimezone(LONDON).date()
    return panels.upcoming_panels(db, cfg=cfg, actor=actor, start=start or today, count=count)


@panel_routes.get("/{day}", response_model=PanelRead, dependencies=[needs("chc.panels")])
def get_panel(day: date, actor: CurrentActor, db: SessionDep, cfg: ConfigDep) -> PanelRead:
    """The agenda of one panel. 404 `not_a_panel_date` names the nearest panels."""
    return panels.panel_agenda(db, cfg=cfg, actor=actor, day=day)


@report_routes.get("/chc", response_model=ChcReport, dependencies=[needs("chc.report")])
def chc_report(
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    cfg: ConfigDep,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
) -> ChcReport:
    """The 28-day standard, Fast Track, overdue bands, acute DSTs and the backlog by RAG and
    cohort for your organisation. The period defaults to the last 90 days."""
    now = utcnow()
    to = period_to or now.astimezone(LONDON).date()
    start = period_from or to - timedelta(days=90)
    if start > to:
        raise ValidationFailed(
            "`from` is after `to`", errors=[{"field": "from", "problem": "after to"}]
        )
    return reports.chc_report(
        db, engine=engine, cfg=cfg, actor=actor, period_from=start, period_to=to, now=now
    )


routers = (imports, recon, work_queue, cases, panel_routes, report_routes)
