"""`/chc/panels`: the agenda of the next CHC panel (or of any panel date), with each case's RAG
and DST indicative result, and the next panel dates with how many cases each has. The API's
own reads (`GET /panels`, `GET /panels/{date}`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api_shared import log_read
from app.chc import panels
from app.deps import SessionDep
from app.errors import DomainError
from app.timeutil import london_date, utcnow
from app.web.access import PageUser, page_needs
from app.web.chc_common import HELPERS, chc_nav, config_of
from app.web.templating import render

router = APIRouter(include_in_schema=False)
PanelReader = Annotated[PageUser, page_needs("chc.panels")]
UPCOMING = 6


@router.get("/chc/panels")
def panels_page(
    request: Request,
    user: PanelReader,
    db: SessionDep,
    day: Annotated[str, Query(alias="date", max_length=40)] = "",
) -> Response:
    actor, cfg = user.actor, config_of(request)
    upcoming = panels.upcoming_panels(
        db, cfg=cfg, actor=actor, start=london_date(utcnow()), count=UPCOMING
    )
    errors: list[dict[str, str]] = []
    nearest: list[str] = []
    agenda, status = None, 200
    try:
        chosen = date.fromisoformat(day) if day else upcoming.panels[0].date
    except ValueError:
        chosen, status = None, 422
        errors.append({"text": "Enter a date such as 2026-03-05", "href": "#date"})
    if chosen is not None:
        try:
            agenda = panels.panel_agenda(db, cfg=cfg, actor=actor, day=chosen)
        except DomainError as exc:
            db.rollback()
            status = exc.status_code
            errors.append({"text": exc.detail, "href": "#date"})
            nearest = [
                str(exc.extra[k]) for k in ("previous_panel", "next_panel") if k in exc.extra
            ]
    if agenda is not None:
        log_read(request, db, actor, [a.case_id for a in agenda.agenda])
        if user.grant is not None:
            agenda = user.grant.reduce(agenda)
    done_case = request.query_params.get("case", "")
    return render(
        request,
        "chc_panels.html",
        actor=actor,
        page_title="CHC panel agenda",
        upcoming=upcoming,
        agenda=agenda,
        day=day,
        errors=errors,
        nearest=nearest,
        done=request.query_params.get("done"),
        done_case=int(done_case) if done_case.isdigit() and len(done_case) < 19 else None,
        chc_nav=chc_nav(request, actor),
        status_code=status,
        **HELPERS,
    )
