"""`OPTIONS` and `405` answers name every method a path takes.

Starlette's router, on a method no route of a path takes, answers 405 with the `Allow` of the
first route whose path matched. Where several routes serve one path (`POST /cases` and
`GET /cases` are two routes), `Allow` then names one method only, and `OPTIONS` (which no route
declares) gets that 405. This middleware answers `OPTIONS` on any path the application serves
with 204 and the full `Allow` (every method of every route of that path, and OPTIONS), and puts
the same full list on every 405. A path no route serves is left alone (404).

A CORS preflight is answered before this, by the CORS middleware, when CORS is configured;
when it is not, the preflight gets the router's 405 as before (with the full `Allow`).
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path

from app.security.asgi import ASGIApp, Message, Receive, Scope, Send, header


class AllowedMethods:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and not _preflight(scope):
            allowed = allowed_methods(scope["app"], scope["path"])
            if allowed:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", ", ".join(allowed).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return

        async def send_full_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = allowed_methods(scope["app"], scope["path"])
                if allowed:
                    headers = [(k, v) for k, v in message.get("headers", ()) if k != b"allow"]
                    message["headers"] = [*headers, (b"allow", ", ".join(allowed).encode())]
            await send(message)

        await self.app(scope, receive, send_full_allow)


def _preflight(scope: Scope) -> bool:
    """A CORS preflight: left to the router's 405 (with the full `Allow`), so a browser is
    refused when CORS is closed; when it is open, the CORS middleware answered it already."""
    return (
        header(scope, b"origin") is not None
        and header(scope, b"access-control-request-method") is not None
    )


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method the application's routes take on `path` (sorted, OPTIONS last), or none
    when no route serves the path. Worked out on each OPTIONS or 405 (both rare), so a route
    added after the start counts too."""
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        if context.methods and context.path and compile_path(context.path)[0].match(path):
            methods |= set(context.methods)
    return [*sorted(methods - {"OPTIONS"}), "OPTIONS"] if methods else []
