"""Authorisation on the HTTP side, in one place: the dependency each route declares, and the
`x-access` extension that makes every operation's requirement readable in `/openapi.json`.

- `needs("rfd.read")`: a read of `pathways/config/access.yaml` (`app.auth.access`). 403 for a
  role without the read; a `shared_only` grant also answers 404 for a case in the path that is
  not shared with the caller's organisation. Use it as a parameter
  (`grant: Annotated[Grant, needs("rfd.read")]`) when the route applies the grant's level, else
  in the decorator's `dependencies`.
- `needs_role(ROLES, "what")`: a write with a fixed set of roles (the same tuple the service
  checks), 403 otherwise.
- `PATHWAY_ROLES` / `ANY_USER`: `openapi_extra` for operations whose roles a pathway transition
  decides (checked by the engine, per event), or that any signed-in user may use (about
  themselves, or a calculation without patient data).

`install_access` runs once the routes are mounted: it puts the policy on `app.state`, writes
`x-access` (and the 403 answer) into each declared operation of the OpenAPI document, and stops
the start when a read is used by no route or a route declares two requirements.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import Depends, FastAPI, Request, params
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.auth.access import READS, AccessPolicy, Grant
from app.cases.scope import ScopeRepository
from app.deps import CurrentActor
from app.errors import Forbidden, NotFound
from app.security.inputs import MAX_ID

EXTENSION = "x-access"
PATHWAY_ROLES: dict[str, Any] = {
    EXTENSION: {
        "roles": "pathway",
        "description": "The pathway transition names the roles (GET /pathways/{key}).",
    }
}
# Only the organisation that owns the case may do this (not one it is shared with).
OWNER_ONLY: dict[str, Any] = {EXTENSION: {"organisation": "owner"}}
ANY_USER: dict[str, Any] = {
    EXTENSION: {"roles": "any", "description": "Any signed-in user (about themselves)."}
}
FORBIDDEN_DOC = {
    "description": "Your roles do not include this (see x-access)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


class Needs:
    """The dependency behind `needs(read)`: the caller's grant for a read."""

    def __init__(self, read: str) -> None:
        if read not in READS:
            raise ValueError(f"unknown read {read!r}: add it to app.auth.access.READS")
        self.read = read

    async def __call__(self, request: Request, actor: CurrentActor) -> Grant:
        policy: AccessPolicy = request.app.state.access
        grant = policy.grant(self.read, actor.roles)
        if grant is None:
            roles = sorted(policy.roles(self.read))
            raise Forbidden(
                f"{self.read} needs one of the roles: {', '.join(roles) or '(none)'}",
                required_roles=roles,
            )
        if grant.shared_only:
            case_id = _case_id(request)
            if case_id is not None:
                sessions: sessionmaker[Session] = request.app.state.sessions
                await run_in_threadpool(_require_shared, sessions, case_id, actor.organisation)
        return grant


class NeedsRole:
    """The dependency behind `needs_role(roles, what)`: one of a fixed set of roles."""

    def __init__(self, roles: tuple[str, ...], what: str) -> None:
        self.roles, self.what = roles, what

    async def __call__(self, actor: CurrentActor) -> str:
        role = actor.role_for(self.roles)
        if role is None:
            raise Forbidden(
                f"{self.what} needs one of the roles: {', '.join(self.roles)}",
                required_roles=list(self.roles),
            )
        return role


def needs(read: str) -> Any:
    """`Depends` on the caller's grant for `read` (a name in `app.auth.access.READS`)."""
    return Depends(Needs(read))


def needs_role(roles: tuple[str, ...], what: str) -> Any:
    """`Depends` on the caller holding one of `roles`; `what` names the action in the 403."""
    return Depends(NeedsRole(roles, what))


def _case_id(request: Request) -> int | None:
    text = request.path_params.get("case_id")
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 19:
        value = int(text)
        return value if 1 <= value <= MAX_ID else None
    return None  # not a valid id: the route's own parameter answers 422


def _require_shared(sessions: sessionmaker[Session], case_id: int, organisation: str) -> None:
    with sessions() as session:
        if not ScopeRepository(session).is_shared_with(case_id, organisation):
            raise NotFound(f"case {case_id} not found")


def install_access(application: FastAPI, policy: AccessPolicy) -> None:
    """Put `policy` on the application and `x-access` on every operation that declares one.
    Raises ValueError when a route and the policy disagree (the service must not start)."""
    application.state.access = policy
    declared: dict[tuple[str, str], dict[str, Any]] = {}
    used: set[str] = set()
    for context in iter_route_contexts(application.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        declaration = _declaration(context)
        if declaration is None:
            continue
        if "read" in declaration:
            used.add(declaration["read"])
            declaration["roles"] = dict(sorted(policy.roles(declaration["read"]).items()))
        for method in context.methods or ():
            declared[(method.lower(), context.path_format or "")] = declaration
    unused = sorted(set(READS) - used)
    if unused:
        raise ValueError(f"reads no route declares (remove them from READS): {', '.join(unused)}")

    inner = application.openapi

    def openapi() -> dict[str, Any]:
        first = application.openapi_schema is None
        schema = inner()
        if first:
            _document(schema, declared)
        return schema

    application.openapi = openapi  # type: ignore[method-assign]


def _document(schema: dict[str, Any], declared: dict[tuple[str, str], dict[str, Any]]) -> None:
    for (method, path), declaration in declared.items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:  # not in the schema (include_in_schema=False)
            continue
        operation[EXTENSION] = {**operation.get(EXTENSION, {}), **declaration}
        operation.setdefault("responses", {}).setdefault("403", FORBIDDEN_DOC)


def _declaration(context: RouteContext) -> dict[str, Any] | None:
    checks = list(_checks(context))
    if len(checks) > 1:
        raise ValueError(
            f"{context.path_format}: declare one access requirement, not {len(checks)}"
        )
    if not checks:
        return None
    check = checks[0]
    if isinstance(check, Needs):
        return {"read": check.read, "description": READS[check.read].description}
    return {"roles": list(check.roles), "description": check.what}


def _checks(context: RouteContext) -> Iterator[Needs | NeedsRole]:
    """The route's access checks: in the decorator's (or its routers') `dependencies`, or as a
    parameter of the endpoint (`grant: Annotated[Grant, needs(...)]`). Read from public
    surfaces only (the route context and the endpoint's signature), not FastAPI's dependency
    tree; a check nested inside another dependency is not seen, so declare it on the route."""
    found: list[Any] = [d.dependency for d in context.dependencies or ()]
    endpoint = context.endpoint
    if endpoint is not None:
        for hint in get_type_hints(endpoint, include_extras=True).values():
            if get_origin(hint) is Annotated:
                found += [m.dependency for m in get_args(hint)[1:] if isinstance(m, params.Depends)]
        for parameter in inspect.signature(endpoint).parameters.values():
            if isinstance(parameter.default, params.Depends):
                found.append(parameter.default.dependency)
    yield from (check for check in found if isinstance(check, Needs | NeedsRole))
