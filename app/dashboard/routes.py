"""GET /dashboard/metrics, /dashboard/series and /dashboard/feed."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.api_shared import log_read
from app.auth.access import Grant
from app.auth.actor import Actor
from app.auth.needs import needs
from app.chc.config import chc_config
from app.chc.metrics import chc_metrics
from app.chc.quarterly import Quarter
from app.dashboard import drd_return, exports, service, spell_extract
from app.dashboard.context import MetricsContext
from app.dashboard.feed import Feed, read_feed
from app.dashboard.snapshots import Figures
from app.dashboard.spell_extract import SpellExtract
from app.deps import CurrentActor, EngineDep, SessionDep, SettingsDep
from app.timeutil import london_date, utcnow

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
Site = Annotated[str | None, Query(max_length=64, description="One site; all sites if omitted")]
Ward = Annotated[
    str | None,
    Query(
        max_length=64,
        description="One ward, as on the RFD list: the patients on it at the time of the "
        "figures (a discharged patient on the ward they left from); all wards if omitted",
    ),
]
FiguresChoice = Annotated[
    Figures,
    Query(
        description="For a finished day that entries recorded later have changed: the figures "
        "as first stored and reported (as_reported, the default) or as restated since; a "
        "restated day carries both, with the differences, under `restatement`"
    ),
]
Month = Annotated[
    str, Query(pattern=r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM, e.g. 2026-11")
]


# What a CSV export route answers, for the OpenAPI description.
CSV_ANSWER: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"content": {"text/csv": {}}}},
}


def _ctx(request: Request) -> MetricsContext:
    ctx: MetricsContext = request.app.state.metrics_ctx
    return ctx


@router.get("/metrics", dependencies=[needs("dashboard.metrics")])
def metrics(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    site: Site = None,
    ward: Ward = None,
    figures: FiguresChoice = "as_reported",
    day: Annotated[
        date | None, Query(alias="date", description="London date; today if omitted")
    ] = None,
    at: Annotated[
        time | None,
        Query(
            description="London time of day (HH:MM), e.g. 08:00 for the morning huddle: the "
            "position at that instant instead of the end of the day (or now)"
        ),
    ] = None,
) -> dict[str, Any]:
    """The day's figures as at its snapshot time (the end of the day, or now for today), or at
    the London time `at`; `snapshot_at_london` gives the instant in London time with its offset.

    Figures cover the cases the caller's organisation owns or shares, at every site (or the
    one asked for); CHC figures are computed at the time of the request.
    """
    now = utcnow()
    day = day or london_date(now)
    live = request.app.state.live
    out = service.metrics_for(
        db,
        day=day,
        site=site,
        ward=ward,
        organisation=actor.organisation,
        now=now,
        ctx=_ctx(request),
        live=live,
        at=at,
        figures=figures,
    )
    cfg = chc_config(settings.pathways_dir / "config")
    out["chc"] = chc_metrics(db, engine=engine, cfg=cfg, actor=actor, day=day, now=now, live=live)
    return out


@router.get("/series", dependencies=[needs("dashboard.metrics")])
def series(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
    site: Site = None,
    ward: Ward = None,
    figures: FiguresChoice = "as_reported",
) -> dict[str, Any]:
    """Headline discharge figures for each day of a range (stored snapshots for past days)."""
    items = service.series(
        db,
        first=first,
        last=last,
        site=site,
        ward=ward,
        organisation=actor.organisation,
        now=utcnow(),
        ctx=_ctx(request),
        live=request.app.state.live,
        figures=figures,
    )
    return {"site": site, "ward": ward, "figures": figures, "items": items}


@router.get("/feed", response_model=Feed)
def feed(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    grant: Annotated[Grant, needs("dashboard.feed")],
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    workflow: Annotated[str | None, Query(max_length=64)] = None,
) -> Feed:
    """Events since `cursor` (new and changed RFD entries among them), oldest first."""
    page = read_feed(
        db,
        catalogue=engine.catalogue,
        cursor=cursor,
        limit=min(limit, settings.max_page_size),
        workflow=workflow,
        organisation=actor.organisation,
    )
    log_read(request, db, actor, [item.case_id for item in page.items])
    return grant.reduce(page)


@router.get(
    "/exports/acute-discharge-daily.csv",
    **CSV_ANSWER,
    dependencies=[needs("dashboard.exports")],
)
def acute_discharge_daily(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
    site: Site = None,
    ward: Ward = None,
    figures: FiguresChoice = "as_reported",
) -> Response:
    """The daily acute discharge return, one row per site and day (at most 93 days)."""
    rows = exports.acute_daily_rows(
        db,
        first=first,
        last=last,
        site=site,
        ward=ward,
        organisation=actor.organisation,
        now=utcnow(),
        ctx=_ctx(request),
        figures=figures,
    )
    return _csv(
        exports.to_csv(exports.ACUTE_COLUMNS, rows),
        _export_name("acute-discharge-daily", first, last, ward, figures),
    )


@router.get(
    "/exports/acute-discharge-weekly.csv",
    **CSV_ANSWER,
    dependencies=[needs("dashboard.exports")],
)
def acute_discharge_weekly(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
    site: Site = None,
    ward: Ward = None,
    figures: FiguresChoice = "as_reported",
) -> Response:
    """The weekly snapshot (each Sunday from `from` to `to` that is over, at most 27 weeks):
    additional bed days of NCTR patients with LOS 7/14/21+ and their delay reasons (LOS 7+),
    in the published long format."""
    rows = exports.acute_weekly_rows(
        db,
        first=first,
        last=last,
        site=site,
        ward=ward,
        organisation=actor.organisation,
        now=utcnow(),
        ctx=_ctx(request),
        figures=figures,
    )
    return _csv(
        exports.to_csv(exports.WEEKLY_COLUMNS, rows),
        _export_name("acute-discharge-weekly", first, last, ward, figures),
    )


@router.get("/exports/drd-monthly.json", dependencies=[needs("dashboard.exports")])
def drd_monthly_json(
    request: Request, actor: CurrentActor, db: SessionDep, month: Month, ward: Ward = None
) -> dict[str, Any]:
    """The monthly Discharge Ready Date return for your organisation, with the published time
    series' column names (`row`), and local counts of discharges outside the DRD cohort."""
    return _drd_month(request, actor, db, month, ward)


@router.get(
    "/exports/drd-monthly.csv",
    **CSV_ANSWER,
    dependencies=[needs("dashboard.exports")],
)
def drd_monthly_csv(
    request: Request, actor: CurrentActor, db: SessionDep, month: Month, ward: Ward = None
) -> Response:
    """The monthly Discharge Ready Date return as CSV: one row, the published column names."""
    row = _drd_month(request, actor, db, month, ward)["row"]
    return _csv(exports.to_csv(list(row), [list(row.values())]), f"drd-monthly-{month}.csv")


@router.get("/exports/spells.json", response_model=SpellExtract)
def spells_json(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("rfd.read")],
    day: Annotated[date, Query(alias="date", description="London date")],
    site: Site = None,
    ward: Ward = None,
) -> SpellExtract:
    """Patient-level extract: one row per hospital spell in hospital at any time of the day."""
    return _spells(request, actor, db, grant, day, site, ward)


@router.get(
    "/exports/spells.csv",
    **CSV_ANSWER,
)
def spells_csv(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("rfd.read")],
    day: Annotated[date, Query(alias="date", description="London date")],
    site: Site = None,
    ward: Ward = None,
) -> Response:
    """The patient-level extract as CSV (delay periods in one cell)."""
    extract = _spells(request, actor, db, grant, day, site, ward)
    return _csv(spell_extract.to_csv(extract), f"spells-{day}.csv")


def _drd_month(
    request: Request, actor: Actor, db: Session, month: str, ward: str | None
) -> dict[str, Any]:
    return drd_return.monthly_return(
        db,
        month=drd_return.Month.parse(month),
        ward=ward,
        organisation=actor.organisation,
        now=utcnow(),
        ctx=_ctx(request),
    )


def _spells(
    request: Request,
    actor: Actor,
    db: Session,
    grant: Grant,
    day: date,
    site: str | None,
    ward: str | None,
) -> SpellExtract:
    extract = spell_extract.spell_extract(
        db,
        day=day,
        site=site,
        ward=ward,
        organisation=actor.organisation,
        now=utcnow(),
        ctx=_ctx(request),
    )
    log_read(request, db, actor, [row.case_id for row in extract.items])
    return grant.reduce(extract)


@router.get(
    "/exports/chc-quarterly.csv",
    **CSV_ANSWER,
    dependencies=[needs("chc.report")],
)
def chc_quarterly_collection(
    actor: CurrentActor,
    db: SessionDep,
    settings: SettingsDep,
    fy: Annotated[int, Query(ge=2017, le=2100, description="Financial year start, 2026 = 2026/27")],
    q: Annotated[int, Query(ge=1, le=4, description="Quarter: 1 = April to June")],
) -> Response:
    """The quarterly CHC and FNC collection for your organisation."""
    quarter = Quarter(fy, q)
    row = exports.chc_quarterly(
        db,
        actor=actor,
        quarter=quarter,
        now=utcnow(),
        cfg=chc_config(settings.pathways_dir / "config"),
    )
    return _csv(exports.to_csv(list(row), [list(row.values())]), f"chc-quarterly-{fy}-q{q}.csv")


def _export_name(kind: str, first: date, last: date, ward: str | None, figures: str) -> str:
    """The file name says what the export gives: the ward (if one) and restated figures."""
    parts = [kind, str(first), str(last)]
    if ward:
        parts.append("ward-" + "".join(c if c.isalnum() else "-" for c in ward))
    if figures == "restated":
        parts.append("restated")
    return "-".join(parts) + ".csv"


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
