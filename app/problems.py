"""RFC 9457 problem details: the one place errors become HTTP responses.

An unexpected error in a route becomes the fixed 500 answer inside the application
(`AnswerUnexpectedErrors`), not in Starlette's outermost error middleware: that one sends the
answer and then raises the error again to the server, and uvicorn closes a kept-alive connection
after any error an application raises, so each 500 cost the client its connection (and any
request it had queued on it). An error raised after the answer has begun still reaches the
server, which must close the connection: the client has half an answer.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import DomainError
from app.security.asgi import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://homefirst.example/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        out.append(
            {
                "loc": [_printable(str(p)) for p in err.get("loc", ())],
                "msg": _printable(str(err.get("msg", ""))),
                "type": str(err.get("type", "")),
            }
        )
    return out


def _printable(text: str) -> str:
    # Input may carry unpaired surrogates, which JSON cannot encode: escape them.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def internal_error(headers: dict[str, str] | None = None) -> JSONResponse:
    """The fixed answer to an unexpected error: never a stack trace or SQL."""
    return problem(
        500, "internal_error", "Internal error", "An unexpected error occurred.", None, headers
    )


class AnswerUnexpectedErrors:
    """Answers an error no handler took with the fixed 500, and does not raise it further (see
    the module's docstring); the log keeps the error. Innermost of the application's middleware,
    so the answer passes through the others (security headers and all)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            log.exception("unhandled error", exc_info=exc)
            await internal_error()(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    # Added first: the innermost middleware, just outside the routes' own exception handling.
    app.add_middleware(AnswerUnexpectedErrors)

    @app.exception_handler(DomainError)
    def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.status_code, exc.code, exc.title, exc.detail, exc.extra, exc.headers())

    @app.exception_handler(RequestValidationError)
    def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "validation_failed",
            "Invalid request",
            "The request did not match the expected shape; see errors.",
            {"errors": _jsonable_errors(exc.errors())},
        )

    @app.exception_handler(StarletteHTTPException)
    def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }.get(exc.status_code, "http_error")
        return problem(
            exc.status_code,
            code,
            str(exc.detail),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # An error raised by a middleware itself, outside `AnswerUnexpectedErrors`. Never leak a
        # stack trace or SQL to the client; the log keeps it.
        log.exception("unhandled error", exc_info=exc)
        # Starlette sends this answer from outside every middleware: add the security headers.
        return internal_error(getattr(request.app.state, "error_headers", None))
