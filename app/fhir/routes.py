"""GET /fhir/R4/...: the CapabilityStatement, the extension's definition, and read and search of
Encounter, EpisodeOfCare, Task and Flag. Thin: parse, call the service, audit, answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from app.api_shared import log_read
from app.auth.access import Grant
from app.auth.needs import ANY_USER, needs
from app.config import Settings
from app.deps import CurrentActor, SessionDep
from app.fhir import service
from app.fhir.capability import capability_statement
from app.fhir.media import JsonOnly, fhir_response
from app.fhir.openapi import FhirResponse, answers
from app.fhir.paging import searchset
from app.fhir.search import (
    CountParam,
    CursorParam,
    DateParam,
    LastUpdatedParam,
    PatientParam,
    SearchQuery,
    StatusParam,
    parse_search,
)
from app.fhir.structure import discharge_ready_date
from app.fhir.systems import BASE_PATH, DRD_EXTENSION_ID
from app.security.inputs import check_inputs
from app.timeutil import utcnow

router = APIRouter(
    prefix=BASE_PATH,
    tags=["FHIR R4"],
    dependencies=[Depends(check_inputs), JsonOnly],
    default_response_class=FhirResponse,
)
ResourceId = Annotated[str, Path(max_length=64, description="The resource's logical id")]
READ = "One resource by id: 404 if none, or not your organisation's"
SEARCH = "A searchset Bundle: total, one page of matches, self/next/previous links"


def _context(request: Request, db: SessionDep) -> service.Context:
    return service.Context(db, request.app.state.codes, utcnow())


Ctx = Annotated[service.Context, Depends(_context)]


def _reader(actor: CurrentActor, grant: Grant) -> service.Reader:
    return service.Reader(actor.organisation, grant.shared_only, grant.identifiers)


@router.get(
    "/metadata",
    responses=answers("CapabilityStatement", "What this server does", granted=False),
    openapi_extra=ANY_USER,
)
def metadata(request: Request, _actor: CurrentActor) -> Response:
    """The CapabilityStatement (FHIR 4.0.1): resources, interactions and search parameters."""
    return fhir_response(capability_statement(_base(request), request.app.version))


@router.get(
    f"/StructureDefinition/{DRD_EXTENSION_ID}",
    responses=answers(
        "StructureDefinition", "The discharge-ready date extension", "url", granted=False
    ),
    openapi_extra=ANY_USER,
)
def drd_definition(_actor: CurrentActor) -> Response:
    """HomeFirst's discharge-ready date extension, mapped to the Commissioning Data Set item
    DISCHARGE READY DATE (HOSPITAL PROVIDER SPELL)."""
    return fhir_response(discharge_ready_date())


def _read(
    request: Request,
    ctx: service.Context,
    actor: CurrentActor,
    grant: Grant,
    resource: str,
    resource_id: str,
) -> Response:
    case_id, found = service.read(
        ctx, resource=resource, resource_id=resource_id, reader=_reader(actor, grant)
    )
    log_read(request, ctx.session, actor, [case_id])
    version = found.meta.versionId  # type: ignore[attr-defined]
    return fhir_response(found, {"ETag": f'W/"{version}"'})


def _search(
    request: Request,
    ctx: service.Context,
    actor: CurrentActor,
    grant: Grant,
    resource: str,
    query: SearchQuery,
) -> Response:
    settings: Settings = request.app.state.settings
    wanted = settings.default_page_size if query.count is None else query.count
    page, entries = service.search(
        ctx,
        resource=resource,
        query=query,
        reader=_reader(actor, grant),
        size=min(wanted, settings.max_page_size),
    )
    log_read(request, ctx.session, actor, page.case_ids)
    return fhir_response(searchset(request, page, entries, _base(request)))


def _base(request: Request) -> str:
    """This server's FHIR base address, as the client reached it."""
    return str(request.url_for("metadata")).rsplit("/", 1)[0]


FhirRead = Annotated[Grant, needs("fhir.read")]
STATUSES = {name: kind.statuses for name, kind in service.KINDS.items()}


# -- Encounter -------------------------------------------------------------------------------------
@router.get("/Encounter", responses=answers("Bundle", SEARCH, "type"))
def search_encounters(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    grant: FhirRead,
    patient: PatientParam = None,
    status: StatusParam = None,
    date: DateParam = None,
    last_updated: LastUpdatedParam = None,
    count: CountParam = None,
    cursor: CursorParam = None,
) -> Response:
    """Hospital spells (discharge cases), with the discharge-ready date extension."""
    query = parse_search(
        request,
        patient=patient,
        status=status,
        dates=date,
        last_updated=last_updated,
        count=count,
        cursor=cursor,
        statuses=STATUSES["Encounter"],
        date_name="date",
    )
    return _search(request, ctx, actor, grant, "Encounter", query)


@router.get("/Encounter/{encounter_id}", responses=answers("Encounter", READ, "id"))
def read_encounter(
    request: Request, encounter_id: ResourceId, ctx: Ctx, actor: CurrentActor, grant: FhirRead
) -> Response:
    """One hospital spell: the discharge case of that id."""
    return _read(request, ctx, actor, grant, "Encounter", encounter_id)


# -- EpisodeOfCare ---------------------------------------------------------------------------------
@router.get("/EpisodeOfCare", responses=answers("Bundle", SEARCH, "type"))
def search_episodes(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    grant: FhirRead,
    patient: PatientParam = None,
    status: StatusParam = None,
    date: DateParam = None,
    last_updated: LastUpdatedParam = None,
    count: CountParam = None,
    cursor: CursorParam = None,
) -> Response:
    """CHC cases and intermediate-care episodes."""
    query = parse_search(
        request,
        patient=patient,
        status=status,
        dates=date,
        last_updated=last_updated,
        count=count,
        cursor=cursor,
        statuses=STATUSES["EpisodeOfCare"],
        date_name="date",
    )
    return _search(request, ctx, actor, grant, "EpisodeOfCare", query)


@router.get("/EpisodeOfCare/{episode_id}", responses=answers("EpisodeOfCare", READ, "id"))
def read_episode(
    request: Request, episode_id: ResourceId, ctx: Ctx, actor: CurrentActor, grant: FhirRead
) -> Response:
    """One CHC case or intermediate-care episode."""
    return _read(request, ctx, actor, grant, "EpisodeOfCare", episode_id)


# -- Task ------------------------------------------------------------------------------------------
@router.get("/Task", responses=answers("Bundle", SEARCH, "type"))
def search_tasks(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    grant: FhirRead,
    patient: PatientParam = None,
    status: StatusParam = None,
    period: DateParam = None,
    last_updated: LastUpdatedParam = None,
    count: CountParam = None,
    cursor: CursorParam = None,
) -> Response:
    """Open work: claimed CHC cases, IC episodes waiting to start, discharges being delayed."""
    query = parse_search(
        request,
        patient=patient,
        status=status,
        dates=period,
        last_updated=last_updated,
        count=count,
        cursor=cursor,
        statuses=STATUSES["Task"],
        date_name="period",
    )
    return _search(request, ctx, actor, grant, "Task", query)


@router.get("/Task/{task_id}", responses=answers("Task", READ, "id"))
def read_task(
    request: Request, task_id: ResourceId, ctx: Ctx, actor: CurrentActor, grant: FhirRead
) -> Response:
    """One piece of open work: `<case id>-claim`, `<case id>-start` or `<case id>-delay`."""
    return _read(request, ctx, actor, grant, "Task", task_id)


# -- Flag ------------------------------------------------------------------------------------------
@router.get("/Flag", responses=answers("Bundle", SEARCH, "type"))
def search_flags(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    grant: FhirRead,
    patient: PatientParam = None,
    status: StatusParam = None,
    date: DateParam = None,
    last_updated: LastUpdatedParam = None,
    count: CountParam = None,
    cursor: CursorParam = None,
) -> Response:
    """Escalations of discharge cases to the daily huddle."""
    query = parse_search(
        request,
        patient=patient,
        status=status,
        dates=date,
        last_updated=last_updated,
        count=count,
        cursor=cursor,
        statuses=STATUSES["Flag"],
        date_name="date",
    )
    return _search(request, ctx, actor, grant, "Flag", query)


@router.get("/Flag/{flag_id}", responses=answers("Flag", READ, "id"))
def read_flag(
    request: Request, flag_id: ResourceId, ctx: Ctx, actor: CurrentActor, grant: FhirRead
) -> Response:
    """One escalation: `<case id>-escalation`."""
    return _read(request, ctx, actor, grant, "Flag", flag_id)
