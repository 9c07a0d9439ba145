"""GET /rfd (the Ready-for-Discharge list, JSON or CSV) and GET /cases/{id}/discharge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api_shared import log_read
from app.auth.access import Grant
from app.auth.needs import needs
from app.deps import CodesDep, CurrentActor, EngineDep, SessionDep, VisibleCaseId
from app.discharge import service
from app.discharge.config import DischargeConfig
from app.discharge.rfd_csv import rfd_csv
from app.discharge.schemas import DischargeFactsRead, RfdList
from app.timeutil import utcnow

router = APIRouter(tags=["discharge"])


def _config(request: Request) -> DischargeConfig:
    config: DischargeConfig = request.app.state.discharge_config
    return config


@router.get(
    "/rfd",
    response_model=RfdList,
    responses={200: {"content": {"text/csv": {}}}, 422: {"description": "Bad filter"}},
)
def ready_for_discharge(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    codes: CodesDep,
    grant: Annotated[Grant, needs("rfd.read")],
    site: Annotated[str | None, Query(max_length=64)] = None,
    hospital_system: Annotated[str | None, Query(max_length=32)] = None,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    pathway: Annotated[str | None, Query(pattern="^(P0|P1|P2|P3|P3b)$")] = None,
    escalated: bool | None = None,
    delay_code: Annotated[str | None, Query(max_length=100)] = None,
    delay_family: Annotated[str | None, Query(max_length=100)] = None,
    min_days: Annotated[int | None, Query(ge=0, le=10_000)] = None,
    sort: Annotated[str, Query(max_length=40, description="Field, '-' for descending")] = (
        "-days_since_drd"
    ),
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",  # noqa: A002 - API name
) -> RfdList | Response:
    """Every patient not meeting the criteria to reside and not yet discharged."""
    flt = service.RfdFilter(
        site, hospital_system, ward, pathway, escalated, delay_code, delay_family, min_days
    )
    result = service.rfd_list(
        db,
        catalogue=engine.catalogue,
        codes=codes,
        config=_config(request),
        flt=flt,
        sort=service.parse_sort(sort),
        now=utcnow(),
        organisation=actor.organisation,
    )
    log_read(request, db, actor, [row.case_id for row in result.items])
    result = grant.reduce(result)
    wants_csv = format == "csv" or "text/csv" in request.headers.get("accept", "")
    if wants_csv:
        return Response(
            rfd_csv(result.items),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="rfd-{result.as_of.date()}.csv"'
            },
        )
    return result


@router.get(
    "/cases/{case_id}/discharge",
    response_model=DischargeFactsRead,
    dependencies=[needs("cases.history")],
)
def case_discharge_facts(
    request: Request, case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep, codes: CodesDep
) -> DischargeFactsRead:
    """Derived discharge facts: DRD, criteria-to-reside log, delay periods, pathway history."""
    facts = service.discharge_facts(
        db, case_id=case_id, codes=codes, config=_config(request), now=utcnow()
    )
    log_read(request, db, actor, [case_id])
    return facts
