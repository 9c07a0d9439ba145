"""/api/v1/whatif: a manager's what-if runs (queued, then carried out by the background job),
their inputs and results (JSON and CSV). Runs are the organisation's: another's is a 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.auth.needs import needs, needs_role
from app.deps import CurrentActor, IdPath, SessionDep
from app.errors import NotFound
from app.models import WhatIfRun
from app.timeutil import utcnow
from app.whatif import exports, service
from app.whatif.schemas import WhatIfRequest
from app.whatif.wiring import wake, whatif_config

router = APIRouter(prefix="/whatif", tags=["whatif"])
RUN_ROLES = ("manager",)
CSV_ANSWER: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"content": {"text/csv": {}}}},
}


@router.post(
    "",
    status_code=202,
    responses={202: {"description": "Queued; follow `Location` until its status is done"}},
)
def request_whatif(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    body: WhatIfRequest,
    _role: Annotated[str, needs_role(RUN_ROLES, "running a what-if")],
) -> JSONResponse:
    """Queue a what-if: the capacity changes to try against the baseline observed from your
    organisation's events. 202 with `Location`; the background job carries it out."""
    run = service.request_run(
        db, actor=actor, body=body, config=whatif_config(request), now=utcnow()
    )
    wake(request)
    location = f"{request.url.path.rstrip('/')}/{run.id}"
    return JSONResponse(service.summary(run), status_code=202, headers={"Location": location})


@router.get("", dependencies=[needs("whatif.read")])
def list_whatifs(actor: CurrentActor, db: SessionDep) -> dict[str, Any]:
    """Your organisation's what-if runs, newest first (without their results)."""
    items = [service.summary(r) for r in service.listed(db, actor.organisation)]
    return {"count": len(items), "items": items}


@router.get("/{run_id}", dependencies=[needs("whatif.read")])
def read_whatif(run_id: IdPath, actor: CurrentActor, db: SessionDep) -> dict[str, Any]:
    """A run: its status, scenario, seed, the inputs it was based on and, once done, the
    result (each figure's 10th percentile, median and 90th percentile over the runs, for the
    baseline, the scenario and their difference)."""
    return service.detail(_run(db, run_id, actor.organisation))


@router.get("/{run_id}/result.csv", **CSV_ANSWER, dependencies=[needs("whatif.read")])
def whatif_csv(run_id: IdPath, actor: CurrentActor, db: SessionDep) -> Response:
    """The result as CSV: one line per figure, week and arm."""
    run = service.detail(_run(db, run_id, actor.organisation))
    return Response(
        exports.result_csv(run),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="whatif-{run_id}.csv"'},
    )


def _run(db: SessionDep, run_id: int, organisation: str) -> WhatIfRun:
    run = service.one(db, run_id, organisation)
    if run is None:
        raise NotFound(f"what-if run {run_id} not found")
    return run
