"""HTTP routes for cases. Thin: parse, call the service, shape the response."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, get_type_hints

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.api_shared import PROBLEM, log_read, respond
from app.auth.access import Grant
from app.auth.needs import PATHWAY_ROLES, needs
from app.auth.service import authenticate_request
from app.cases import service
from app.cases.repository import CaseFilter
from app.cases.schemas import (
    CaseCreate,
    CaseList,
    CaseRead,
    EventCreate,
    EventRead,
    TransitionResult,
)
from app.config import get_settings
from app.deps import (
    IDEMPOTENCY_KEY_MAX,
    IF_MATCH_MAX,
    CurrentActor,
    EngineDep,
    IdempotencyKey,
    IfMatch,
    SessionDep,
    SettingsDep,
    VisibleCaseId,
    WriterDep,
)
from app.observability.logs import bind_actor
from app.security.inputs import MAX_ID, check_inputs
from app.security.text import may_hide_control
from app.timeutil import utcnow

router = APIRouter(prefix="/cases", tags=["cases"])


@router.post(
    "", status_code=201, response_model=CaseRead, responses=PROBLEM, openapi_extra=PATHWAY_ROLES
)
def create_case(
    body: CaseCreate,
    actor: CurrentActor,
    db: SessionDep,
    writer: WriterDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Open a case on the latest version of a pathway. Returns `Location` and `ETag`."""
    return respond(
        service.create_case(
            db,
            writer=writer,
            actor=actor,
            body=body,
            idempotency_key=key,
            now=utcnow(),
            ttl=settings.idempotency_ttl,
        )
    )


class CaseQuery(BaseModel):
    """The query parameters of `GET /cases`. Any other is a 422 (`extra="forbid"`): a misspelt
    filter must not quietly widen a list of patients. The router-wide input checks
    (`check_inputs`) answer an unknown parameter first, on every route; this model makes the
    list of patients refuse one by itself too."""

    model_config = ConfigDict(extra="forbid")

    workflow: str | None = Field(default=None, max_length=64)
    state: str | None = Field(default=None, max_length=64)
    organisation: str | None = Field(default=None, max_length=64)
    site: str | None = Field(default=None, max_length=64)
    patient_ref: str | None = Field(default=None, max_length=32)
    is_open: bool | None = None
    opened_from: AwareDatetime | None = None
    opened_to: AwareDatetime | None = None
    updated_from: AwareDatetime | None = None
    updated_to: AwareDatetime | None = None
    cursor: str | None = Field(default=None, max_length=100)
    limit: int | None = Field(default=None, ge=1, description="Capped at the server's maximum")


@router.get("", response_model=CaseList, responses=PROBLEM)
def list_cases(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    settings: SettingsDep,
    query: Annotated[CaseQuery, Query()],
    grant: Annotated[Grant, needs("cases.list")],
) -> CaseList:
    """Cases, newest first, with a keyset cursor."""
    flt = CaseFilter(
        query.workflow,
        query.state,
        query.organisation,
        query.site,
        query.patient_ref,
        query.is_open,
        query.opened_from,
        query.opened_to,
        query.updated_from,
        query.updated_to,
        visible_to=actor.organisation,
        shared_only=grant.shared_only,
    )
    capped = min(query.limit or settings.default_page_size, settings.max_page_size)
    page = service.list_cases(db, flt=flt, cursor=query.cursor, limit=capped)
    log_read(request, db, actor, [c.id for c in page.items])
    return page


@router.get(
    "/{case_id}", response_model=CaseRead, responses=PROBLEM, dependencies=[needs("cases.read")]
)
def get_case(
    request: Request,
    case_id: VisibleCaseId,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    response: Response,
) -> CaseRead:
    """The case, its clocks and `allowed_events` for you, with reasons for each refusal."""
    read, etag = service.get_case(db, engine=engine, actor=actor, case_id=case_id, now=utcnow())
    log_read(request, db, actor, [case_id])
    response.headers["ETag"] = etag
    return read


class TransitionRoute(APIRoute):
    """`POST /cases/{id}/events` with a short way through for the usual request.

    The usual request (a bearer token, a plain case id, If-Match, a JSON body that
    validates, nothing unusual anywhere) skips FastAPI's per-request dependency resolution,
    which cost more CPU than the transition itself. Anything else (no bearer token, a query
    string, an odd header, a body that does not parse or validate, a `\\u` escape or a C1
    character the input checks look into) goes the full way, unchanged: the short way only
    takes requests on which every check of the full way before authentication (`check_inputs`,
    the bearer scheme, the path and header parameters, the body model) would pass, then
    authenticates the token as `CurrentActor` does and runs the same endpoint function with the
    same values. Errors the service raises (a 401 included) become the same problem responses
    either way.

    Only public FastAPI surface: a route class overriding `get_route_handler` (FastAPI's
    documented "custom APIRoute class") that wraps the handler FastAPI builds, and
    `fastapi.routing.iter_route_contexts` (public since 0.137.2) to learn, at the first
    request, which dependencies the routers the route is included in add. The short way steps
    aside, for good, when the endpoint's parameters are not the ones it stands in for or a
    router adds a dependency it does not know; and, per request, when dependency overrides are
    set. `tests/api/test_transition_short_way.py` holds both ways to the same answers.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()
        if self.endpoint is not fire_event or _parameters(fire_event) != _SHORT_WAY_PARAMETERS:
            # A parameter the short way knows nothing about (a new dependency), or the same ones
            # in another order (it calls the endpoint with positional arguments): never skip it.
            return full

        # FastAPI builds a handler for each inclusion of the route (again when its routers
        # change): whether the routers add only what the short way stands in for is worked out
        # at the first request each handler serves.
        routers_known: bool | None = None

        async def handler(request: Request) -> Response:
            nonlocal routers_known
            if routers_known is None:
                routers_known = _only_known_router_dependencies(request.app.routes, self)
            if routers_known and not request.app.dependency_overrides:
                arguments = await _short_way(request)
                if arguments is not None:
                    return await run_in_threadpool(_fire_short, request, *arguments)
            return await full(request)

        return handler


def _parameters(endpoint: Callable[..., Any]) -> list[tuple[str, Any]]:
    """The endpoint's parameters in order, then its return type, as annotated (with the
    `Annotated` metadata, where the dependencies and header declarations are)."""
    return list(get_type_hints(endpoint, include_extras=True).items())


def _only_known_router_dependencies(routes: Any, route: APIRoute) -> bool:
    """True when `route` is served (once or more) among `routes` (an application's) and every
    inclusion of it runs, from its routers and its decorator, only dependencies the short way
    stands in for. False when that cannot be told: the route is not found, or FastAPI describes
    an inclusion otherwise than as a route with `dependencies` (a list of `Depends`); the short
    way then never runs, which the tests of the short way notice."""
    inclusions = [c for c in iter_route_contexts(routes) if c.original_route is route]
    try:
        return bool(inclusions) and all(
            {depends.dependency for depends in c.dependencies} <= _SHORT_WAY_ROUTER_DEPENDENCIES
            for c in inclusions
        )
    except (AttributeError, TypeError):
        return False


async def _short_way(
    request: Request,
) -> tuple[str, int, EventCreate, str | None, str | None] | None:
    """(bearer token, case id, body, If-Match, Idempotency-Key) when the request can take the
    short way; else None (the full way)."""
    simple = _simple_request(request)
    if simple is None:
        return None
    token, case_id, if_match, key = simple
    raw = await request.body()
    if not raw or may_hide_control(raw):  # a control character, a NUL: the input checks decide
        return None
    try:
        body = EventCreate.model_validate(json.loads(raw))
    except Exception:  # not JSON, or not an event: the full way answers (400 or 422)
        return None
    return token, case_id, body, if_match, key


def _fire_short(
    request: Request,
    token: str,
    case_id: int,
    body: EventCreate,
    if_match: str | None,
    key: str | None,
) -> JSONResponse:
    """The endpoint, after authenticating the token as `CurrentActor` does (in this worker
    thread: no second hand-off). Every other check of the full way passed before the short way
    was taken, so an Unauthorized here is the answer the full way gives too."""
    actor = authenticate_request(request.app.state.sessions, token, now=utcnow())
    bind_actor(actor.user_id, actor.organisation)  # for this request's log lines
    return fire_event(request, case_id, body, actor, if_match, key)


_SHORT_WAY_HEADERS = frozenset({b"content-type", b"if-match", b"idempotency-key", b"authorization"})


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _simple_request(request: Request) -> tuple[str, int, str | None, str | None] | None:
    """(bearer token, case id, If-Match, Idempotency-Key) when nothing about the request needs
    the full way; else None. Mirrors the checks the full way makes, erring towards None."""
    scope = request.scope
    if scope.get("query_string"):
        return None
    text = request.path_params.get("case_id")
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    case_id = int(text)
    if not 1 <= case_id <= MAX_ID:
        return None
    # One pass over the raw headers (ASGI names them in lower case; the first value counts, as
    # in `request.headers.get`), refusing any with a NUL as the input checks do.
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if b"\x00" in value:
            return None
        if name in _SHORT_WAY_HEADERS and name not in found:
            found[name] = value
    content_type = found.get(b"content-type", b"").decode("latin-1")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return None
    if_match = _text(found.get(b"if-match"))
    key = _text(found.get(b"idempotency-key"))
    if (if_match is not None and len(if_match) > IF_MATCH_MAX) or (
        key is not None and len(key) > IDEMPOTENCY_KEY_MAX
    ):
        return None
    scheme, _, credentials = found.get(b"authorization", b"").decode("latin-1").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials, case_id, if_match, key


def fire_event(
    request: Request,
    case_id: VisibleCaseId,
    body: EventCreate,
    actor: CurrentActor,
    if_match: IfMatch = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Fire an event. Needs `If-Match: <ETag>`; returns the new ETag."""
    # The hot path: the session, engine and settings are taken here rather than through
    # dependencies, each of which costs FastAPI a resolution step (and the session two
    # thread-pool hand-offs) on every request. The session closes in this worker thread.
    state = request.app.state
    with state.sessions() as db:
        return respond(
            service.fire_event(
                db,
                writer=state.writer,
                actor=actor,
                case_id=case_id,
                body=body,
                if_match=if_match,
                idempotency_key=key,
                now=utcnow(),
                ttl=get_settings().idempotency_ttl,
                # Organisation scoping is checked again with the case's lock (the same
                # statement): the short way skips the `VisibleCaseId` dependency and relies on
                # this; a case the caller's organisation may not see is a 404.
                visible_to=actor.organisation,
            )
        )


# What the full way runs for this route besides the endpoint. From the routers: the input checks
# (whose every check `_simple_request` repeats, or leaves to the full way). From the endpoint's
# parameters, exactly these: the bearer token (`CurrentActor`, whose every check
# `_simple_request` repeats), the organisation scoping of the case (`VisibleCaseId`, which the
# service repeats in the lock statement, before any other check), the two headers (their length
# caps repeated) and the body (validated with the same model).
_SHORT_WAY_ROUTER_DEPENDENCIES = frozenset({check_inputs})
_SHORT_WAY_PARAMETERS = [
    ("request", Request),
    ("case_id", VisibleCaseId),
    ("body", EventCreate),
    ("actor", CurrentActor),
    ("if_match", IfMatch),
    ("key", IdempotencyKey),
    ("return", JSONResponse),
]

router.add_api_route(
    "/{case_id}/events",
    fire_event,
    methods=["POST"],
    response_model=TransitionResult,
    responses=PROBLEM,
    route_class_override=TransitionRoute,
    openapi_extra=PATHWAY_ROLES,
)


@router.get(
    "/{case_id}/events",
    response_model=list[EventRead],
    responses=PROBLEM,
    dependencies=[needs("cases.history")],
)
def case_history(
    request: Request, case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep
) -> list[EventRead]:
    """The case's full history, oldest first."""
    events = service.history(db, case_id=case_id)
    log_read(request, db, actor, [case_id])
    return events
