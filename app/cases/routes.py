"""HTTP routes for cases. Thin: parse, call the service, shape the response."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import fastapi.routing
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from app.audit.routes import log_read
from app.auth.actor import Actor
from app.auth.service import cached_actor
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
    current_actor,
    visible_case,
)
from app.errors import Unauthorized
from app.idempotency.service import StoredResponse
from app.security.inputs import MAX_ID, check_inputs
from app.timeutil import utcnow

router = APIRouter(prefix="/cases", tags=["cases"])

PROBLEM: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        401: "No valid bearer token",
        403: "Your role may not do this",
        404: "No such case",
        409: "Not allowed in the case's current state, or refused by a rule (every reason given)",
        412: "The ETag in If-Match is stale: reload the case",
        422: "Invalid data",
        428: "If-Match is missing",
    }.items()
}


def respond(stored: StoredResponse) -> JSONResponse:
    headers = dict(stored.headers)
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)


@router.post("", status_code=201, response_model=CaseRead, responses=PROBLEM)
def create_case(
    body: CaseCreate,
    actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Open a case on the latest version of a pathway. Returns `Location` and `ETag`."""
    return respond(
        service.create_case(
            db,
            engine=engine,
            actor=actor,
            body=body,
            idempotency_key=key,
            now=utcnow(),
            ttl=settings.idempotency_ttl,
        )
    )


@router.get("", response_model=CaseList, responses=PROBLEM)
def list_cases(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    settings: SettingsDep,
    workflow: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=64)] = None,
    organisation: Annotated[str | None, Query(max_length=64)] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    patient_ref: Annotated[str | None, Query(max_length=32)] = None,
    is_open: bool | None = None,
    opened_from: AwareDatetime | None = None,
    opened_to: AwareDatetime | None = None,
    updated_from: AwareDatetime | None = None,
    updated_to: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int | None, Query(ge=1, description="Capped at the server's maximum")] = None,
) -> CaseList:
    """Cases, newest first, with a keyset cursor."""
    flt = CaseFilter(
        workflow,
        state,
        organisation,
        site,
        patient_ref,
        is_open,
        opened_from,
        opened_to,
        updated_from,
        updated_to,
        visible_to=actor.organisation,
    )
    capped = min(limit or settings.default_page_size, settings.max_page_size)
    page = service.list_cases(db, flt=flt, cursor=cursor, limit=capped)
    log_read(request, db, actor, [c.id for c in page.items])
    return page


@router.get("/{case_id}", response_model=CaseRead, responses=PROBLEM)
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

    The usual request (a cached bearer token, a plain case id, If-Match, a JSON body that
    validates, nothing unusual anywhere) skips FastAPI's per-request dependency resolution,
    which cost more CPU than the transition itself. Anything else (an unknown token, a query
    string, an odd header, a body that does not parse or validate, a `\\u` escape the input
    checks look into) goes the full way, unchanged: the short way only takes requests on which
    every check of the full way (`check_inputs`, the bearer scheme, the path and header
    parameters, the body model) would pass, and then runs the same endpoint function with the
    same values. Errors the service raises become the same problem responses either way.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()
        if not _SHORT_WAY_DEPENDENCIES.issuperset(_dependency_calls(self)):
            # A dependency the short way knows nothing about (a new router-wide check):
            # never skip it.
            return full

        async def handler(request: Request) -> Response:
            if request.app.dependency_overrides:
                return await full(request)
            simple = _simple_request(request)
            if simple is None:
                return await full(request)
            case_id, actor, if_match, key = simple
            raw = await request.body()
            if not raw or b"\\u" in raw:  # an escape may hide a NUL: the input checks decide
                return await full(request)
            try:
                body = EventCreate.model_validate(json.loads(raw))
            except Exception:  # not JSON, or not an event: the full way answers (400 or 422)
                return await full(request)
            return await run_in_threadpool(fire_event, request, case_id, body, actor, if_match, key)

        return handler


def _dependency_calls(route: APIRoute) -> set[Any]:
    """The dependencies FastAPI runs for the route as it is being built (with those of the
    routers it is included in), or a marker that matches nothing when that cannot be told."""
    effective_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    effective = effective_var.get() if effective_var is not None else None
    if effective is None:
        return {d.call for d in route.dependant.dependencies}
    dependant = getattr(effective, "dependant", None)
    if getattr(effective, "original_route", None) is not route or dependant is None:
        return {object()}
    return {d.call for d in dependant.dependencies}


_SHORT_WAY_HEADERS = frozenset({b"content-type", b"if-match", b"idempotency-key", b"authorization"})


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _simple_request(request: Request) -> tuple[int, Actor, str | None, str | None] | None:
    """(case id, actor, If-Match, Idempotency-Key) when nothing about the request needs the full
    way; else None. Mirrors the checks the full way makes, erring towards None."""
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
    try:
        actor = cached_actor(request.app.state.sessions.kw["bind"], credentials, now=utcnow())
    except Unauthorized:  # expired: the full way says so, in its own order
        return None
    if actor is None:  # not seen lately: the full way looks the token up
        return None
    return case_id, actor, if_match, key


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
                engine=state.engine,
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


# What the full way runs for this route besides the endpoint: the router-wide input checks, the
# bearer token (whose every check `_simple_request` repeats) and the organisation scoping of the
# case (which the service repeats in the lock statement, before any other check).
_SHORT_WAY_DEPENDENCIES = frozenset({check_inputs, current_actor, visible_case})

router.add_api_route(
    "/{case_id}/events",
    fire_event,
    methods=["POST"],
    response_model=TransitionResult,
    responses=PROBLEM,
    route_class_override=TransitionRoute,
)


@router.get("/{case_id}/events", response_model=list[EventRead], responses=PROBLEM)
def case_history(
    request: Request, case_id: VisibleCaseId, actor: CurrentActor, db: SessionDep
) -> list[EventRead]:
    """The case's full history, oldest first."""
    events = service.history(db, case_id=case_id)
    log_read(request, db, actor, [case_id])
    return events
