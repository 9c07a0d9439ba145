"""The managers' dashboard page at /dashboard: server-rendered, no external assets.

The page shares the service's one sign-in (`/`, app/web/signin.py): a server-side session
whose id is in an HttpOnly, SameSite=Strict cookie. Cross-site posts are refused before they
get here (app/security/origin.py); the pages say `Referrer-Policy: same-origin` so that the
browser's own posts carry their real Origin.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.api_shared import log_read
from app.auth.access import AccessPolicy
from app.auth.actor import Actor
from app.chc.config import chc_config
from app.chc.metrics import chc_metrics
from app.dashboard import service
from app.dashboard.charts import bar_chart, line_chart
from app.dashboard.context import MetricsContext
from app.dashboard.diagram_svg import mermaid_to_svg
from app.deps import EngineDep, SessionDep
from app.discharge import service as discharge_service
from app.engine.diagrams import mermaid
from app.errors import DomainError
from app.timeutil import LONDON, london_date, utcnow
from app.web.access import PageUser, page_needs

router = APIRouter(prefix="/dashboard", include_in_schema=False)
TREND_DAYS = 14
RFD_ROWS = 50
# The forms on these pages post to this site; under the service-wide `no-referrer` a browser
# sends `Origin: null` with them, which the cross-site guard cannot tell from an attack.
PAGE_HEADERS = {"Referrer-Policy": "same-origin"}
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status_code, headers=PAGE_HEADERS)


@router.get("/login")
def old_sign_in_address() -> Response:
    """Bookmarks of the old dashboard-only sign-in go to the service's one sign-in."""
    return RedirectResponse("/?next=/dashboard", status_code=303)


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request,
    user: Annotated[PageUser, page_needs("dashboard.metrics")],
    db: SessionDep,
    engine: EngineDep,
    site: Annotated[str | None, Query(max_length=64)] = None,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    day: Annotated[date | None, Query(alias="date")] = None,
) -> Response:
    actor = user.actor
    # The page is the dashboard's figures, and the RFD table only for those who read the list.
    access: AccessPolicy = request.app.state.access
    rfd_grant = access.grant("rfd.read", actor.roles)
    now = utcnow()
    today = london_date(now)
    day = min(day or today, today)
    site, ward = site or None, ward or None
    ctx: MetricsContext = request.app.state.metrics_ctx
    live = request.app.state.live
    try:
        metrics = service.metrics_for(
            db,
            day=day,
            site=site,
            ward=ward,
            organisation=actor.organisation,
            now=now,
            ctx=ctx,
            live=live,
        )
    except DomainError as exc:
        return _html(f"<p>{escape(exc.detail)}</p>", status_code=exc.status_code)
    trend = [
        service.metrics_for(
            db,
            day=day - timedelta(days=n),
            site=site,
            ward=ward,
            organisation=actor.organisation,
            now=now,
            ctx=ctx,
            live=live,
        )["discharge"]
        for n in range(TREND_DAYS - 1, -1, -1)
    ]
    labels = [(day - timedelta(days=n)).isoformat() for n in range(TREND_DAYS - 1, -1, -1)]
    rfd = None
    if rfd_grant is not None:
        rfd = discharge_service.rfd_list(
            db,
            catalogue=engine.catalogue,
            codes=ctx.codes,
            config=ctx.discharge,
            flt=discharge_service.RfdFilter(site=site, ward=ward),
            sort="-days_since_drd",
            now=now,
            organisation=actor.organisation,
        )
        log_read(request, db, actor, [row.case_id for row in rfd.items[:RFD_ROWS]])
        rfd = rfd_grant.reduce(rfd)
    d = metrics["discharge"]
    page = templates.get_template("dashboard.html").render(
        username=actor.username,
        day=day.isoformat(),
        today=today.isoformat(),
        site=site,
        sites=service.sites(db, actor.organisation),
        ward=ward,
        wards=service.wards(db, actor.organisation),
        # The same filters for the API links (site and ward names may hold "&").
        query=urlencode({k: v for k, v in (("site", site), ("ward", ward)) if v}),
        restatement=metrics.get("restatement"),
        snapshot_label=london_label(metrics["snapshot_at"]),
        final=metrics["final"],
        d=d,
        trend_days=TREND_DAYS,
        rfd=rfd.model_dump() if rfd is not None else None,
        rfd_rows=RFD_ROWS,
        # Each waiting patient links to their case page for those who may open it.
        case_links=access.grant("cases.read", actor.roles) is not None,
        ledger_link=access.grant("ledger.read", actor.roles) is not None,
        forecast_link=access.grant("forecast.read", actor.roles) is not None,
        whatif_link=access.grant("whatif.read", actor.roles) is not None,
        charts=_charts(d, trend, labels),
        extra_panels=_panels(metrics, _chc(request, db, engine, actor, day, now)),
        diagrams=_diagrams(engine),
    )
    return _html(page)


def london_label(instant: str) -> str:
    """An ISO instant as the ward reads it: London time, with the zone and its offset."""
    at = datetime.fromisoformat(instant).astimezone(LONDON)
    return f"{at:%Y-%m-%d %H:%M} {at.tzname()} (UTC{at:%z})"


def _charts(d: dict[str, Any], trend: list[dict[str, Any]], labels: list[str]) -> dict[str, str]:
    shares = d["discharges_by_pathway"]
    window = {
        p: sum(t["discharges_by_pathway"][p]["count"] for t in trend)
        for p in ("P0", "P1", "P2", "P3")
    }
    total = sum(window.values())
    return {
        "nctr_trend": line_chart(
            "Patients not meeting the criteria to reside at the end of each day",
            list(zip(labels, [t["nctr_remaining"] for t in trend], strict=True)),
            unit="patients",
            chart_id="chart-nctr-trend",
        ),
        "delay_days_trend": line_chart(
            "Delay days of patients still waiting, each day",
            list(zip(labels, [t["remaining_delayed_bed_days"] for t in trend], strict=True)),
            unit="days",
            chart_id="chart-delay-days",
        ),
        "pathway_mix": bar_chart(
            f"Discharges by pathway over {len(trend)} days (%), {total} discharges",
            [
                (
                    p,
                    round(100 * window[p] / total, 1) if total else 0.0,
                    shares[p]["expected_percent"],
                )
                for p in ("P0", "P1", "P2", "P3")
            ],
            unit="%",
            chart_id="chart-pathway-mix",
        ),
        "reasons": bar_chart(
            "Patients waiting by primary delay reason",
            [(r["label"] or r["code"], r["patients"], None) for r in d["by_primary_reason"]],
            unit="patients",
            chart_id="chart-reasons",
        ),
        "buckets": bar_chart(
            "Patients waiting by days since ready",
            [(f"{k} days", v, None) for k, v in d["remaining_delay_buckets"].items()],
            unit="patients",
            chart_id="chart-buckets",
        ),
    }


def _chc(
    request: Request, db: SessionDep, engine: EngineDep, actor: Actor, day: date, now: datetime
) -> dict[str, Any]:
    cfg = chc_config(request.app.state.settings.pathways_dir / "config")
    live = request.app.state.live
    return chc_metrics(db, engine=engine, cfg=cfg, actor=actor, day=day, now=now, live=live)


def _panels(metrics: dict[str, Any], chc: dict[str, Any]) -> list[dict[str, Any]]:
    """CHC backlog (the caller's organisation) and intermediate-care occupancy."""
    panels: list[dict[str, Any]] = []
    if chc.get("available"):
        rag: dict[str, int] = {"red": 0, "amber": 0, "green": 0}
        for by_colour in chc["backlog_by_rag_and_cohort"].values():
            for colour, count in by_colour.items():
                rag[colour] = rag.get(colour, 0) + count
        panels.append(
            {
                "id": "chc-rag",
                "title": "CHC backlog by RAG rating",
                "svg": bar_chart(
                    "CHC working list by RAG rating",
                    [(k.title(), v, None) for k, v in rag.items()],
                    unit="cases",
                    chart_id="chart-chc-rag",
                ),
                "note": f"{chc['organisation']}: "
                f"{chc['incomplete_over_28_days']} referrals over 28 days.",
            }
        )
        panels.append(
            {
                "id": "chc-age",
                "title": "CHC referrals over 28 days, by how far over",
                "svg": bar_chart(
                    "Incomplete CHC referrals over 28 days",
                    [
                        (b["label"], b["count"], None)
                        for b in chc["incomplete_over_28_days_by_band"]
                    ],
                    unit="referrals",
                    chart_id="chart-chc-age",
                ),
                "note": None,
            }
        )
    # A ward's figures have no intermediate care (no hospital ward): the panel is empty.
    occupancy = (metrics.get("intermediate_care") or {}).get("occupancy", [])
    panels.append(
        {
            "id": "ic-occupancy",
            "title": "Intermediate care occupancy",
            "svg": bar_chart(
                "Intermediate care places in use (dashed: capacity)",
                [(o["name"], o["occupied"], o["capacity"]) for o in occupancy],
                unit="places",
                chart_id="chart-ic-occupancy",
            ),
            "note": None,
        }
    )
    return panels


def _diagrams(engine: EngineDep) -> list[dict[str, Any]]:
    out = []
    for key in engine.catalogue.keys():
        loaded = engine.catalogue.latest(key)
        if loaded is not None:
            out.append(
                {
                    "title": loaded.spec.title,
                    "version": loaded.spec.version,
                    "svg": mermaid_to_svg(mermaid(loaded.spec), diagram_id=f"diagram-{key}"),
                }
            )
    return out
