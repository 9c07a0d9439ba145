"""The manager's what-if screen at /dashboard/whatif: the form that queues a run (capacity
changes, horizon, runs, seed), the organisation's runs, and a run's result: baseline and
scenario side by side with the spread over the runs (10th percentile, median, 90th) week by
week, the inputs it was based on and the seed. A run not finished yet refreshes itself (a
`<meta http-equiv="refresh">`, no script) and says so in a status region. The same figures as
/api/v1/whatif."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.deps import IdPath, SessionDep
from app.errors import NotFound
from app.timeutil import utcnow
from app.web.access import PageForbidden, PageUser, page_needs
from app.web.templating import render
from app.whatif import service
from app.whatif.exports import figures
from app.whatif.model import PATHWAYS
from app.whatif.routes import RUN_ROLES
from app.whatif.schemas import WhatIfRequest
from app.whatif.wiring import wake, whatif_config

router = APIRouter(prefix="/dashboard/whatif", include_in_schema=False)
Reader = Annotated[PageUser, page_needs("whatif.read")]
REFRESH_SECONDS = 3
FIELDS = (
    ("p1_starts_per_day", "More P1 (home care) starts a day", "0.1"),
    ("community_beds", "More P2 community beds", "1"),
    ("p2_length_of_stay_days", "Longer P2 stay (days; negative: shorter)", "0.1"),
    ("p3_starts_per_day", "More P3 placements a day", "0.1"),
    ("chc_assessors", "More CHC assessors", "0.1"),
    ("arrivals_percent", "Change in demand (% of arrivals)", "1"),
)
OPTIONS = (
    ("weeks", "Horizon (weeks)", "1"),
    ("runs", "Runs", "1"),
    ("seed", "Seed (empty: chosen at random, and shown)", "1"),
    ("scale_to_beds", "Scale to a system of this many acute beds (empty: as observed)", "1"),
)
Num = Annotated[str, Form(max_length=20)]


@router.get("")
def whatif_page(request: Request, user: Reader, db: SessionDep) -> Response:
    return _home(request, user, db)


@router.post("")
def whatif_form(
    request: Request,
    user: Reader,
    db: SessionDep,
    p1_starts_per_day: Num = "",
    community_beds: Num = "",
    p2_length_of_stay_days: Num = "",
    p3_starts_per_day: Num = "",
    chc_assessors: Num = "",
    arrivals_percent: Num = "",
    weeks: Num = "",
    runs: Num = "",
    seed: Num = "",
    scale_to_beds: Num = "",
) -> Response:
    actor = user.actor
    if actor.role_for(RUN_ROLES) is None:
        raise PageForbidden("running a what-if")
    typed = {
        "p1_starts_per_day": p1_starts_per_day,
        "community_beds": community_beds,
        "p2_length_of_stay_days": p2_length_of_stay_days,
        "p3_starts_per_day": p3_starts_per_day,
        "chc_assessors": chc_assessors,
        "arrivals_percent": arrivals_percent,
        "weeks": weeks,
        "runs": runs,
        "seed": seed,
        "scale_to_beds": scale_to_beds,
    }
    try:
        body = WhatIfRequest.model_validate(
            {k: v.strip() for k, v in typed.items() if v.strip()}, strict=False
        )
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _home(request, user, db, problems=problems, typed=typed, status_code=422)
    run = service.request_run(
        db, actor=actor, body=body, config=whatif_config(request), now=utcnow()
    )
    wake(request)
    return RedirectResponse(f"/dashboard/whatif/{run.id}", status_code=303)


@router.get("/{run_id}")
def whatif_run_page(request: Request, user: Reader, db: SessionDep, run_id: IdPath) -> Response:
    run = service.one(db, run_id, user.actor.organisation)
    if run is None:
        raise NotFound(f"what-if run {run_id} not found")
    body = service.detail(run)
    pending = run.status in ("queued", "running")
    return render(
        request,
        "whatif_run.html",
        actor=user.actor,
        page_title=f"What-if run {run.id}",
        run=body,
        pending=pending,
        refresh=REFRESH_SECONDS if pending else None,
        weekly=(body["result"] or {}).get("weekly", []),
        totals=_totals(body["result"]),
        pathways=PATHWAYS,
        changes=[(label, body["scenario"].get(name)) for name, label, _ in FIELDS],
    )


def _home(
    request: Request,
    user: PageUser,
    db: SessionDep,
    *,
    problems: list[str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    actor = user.actor
    config = whatif_config(request)
    return render(
        request,
        "whatif.html",
        actor=actor,
        status_code=status_code,
        page_title="What-if simulation",
        runs=[service.summary(r) for r in service.listed(db, actor.organisation)],
        may_run=actor.role_for(RUN_ROLES) is not None,
        fields=FIELDS,
        options=OPTIONS,
        typed=typed or {},
        defaults={
            "weeks": config.horizon_weeks,
            "runs": config.runs,
            "look_back_weeks": config.look_back_weeks,
        },
        problems=problems or [],
    )


def _totals(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The whole-horizon figures as rows for the page."""
    if not result:
        return []
    names = {
        "delayed_bed_days": "Delayed bed days",
        "cost_gbp": "Cost (GBP)",
        "mean_wait_days": "Mean wait (days)",
        "p90_wait_days": "90th percentile wait (days)",
        "still_waiting": "Still waiting at the end",
        "chc_backlog": "CHC backlog at the end",
        "chc_mean_wait_days": "CHC mean wait (days)",
    }
    return [
        {"label": names[name] + (f", {pathway}" if pathway else ""), "figure": figure}
        for name, pathway, week, figure in figures(result)
        if week in ("all", "end")
    ]
