"""The managers' data-quality page at /dashboard/quality: server-rendered, no script.

The per-ward measures of a day, the trend of the last days (a table and a chart), and the
patients to fix with a link to each case page. Figures need `quality.read`; the patients are
listed only with `quality.patients` (NHS numbers as its level allows, and recorded in the
access audit), and link to their case pages only with `cases.read`.
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.api_shared import log_read
from app.auth.access import AccessPolicy
from app.dashboard import service as dashboard
from app.dashboard.charts import line_chart
from app.deps import SessionDep
from app.errors import DomainError
from app.quality import service
from app.quality.config import PROBLEMS, Problem, QualityConfig
from app.timeutil import london_date, utcnow
from app.web.access import PageUser, page_needs

router = APIRouter(prefix="/dashboard", include_in_schema=False)
TREND_DAYS = 14
PATIENT_ROWS = 200
PAGE_HEADERS = {"Referrer-Policy": "same-origin"}
LABELS: dict[str, str] = {
    "no_status": "No criteria-to-reside status",
    "backdated": "Backdated entry",
    "flip_flop": "Status flip-flop",
    "delayed_no_reason": "Delayed, no delay reason",
    "reason_while_meeting": "Delay reason while meeting the criteria",
}
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=PAGE_HEADERS)


@router.get("/quality", response_class=HTMLResponse)
def quality_page(
    request: Request,
    user: Annotated[PageUser, page_needs("quality.read")],
    db: SessionDep,
    site: Annotated[str | None, Query(max_length=64)] = None,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    day: Annotated[date | None, Query(alias="date")] = None,
    measure: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    actor = user.actor
    access: AccessPolicy = request.app.state.access
    cfg: QualityConfig = request.app.state.quality_config
    now = utcnow()
    today = london_date(now)
    day = min(day or today, today)
    site, ward = site or None, ward or None
    if measure and measure not in PROBLEMS:
        return _html(f"<p>No measure {escape(measure)!r}.</p>", status_code=422)
    chosen: Problem | None = next((m for m in PROBLEMS if m == measure), None)
    org = actor.organisation
    try:
        figures = service.day_figures(
            db, day=day, site=site, ward=ward, organisation=org, now=now, cfg=cfg
        )
        first = day - timedelta(days=TREND_DAYS - 1)
        trend = service.series(
            db, first=first, last=day, site=site, ward=ward, organisation=org, now=now, cfg=cfg
        )
    except DomainError as exc:
        return _html(f"<p>{escape(exc.detail)}</p>", status_code=exc.status_code)
    patients_grant = access.grant("quality.patients", actor.roles)
    patients = None
    total_found = 0
    if patients_grant is not None:
        found = service.patients(
            db,
            day=day,
            measure=chosen,
            site=site,
            ward=ward,
            organisation=org,
            now=now,
            cfg=cfg,
        )
        shown = found.items[:PATIENT_ROWS]
        log_read(request, db, actor, service.case_ids(shown))
        patients = patients_grant.reduce(found).items[:PATIENT_ROWS]
        total_found = found.count
    filters = {k: v for k, v in (("site", site), ("ward", ward)) if v}
    page = templates.get_template("quality.html").render(
        username=actor.username,
        day=day.isoformat(),
        today=today.isoformat(),
        site=site,
        sites=dashboard.sites(db, org),
        ward=ward,
        wards=dashboard.wards(db, org),
        measure=chosen,
        measures=[(m, LABELS[m]) for m in PROBLEMS],
        labels=LABELS,
        query=urlencode({"date": day.isoformat(), **filters}),
        trend_query=urlencode({"from": first.isoformat(), "to": day.isoformat(), **filters}),
        figures=figures,
        trend=trend.items,
        chart=line_chart(
            "Share of census patients with no data-quality problem, each day (%)",
            [(i.date.isoformat(), i.score_percent) for i in trend.items],
            unit="%",
            chart_id="chart-quality-score",
        ),
        cfg=cfg,
        patients=patients,
        patients_count=total_found,
        patient_rows=PATIENT_ROWS,
        identifiers=patients_grant is not None and patients_grant.identifiers,
        case_links=access.grant("cases.read", actor.roles) is not None,
    )
    return _html(page)


def ward_query(query: str, ward: str | None, measure: str) -> str:
    """The page's address for one ward's patients of one measure (for the table's links)."""
    params = dict(parse_qsl(query))
    params["measure"] = measure
    if ward:
        params["ward"] = ward
    return urlencode(params)


templates.globals["ward_query"] = ward_query
