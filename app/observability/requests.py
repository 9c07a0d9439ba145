"""One log line per HTTP request, and the request id.

The request id is the caller's `X-Request-ID` when it is a plain token (letters, digits, `.`,
`_`, `-`, up to 64 characters: an interface engine's correlation id), otherwise a new one; it is
returned in the response's `X-Request-ID` and carried by every log line written while the request
is served. The line names the route's template (`/api/v1/cases/{case_id}`), never the path, so
that no identifier or query string reaches the log, with the status, the duration and, once the
caller is known, the user's id and organisation.

A plain ASGI middleware (not Starlette's `BaseHTTPMiddleware`, which would copy every response
body through a second task).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import bind_request, current_user

log = logging.getLogger("homefirst.request")
REQUEST_ID_HEADER = b"x-request-id"
_ACCEPTABLE_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")

# Called once per finished request with (route template, method, status, seconds): the metrics.
RequestObserver = Callable[[str, str, int, float], None]


class RouteTemplates:
    """The full path template of the route that served a request.

    Starlette leaves the matched route in `scope["route"]`; for a route of an included router
    that is the route as its router declared it (`/cases/{case_id}`, without the `/api/v1` of
    the inclusion). FastAPI's public `iter_route_contexts` gives each inclusion's full template;
    a route included more than once (health checks at `/` and `/api/v1`) is told apart by which
    inclusion's pattern matches the path. Worked out once per route, at its first request."""

    def __init__(self) -> None:
        self._inclusions: dict[int, list[tuple[Any, str]]] = {}

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return "unmatched"  # a 404, or a refusal before routing (405, 413, 429 ...)
        inclusions = self._inclusions.get(id(route))
        if inclusions is None:
            inclusions = self._inclusions[id(route)] = _inclusions_of(route, scope.get("app"))
        path = scope.get("path", "")
        for pattern, template in inclusions:
            if pattern is None or pattern.match(path):
                return template
        declared = getattr(route, "path", None)
        return declared if isinstance(declared, str) else "unmatched"


def _inclusions_of(route: Any, app: Any) -> list[tuple[Any, str]]:
    contexts = [
        c for c in iter_route_contexts(getattr(app, "routes", [])) if c.original_route is route
    ]
    found: list[tuple[Any, str]] = []
    for context in contexts:
        template = context.path_format or context.path
        if isinstance(template, str):
            pattern = getattr(context, "path_regex", None) if len(contexts) > 1 else None
            if isinstance(route, Mount):
                template = f"{template}/{{path}}"
            found.append((pattern, template))
    return found


class RequestLog:
    def __init__(self, app: ASGIApp, observe: RequestObserver | None = None) -> None:
        self.app = app
        self.observe = observe
        self.route_template = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        bind_request(request_id)
        started = time.perf_counter()
        status = 500  # what the client gets if the application fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER
                ]
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = self.route_template(scope)
            fields: dict[str, Any] = {
                "event": "request",
                "method": scope.get("method", ""),
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            }
            user = current_user()
            if user is not None:
                fields["user_id"], fields["organisation"] = user
            log.info("request", extra=fields)
            if self.observe is not None:
                self.observe(route, str(fields["method"]), status, seconds)
            bind_request(None)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER and _ACCEPTABLE_ID.match(value):
            return str(value.decode("ascii"))
    return uuid.uuid4().hex
