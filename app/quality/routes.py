"""GET /data-quality, /data-quality/series and /data-quality/patients (JSON and CSV).

Figures need `quality.read`; the patients behind them need `quality.patients` (identifiers as
its level allows) and are recorded in the access audit, as every patient list is. Everything is
scoped to the cases the caller's organisation owns or shares.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api_shared import log_read
from app.auth.access import Grant
from app.auth.needs import needs
from app.deps import CurrentActor, SessionDep
from app.quality import exports, service
from app.quality.config import Problem, QualityConfig
from app.quality.schemas import QualityDay, QualityPatients, QualitySeries
from app.timeutil import london_date, utcnow

router = APIRouter(prefix="/data-quality", tags=["data quality"])
Site = Annotated[str | None, Query(max_length=64, description="One site; all sites if omitted")]
Ward = Annotated[
    str | None,
    Query(max_length=64, description="One ward (the ward at the time, app.discharge.wards)"),
]
Day = Annotated[date | None, Query(alias="date", description="London date; today if omitted")]
First = Annotated[date, Query(alias="from", description="First London date")]
Last = Annotated[date, Query(alias="to", description="Last London date")]
Measure = Annotated[
    Problem | None, Query(description="One measure's patients; every problem if omitted")
]
CSV_ANSWER: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"content": {"text/csv": {}}}, 422: {"description": "Bad filter"}},
}


def _cfg(request: Request) -> QualityConfig:
    cfg: QualityConfig = request.app.state.quality_config
    return cfg


@router.get("", response_model=QualityDay, dependencies=[needs("quality.read")])
def day_figures(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    day: Day = None,
    site: Site = None,
    ward: Ward = None,
) -> QualityDay:
    """A day's data-quality measures of the discharge-ready date, per ward and in total, as
    recorded by the end of the day (README "Data quality of discharge-ready dates")."""
    return _day(request, actor.organisation, db, day, site, ward)


@router.get("/series", response_model=QualitySeries, dependencies=[needs("quality.read")])
def series(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    first: First,
    last: Last,
    site: Site = None,
    ward: Ward = None,
) -> QualitySeries:
    """The measures (in total, or of one ward) for each day from `from` to `to`."""
    return _series(request, actor.organisation, db, first, last, site, ward)


@router.get("/patients", response_model=QualityPatients)
def patients(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("quality.patients")],
    measure: Measure = None,
    day: Day = None,
    site: Site = None,
    ward: Ward = None,
) -> QualityPatients:
    """The patients to fix on a day: each problem found, with what is wrong and the case page."""
    return _patients(request, actor, db, grant, measure, day, site, ward)


@router.get(".csv", **CSV_ANSWER, dependencies=[needs("quality.read")])
def day_csv(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    day: Day = None,
    site: Site = None,
    ward: Ward = None,
) -> Response:
    """The day's measures as CSV: one row per ward, then the total."""
    figures = _day(request, actor.organisation, db, day, site, ward)
    return _csv(exports.day_csv(figures), f"data-quality-{figures.date}.csv")


@router.get("/series.csv", **CSV_ANSWER, dependencies=[needs("quality.read")])
def series_csv(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    first: First,
    last: Last,
    site: Site = None,
    ward: Ward = None,
) -> Response:
    """The trend as CSV: one row per day."""
    found = _series(request, actor.organisation, db, first, last, site, ward)
    return _csv(exports.series_csv(found), f"data-quality-{first}-{last}.csv")


@router.get("/patients.csv", **CSV_ANSWER)
def patients_csv(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("quality.patients")],
    measure: Measure = None,
    day: Day = None,
    site: Site = None,
    ward: Ward = None,
) -> Response:
    """The patients to fix as CSV (NHS numbers empty unless the grant allows them)."""
    found = _patients(request, actor, db, grant, measure, day, site, ward)
    return _csv(exports.patients_csv(found), f"data-quality-patients-{found.date}.csv")


def _day(
    request: Request,
    organisation: str,
    db: SessionDep,
    day: date | None,
    site: str | None,
    ward: str | None,
) -> QualityDay:
    now = utcnow()
    return service.day_figures(
        db,
        day=day or london_date(now),
        site=site,
        ward=ward,
        organisation=organisation,
        now=now,
        cfg=_cfg(request),
    )


def _series(
    request: Request,
    organisation: str,
    db: SessionDep,
    first: date,
    last: date,
    site: str | None,
    ward: str | None,
) -> QualitySeries:
    return service.series(
        db,
        first=first,
        last=last,
        site=site,
        ward=ward,
        organisation=organisation,
        now=utcnow(),
        cfg=_cfg(request),
    )


def _patients(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Grant,
    measure: Problem | None,
    day: date | None,
    site: str | None,
    ward: str | None,
) -> QualityPatients:
    now = utcnow()
    found = service.patients(
        db,
        day=day or london_date(now),
        measure=measure,
        site=site,
        ward=ward,
        organisation=actor.organisation,
        now=now,
        cfg=_cfg(request),
    )
    log_read(request, db, actor, service.case_ids(found.items))
    return grant.reduce(found)


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
