"""/api/v1/forecast: each waiting patient's start window with its basis, the queues' pace, the
CHC backlog clearance forecast and the backtest of both (JSON and CSV). Figures cover the
queues of the caller's organisation, derived from its events on each request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.api_shared import log_read
from app.auth.access import Grant
from app.auth.actor import Actor
from app.auth.needs import needs
from app.deps import CurrentActor, SessionDep
from app.errors import ValidationFailed
from app.forecast import exports, views
from app.forecast.schemas import StartWindowRead, StartWindowsRead
from app.forecast.wiring import backtest_for, estimates_for, forecast_config
from app.timeutil import utcnow

router = APIRouter(prefix="/forecast", tags=["forecast"])
CSV_ANSWER: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"content": {"text/csv": {}}}},
}
QueueQ = Annotated[
    str | None,
    Query(max_length=16, description="One queue: P1, P2, P3, P3b or chc; all if omitted"),
]


@router.get("/queues", dependencies=[needs("forecast.read")])
def forecast_queues(request: Request, actor: CurrentActor, db: SessionDep) -> dict[str, Any]:
    """Each queue now: how many wait, in what order, and its pace over the window (exits per
    day, by weekday) that the start windows are drawn from."""
    found = estimates_for(request, db, actor.organisation, utcnow())
    return {
        "as_at": found.as_at.isoformat(),
        "method": views.METHOD,
        "interval": forecast_config(request).interval,
        "queues": [views.queue_summary(q) for q in found.queues],
    }


@router.get("/windows", response_model=StartWindowsRead)
def forecast_windows(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("forecast.patients")],
    queue: QueueQ = None,
) -> StartWindowsRead:
    """Each waiting patient's start window (earliest, likely and latest day), in queue order,
    with what it is based on: their place and the queue's pace."""
    return _windows(request, actor, db, grant, queue)


@router.get("/windows.csv", **CSV_ANSWER)
def forecast_windows_csv(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("forecast.patients")],
    queue: QueueQ = None,
) -> Response:
    """The start windows as CSV."""
    found = _windows(request, actor, db, grant, queue)
    return _csv(
        exports.windows_csv(found), f"start-windows-{queue or 'all'}-{found.as_at[:10]}.csv"
    )


@router.get("/clearance", dependencies=[needs("forecast.read")])
def forecast_clearance(request: Request, actor: CurrentActor, db: SessionDep) -> dict[str, Any]:
    """The CHC backlog clearance forecast: arrivals against exits over the window, weeks to
    clear with an interval, and the backlog's fan week by week."""
    return _clearance(request, actor.organisation, db)


@router.get("/clearance.csv", **CSV_ANSWER, dependencies=[needs("forecast.read")])
def forecast_clearance_csv(request: Request, actor: CurrentActor, db: SessionDep) -> Response:
    """The backlog's fan as CSV."""
    body = _clearance(request, actor.organisation, db)
    return _csv(exports.fan_csv(body), f"chc-clearance-{body['as_at'][:10]}.csv")


@router.get("/backtest", dependencies=[needs("forecast.read")])
def forecast_backtest(request: Request, actor: CurrentActor, db: SessionDep) -> dict[str, Any]:
    """Start windows and clearance forecasts made as at past days by the same code, against
    what happened: mean absolute error, bias and interval coverage by queue."""
    found = backtest_for(request, db, actor.organisation, utcnow())
    return views.backtest_body(found, forecast_config(request))


@router.get("/backtest.csv", **CSV_ANSWER, dependencies=[needs("forecast.read")])
def forecast_backtest_csv(request: Request, actor: CurrentActor, db: SessionDep) -> Response:
    """The backtest as CSV: one line per queue, then the clearance forecast."""
    found = backtest_for(request, db, actor.organisation, utcnow())
    body = views.backtest_body(found, forecast_config(request))
    return _csv(exports.backtest_csv(body), f"forecast-backtest-{body['now'][:10]}.csv")


def _windows(
    request: Request, actor: Actor, db: Session, grant: Grant, queue: str | None
) -> StartWindowsRead:
    cfg = forecast_config(request)
    found = estimates_for(request, db, actor.organisation, utcnow())
    names = [q.queue.name for q in found.queues]
    if queue is not None and queue not in names:
        raise ValidationFailed(f"unknown queue {queue!r}: one of {', '.join(names)}")
    items = [
        StartWindowRead(**body)
        for q in found.queues
        if queue is None or q.queue.name == queue
        for body in [
            *(views.window_body(w, q, cfg, found) for w in q.windows),
            *(views.held_body(h, q, found) for h in q.held),
        ]
    ]
    log_read(request, db, actor, [i.case_id for i in items])
    out = StartWindowsRead(
        as_at=found.as_at.isoformat(),
        method=views.METHOD,
        queue=queue,
        count=len(items),
        items=items,
    )
    return grant.reduce(out)


def _clearance(request: Request, organisation: str, db: Session) -> dict[str, Any]:
    cfg = forecast_config(request)
    found = estimates_for(request, db, organisation, utcnow())
    if found.clearance is None:
        raise ValidationFailed("no CHC workflow is loaded: no backlog to forecast")
    return views.clearance_body(found.clearance, cfg)


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
