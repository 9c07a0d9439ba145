"""The manager's screen at /dashboard/forecast: the queues with their pace and the backtest's
error beside each, the CHC backlog clearance forecast with its fan, and each waiting patient's
start window with its basis. The same figures as /api/v1/forecast."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api_shared import log_read
from app.deps import SessionDep
from app.forecast import views
from app.forecast.wiring import backtest_for, estimates_for, forecast_config
from app.timeutil import LONDON, utcnow
from app.web.access import PageUser, page_needs
from app.web.templating import render

router = APIRouter(prefix="/dashboard/forecast", include_in_schema=False)


@router.get("")
def forecast_page(
    request: Request,
    user: Annotated[PageUser, page_needs("forecast.read")],
    db: SessionDep,
) -> Response:
    actor = user.actor
    cfg = forecast_config(request)
    now = utcnow()
    found = estimates_for(request, db, actor.organisation, now)
    tested = views.backtest_body(backtest_for(request, db, actor.organisation, now), cfg)
    scores = {s["queue"]: s for s in tested["queues"]}
    access = request.app.state.access
    patients = access.grant("forecast.patients", actor.roles)
    waiting: list[dict[str, Any]] = []
    if patients is not None:
        for q in found.queues:
            rows = [views.window_body(w, q, cfg, found) for w in q.windows]
            rows += [views.held_body(h, q, found) for h in q.held]
            if not patients.identifiers:
                rows = [{**r, "patient_ref": None} for r in rows]
            waiting.append({"summary": views.queue_summary(q), "rows": rows})
        log_read(request, db, actor, [r["case_id"] for q in waiting for r in q["rows"]])
    at = now.astimezone(LONDON)
    tested_at = datetime.fromisoformat(tested["now"]).astimezone(LONDON)
    return render(
        request,
        "forecast.html",
        actor=actor,
        page_title="Start windows and forecasts",
        as_at=f"{at:%d %b %Y %H:%M} {at.tzname()}",
        backtest_at=f"{tested_at:%d %b %Y %H:%M} {tested_at.tzname()}",
        method=views.METHOD,
        interval=round(cfg.interval * 100),
        queues=[views.queue_summary(q) for q in found.queues],
        scores=scores,
        backtest=tested,
        clearance=views.clearance_body(found.clearance, cfg) if found.clearance else None,
        waiting=waiting,
        patients_shown=patients is not None,
        identifiers=patients is not None and patients.identifiers,
        case_links=access.grant("cases.read", actor.roles) is not None,
    )
