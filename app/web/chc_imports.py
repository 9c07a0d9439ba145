"""`/chc/imports` and `/chc/reconciliation`: uploading a backlog list (the API's import job),
following its progress, its report, and settling the values two lists disagree on. Every step
is the API's own service (`POST /imports/chc-backlog`, `GET .../{id}`, `GET /reconciliation/chc`,
`POST .../{id}/resolve`), so the checks, the job runner and the audit are the same.
"""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from app.api_shared import log_read
from app.chc import importer, reconciliation
from app.chc.errors import ASSESSOR_ROLES, IMPORT_ROLES
from app.chc.schemas import ResolveRequest
from app.deps import IdPath, SessionDep
from app.errors import DomainError
from app.security.inputs import MAX_ID
from app.timeutil import utcnow
from app.web.access import PageUser, page_needs
from app.web.chc_common import HELPERS, chc_nav, config_of, error_list, has_any, text_problems
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Worker = Annotated[PageUser, page_needs("chc.worklist")]
# A report's lists are shown this many rows each; the API streams the whole report.
REPORT_ROWS = 200
REPORT_TITLES = {
    "accepted": "New cases",
    "merged": "Merged into a case",
    "conflicts": "Merged, with values that disagree",
    "rejected": "Rejected",
    "unchanged": "Imported before, unchanged",
    "warnings": "Warnings",
    "blank_rows": "Blank rows",
}
SOURCES = ("MLCSU", "LSCFT", "Sefton MBC")  # the sample lists' sources, offered as examples


def _list_page(
    request: Request,
    user: PageUser,
    db: Session,
    *,
    errors: list[dict[str, str]] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    jobs = importer.list_imports(db, actor=user.actor, limit=50)
    return render(
        request,
        "chc_imports.html",
        actor=user.actor,
        page_title="CHC backlog imports",
        jobs=jobs,
        may_import=has_any(user.actor, IMPORT_ROLES),
        sources=SOURCES,
        typed=typed or {},
        errors=errors,
        chc_nav=chc_nav(request, user.actor),
        status_code=status_code,
        **HELPERS,
    )


@router.get("/chc/imports")
def imports_page(request: Request, user: Worker, db: SessionDep) -> Response:
    return _list_page(request, user, db)


@router.post("/chc/imports")
def upload(
    request: Request,
    user: Worker,
    db: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
    source: Annotated[str, Form(max_length=200)] = "",
    encoding: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The API's upload: the file is checked as it is read (a file that cannot be read is
    refused at once and writes nothing), then queued as an import job."""
    typed = {"source": source, "encoding": encoding}
    problems = []
    if file is None or not file.filename:
        problems.append({"text": "Choose the list's CSV file", "href": "#file"})
    if not source.strip():
        problems.append({"text": "Enter the source list, for example MLCSU", "href": "#source"})
    fields = {"Source list": (source, True), "Encoding": (encoding, True)}
    problems += text_problems(
        fields, lambda label: "#source" if label == "Source list" else "#encoding"
    )
    if problems or file is None:
        return _list_page(request, user, db, errors=problems, typed=typed, status_code=422)
    try:
        outcome = importer.submit(
            db,
            cfg=config_of(request),
            actor=user.actor,
            source=source,
            filename=file.filename or "upload.csv",
            file=file.file,
            declared_encoding=encoding.strip() or None,
            now=utcnow(),
        )
    except DomainError as exc:
        db.rollback()
        errors = error_list(exc, lambda f: f"#{f}" if f in ("source", "encoding") else "#file")
        if exc.code == "import_file_invalid":
            errors = [{"text": f"The file cannot be imported: {exc.detail}", "href": "#file"}]
        return _list_page(request, user, db, errors=errors, typed=typed, status_code=422)
    wake = getattr(request.app.state, "import_wake", None)
    if wake is not None and outcome.status_code == 202:
        wake.set()  # this process's runner starts now rather than at its next poll
    done = "queued" if outcome.status_code == 202 else "again"
    return RedirectResponse(f"/chc/imports/{outcome.import_id}?done={done}", status_code=303)


@router.get("/chc/imports/{import_id}")
def import_page(
    request: Request,
    import_id: IdPath,
    user: Worker,
    db: SessionDep,
) -> Response:
    try:
        job = importer.get_job(db, actor=user.actor, import_id=import_id)
    except DomainError as exc:
        return render(
            request,
            "chc_problem.html",
            actor=user.actor,
            page_title="Not found",
            detail=exc.detail,
            chc_nav=chc_nav(request, user.actor),
            status_code=exc.status_code,
        )
    status = importer.job_status(job)
    report: dict[str, dict[str, Any]] = {}
    if job.state == "done":
        sessions = request.app.state.sessions
        for kind in importer.REPORT_LISTS:
            found = islice(importer.iter_report(sessions, import_id, kind), REPORT_ROWS + 1)
            # Most lists hold entries; blank rows are kept as bare row numbers.
            entries = [e if isinstance(e, dict) else {"row": e} for e in found]
            report[kind] = {"rows": entries[:REPORT_ROWS], "more": len(entries) > REPORT_ROWS}
        case_ids = {e["case_id"] for r in report.values() for e in r["rows"] if "case_id" in e}
        log_read(request, db, user.actor, sorted(case_ids))
    return render(
        request,
        "chc_import.html",
        actor=user.actor,
        page_title=f"Import {import_id}",
        job=status,
        report=report,
        titles=REPORT_TITLES,
        report_rows=REPORT_ROWS,
        done=request.query_params.get("done"),
        chc_nav=chc_nav(request, user.actor),
        **HELPERS,
    )


# -- reconciliation ----------------------------------------------------------------------------
def _recon_page(
    request: Request,
    user: PageUser,
    db: Session,
    *,
    status: str,
    case_id: int | None,
    errors: list[dict[str, str]] | None = None,
    typed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    items = reconciliation.list_items(
        db, actor=user.actor, status=status, case_id=case_id, limit=200
    )
    log_read(request, db, user.actor, sorted({i.case_id for i in items.items}))
    done_item = request.query_params.get("item", "")
    return render(
        request,
        "chc_reconciliation.html",
        actor=user.actor,
        page_title="CHC reconciliation",
        items=items,
        status=status,
        case_id=case_id,
        may_resolve=has_any(user.actor, ASSESSOR_ROLES),
        typed=typed or {},
        errors=errors,
        done=request.query_params.get("done"),
        done_item=int(done_item) if done_item.isdigit() and len(done_item) < 19 else None,
        chc_nav=chc_nav(request, user.actor),
        status_code=status_code,
        **HELPERS,
    )


@router.get("/chc/reconciliation")
def reconciliation_page(
    request: Request,
    user: Worker,
    db: SessionDep,
    status: Literal["open", "resolved"] = "open",
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    return _recon_page(request, user, db, status=status, case_id=case_id)


@router.post("/chc/reconciliation/{item_id}/resolve")
def resolve(
    request: Request,
    item_id: IdPath,
    user: Worker,
    db: SessionDep,
    resolution: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    case_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Keep the case's value, or take the list's (one case event through the entry point)."""
    back_to = int(case_id) if case_id.isdigit() and len(case_id) < 19 else None
    typed = {"item_id": item_id, "resolution": resolution, "note": note}
    if resolution not in ("keep_current", "use_incoming"):
        problem = {"text": "Choose which value to keep", "href": f"#resolution-{item_id}"}
        return _recon_page(
            request,
            user,
            db,
            status="open",
            case_id=back_to,
            errors=[problem],
            typed=typed,
            status_code=422,
        )
    if problems := text_problems({"Note": (note, False)}, lambda _: f"#note-{item_id}"):
        return _recon_page(
            request,
            user,
            db,
            status="open",
            case_id=back_to,
            errors=problems,
            typed=typed,
            status_code=422,
        )
    choice: Literal["keep_current", "use_incoming"] = (
        "keep_current" if resolution == "keep_current" else "use_incoming"
    )
    body = ResolveRequest(resolution=choice, note=note.strip() or None)
    try:
        reconciliation.resolve(
            db,
            writer=request.app.state.writer,
            actor=user.actor,
            item_id=item_id,
            body=body,
            now=utcnow(),
        )
    except DomainError as exc:
        db.rollback()
        return _recon_page(
            request,
            user,
            db,
            status="open",
            case_id=back_to,
            errors=[{"text": exc.detail, "href": f"#item-{item_id}"}],
            typed=typed,
            status_code=exc.status_code,
        )
    where = f"&case_id={back_to}" if back_to else ""
    return RedirectResponse(
        f"/chc/reconciliation?done=resolved&item={item_id}{where}", status_code=303
    )
