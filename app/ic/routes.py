"""Intermediate-care endpoints: services and capacity, occupancy, the waiting list, the 91-day
follow-ups due, and the report. Episodes themselves are cases (`/cases`, workflow
`intermediate_care`); starting and moving them goes through `POST /cases/{id}/events`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app.api_shared import PROBLEM, log_read
from app.auth.needs import needs, needs_role
from app.cases.schemas import CODE_PATTERN
from app.deps import CurrentActor, EngineDep, SessionDep
from app.ic import reports, service
from app.ic.config import IcConfig, ic_config
from app.ic.episode import WORKFLOW, london_day
from app.ic.schemas import (
    FollowUpList,
    ModelName,
    OccupancyRead,
    ServiceChangeRead,
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
    WaitingList,
)
from app.timeutil import utcnow

router = APIRouter(prefix="/ic", tags=["intermediate care"])
DEFINES = needs_role(service.SERVICE_ADMIN_ROLES, "defining IC services")
Site = Annotated[str | None, Query(pattern=CODE_PATTERN, description="One site; all if omitted")]


def _config(request: Request) -> IcConfig:
    return ic_config(request.app.state.settings.pathways_dir / "config")


@router.get("/services", response_model=list[ServiceRead], dependencies=[needs("ic.services")])
def list_services(
    actor: CurrentActor,
    db: SessionDep,
    site: Site = None,
    model: ModelName | None = None,
    active: bool | None = None,
) -> list[ServiceRead]:
    """Your organisation's IC services and teams with their capacity and current occupancy."""
    return service.list_services(
        db, organisation=actor.organisation, site=site, model=model, active=active
    )


@router.post(
    "/services",
    status_code=201,
    response_model=ServiceRead,
    responses=PROBLEM,
    dependencies=[DEFINES],
)
def create_service(body: ServiceCreate, actor: CurrentActor, db: SessionDep) -> JSONResponse:
    """Define a service of your organisation (roles admin or manager; naming another
    organisation is a 403 `other_organisation`). The creation is audited."""
    created = service.create_service(db, actor=actor, body=body, now=utcnow())
    return JSONResponse(
        created.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/ic/services/{created.id}"},
    )


@router.get(
    "/services/{service_id}",
    response_model=ServiceRead,
    responses=PROBLEM,
    dependencies=[needs("ic.services")],
)
def get_service(service_id: int, actor: CurrentActor, db: SessionDep) -> ServiceRead:
    """One of your organisation's services (another organisation's is a 404)."""
    return service.get_service(db, service_id=service_id, organisation=actor.organisation)


@router.patch(
    "/services/{service_id}",
    response_model=ServiceRead,
    responses=PROBLEM,
    dependencies=[DEFINES],
)
def update_service(
    service_id: int, body: ServiceUpdate, actor: CurrentActor, db: SessionDep
) -> ServiceRead:
    """Change a service's name, capacity or whether it takes new starts, with a reason (roles
    admin or manager). Lowering capacity below occupancy is allowed: nobody is moved out, and
    the service shows as over capacity until people leave."""
    return service.update_service(db, actor=actor, service_id=service_id, body=body, now=utcnow())


@router.get(
    "/services/{service_id}/changes",
    response_model=list[ServiceChangeRead],
    responses=PROBLEM,
    dependencies=[needs("ic.service_changes")],
)
def service_changes(
    service_id: int, actor: CurrentActor, db: SessionDep
) -> list[ServiceChangeRead]:
    """The audit trail of one of your organisation's services, oldest first."""
    return service.service_changes(db, service_id=service_id, organisation=actor.organisation)


@router.get(
    "/services/{service_id}/occupancy",
    response_model=OccupancyRead,
    responses=PROBLEM,
    dependencies=[needs("ic.occupancy")],
)
def occupancy(
    request: Request, service_id: int, actor: CurrentActor, db: SessionDep
) -> OccupancyRead:
    """Who holds the service's beds or slots now (active, or waiting for an ongoing package):
    the count covers everyone, the list only those your organisation works with."""
    read = service.occupancy(
        db,
        service_id=service_id,
        now=utcnow(),
        organisation=actor.organisation,
        config=_config(request),
    )
    log_read(request, db, actor, [o.case_id for o in read.occupants])
    return read


@router.get("/waiting-list", response_model=WaitingList, dependencies=[needs("ic.waiting_list")])
def waiting_list(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    site: Site = None,
    planned_model: ModelName | None = None,
) -> WaitingList:
    """People accepted and waiting for capacity: highest need first, then longest waiting."""
    read = service.waiting_list(
        db,
        config=_config(request),
        site=site,
        planned_model=planned_model,
        now=utcnow(),
        organisation=actor.organisation,
    )
    log_read(request, db, actor, [row.case_id for row in read.items])
    return read


@router.get("/follow-ups", response_model=FollowUpList, dependencies=[needs("ic.follow_ups")])
def follow_ups(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    site: Site = None,
    due_by: Annotated[date | None, Query(description="Only those due on or before")] = None,
) -> FollowUpList:
    """Ended episodes owed the 91-day still-at-home follow-up, soonest due first."""
    read = service.follow_ups(
        db,
        config=_config(request),
        site=site,
        due_by=due_by,
        now=utcnow(),
        organisation=actor.organisation,
    )
    log_read(request, db, actor, [row.case_id for row in read.items])
    return read


@router.get(
    "/report",
    response_model=reports.IcReport,
    responses=PROBLEM,
    dependencies=[needs("ic.report")],
)
def report(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    site: Site = None,
    date_from: Annotated[
        date | None, Query(description="London date; 27 days before date_to")
    ] = None,
    date_to: Annotated[date | None, Query(description="London date, inclusive; today")] = None,
    cohort_year: Annotated[
        int | None,
        Query(
            ge=1900,
            le=2199,
            description="ASCOF 2B: the year of the October-December hospital discharges; by "
            "default the latest whose 91 days have all passed by date_to",
        ),
    ] = None,
) -> reports.IcReport:
    """UCR within 2 hours against the standard, starts within 2 days (NICE QS173 over accepted
    bed-based referrals; the local all-models figure), occupancy, episode lengths, outcomes,
    delayed exits, the ASCOF 2B 91-day figure for its October-December cohort, and a local
    rolling 91-day figure for the period."""
    now = utcnow()
    end = date_to or london_day(now)
    loaded = engine.catalogue.latest(WORKFLOW)
    outcomes = loaded.spec.fields["outcome"].choices if loaded else ()
    return reports.build_report(
        db,
        config=_config(request),
        outcomes=outcomes,
        site=site,
        date_from=date_from or end - timedelta(days=27),
        date_to=end,
        now=now,
        organisation=actor.organisation,
        cohort_year=cohort_year,
    )
