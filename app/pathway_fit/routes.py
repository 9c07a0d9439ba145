"""GET /pathway-fit (figures by discharge pathway) and GET /pathway-fit/patients (the
discharges behind them), JSON or CSV. Thin: the service derives, the grant reduces."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api_shared import log_read
from app.auth.access import Grant
from app.auth.needs import needs
from app.cases.schemas import CODE_PATTERN
from app.deps import CurrentActor, SessionDep
from app.pathway_fit import service
from app.pathway_fit.config import PathwayFitConfig
from app.pathway_fit.derive import OUTCOMES
from app.pathway_fit.export import patients_csv, summary_csv
from app.pathway_fit.schemas import PathwayFitReport, PatientFitList
from app.timeutil import london_date, utcnow

router = APIRouter(prefix="/pathway-fit", tags=["pathway-fit"])
READ = "pathway_fit.read"
Outcome = Literal[
    "died",
    "readmitted",
    "care_home",
    "still_at_home",
    "not_at_home",
    "not_contactable",
    "no_later_record",
    "pending",
]
assert set(OUTCOMES) == set(Outcome.__args__)  # type: ignore[attr-defined]  # noqa: S101

SITE = Query(pattern=CODE_PATTERN)
FORMAT = Query(pattern="^(json|csv)$")


def config_of(request: Request) -> PathwayFitConfig:
    config: PathwayFitConfig = request.app.state.pathway_fit_config
    return config


def period(date_from: date | None, date_to: date | None, site: str | None) -> service.Period:
    return service.choose_period(date_from, date_to, site, london_date(utcnow()))


def _wants_csv(request: Request, fmt: str) -> bool:
    return fmt == "csv" or "text/csv" in request.headers.get("accept", "")


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "",
    response_model=PathwayFitReport,
    dependencies=[needs(READ)],
    responses={200: {"content": {"text/csv": {}}}, 422: {"description": "Bad period or filter"}},
)
def pathway_fit(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    site: Annotated[str | None, SITE] = None,
    format: Annotated[str, FORMAT] = "json",  # noqa: A002 - API name
) -> PathwayFitReport | Response:
    """By discharge pathway: discharges in the period (London days, at most 366), each one's
    91-day outcome, re-referrals and the "possibly more intensive than needed" indicator
    (LOCAL measures: README "Pathway-fit audit"). Counts only: no patient is named."""
    now, config = utcnow(), config_of(request)
    chosen = period(date_from, date_to, site)
    fits = service.patient_fits(
        db, config=config, organisation=actor.organisation, period=chosen, now=now
    )
    result = service.report(fits, config, chosen, now)
    if _wants_csv(request, format):
        name = f"pathway-fit-{chosen.date_from}-{chosen.date_to}.csv"
        return _csv(summary_csv([*result.pathways, result.total]), name)
    return result


@router.get(
    "/patients",
    response_model=PatientFitList,
    responses={200: {"content": {"text/csv": {}}}, 422: {"description": "Bad period or filter"}},
)
def pathway_fit_patients(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs(READ)],
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    site: Annotated[str | None, SITE] = None,
    pathway: Annotated[str | None, Query(pattern="^(P0|P1|P2|P3|P3b|unknown)$")] = None,
    outcome: Outcome | None = None,
    possibly_more_intensive: bool | None = None,
    re_referred: bool | None = None,
    format: Annotated[str, FORMAT] = "json",  # noqa: A002 - API name
) -> PatientFitList | Response:
    """The discharges behind the figures, each with its outcome and the evidence for it; NHS
    numbers only where the grant has identifiers. Every read is in the access audit."""
    now, config = utcnow(), config_of(request)
    chosen = period(date_from, date_to, site)
    fits = service.patient_fits(
        db, config=config, organisation=actor.organisation, period=chosen, now=now
    )
    items = service.patient_rows(
        fits,
        pathway=pathway,
        outcome=outcome,
        more_intensive=possibly_more_intensive,
        re_referred=re_referred,
    )
    log_read(request, db, actor, [i.case_id for i in items])
    result = grant.reduce(
        PatientFitList(
            as_of=now,
            date_from=chosen.date_from,
            date_to=chosen.date_to,
            site=site,
            pathway=pathway,
            outcome=outcome,
            items=items,
        )
    )
    if _wants_csv(request, format):
        name = f"pathway-fit-patients-{chosen.date_from}-{chosen.date_to}.csv"
        return _csv(patients_csv(result.items), name)
    return result
