"""Errors under /fhir are OperationOutcome resources (application/fhir+json), never the API's
problem documents, whatever raised them.

- `FhirError` (a `DomainError`) is what the FHIR code raises, with the FHIR issue code.
- `install_outcomes` wraps the application's handlers for `DomainError`,
  `RequestValidationError` and Starlette's `HTTPException` (401, 403, 404, 405, bad input): a
  request under /fhir gets an OperationOutcome, any other the handler it had. A bad search
  parameter is a 400, as FHIR servers answer it (the API answers 422).
- `OutcomesForFhir`, a middleware, turns any problem document that still leaves for a /fhir
  path (the body cap's 413, the rate limit's 429, the cross-site guard's 403, the fixed 500)
  into an OperationOutcome with the same status and headers.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fhir.resources.R4B.operationoutcome import OperationOutcome
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import DomainError
from app.fhir.systems import BASE_PATH, FHIR_JSON
from app.security.asgi import ASGIApp, Message, Receive, Scope, Send

Handler = Callable[[Request, Any], Response | Awaitable[Response]]
PREFIX = f"{BASE_PATH.rsplit('/', 1)[0]}/"  # "/fhir/": every FHIR address
# HTTP status -> the OperationOutcome issue code (http://hl7.org/fhir/issue-type).
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    412: "conflict",
    413: "too-long",
    422: "processing",
    429: "throttled",
}
MAX_ISSUES = 20


class FhirError(DomainError):
    """A refusal of the FHIR interface, with its OperationOutcome issue code."""

    status_code, code, title = 400, "invalid", "Invalid FHIR request"

    def __init__(self, detail: str, *, status: int = 400, issue: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status
        self.code = issue or ISSUE_CODES.get(status, "processing")


def is_fhir(path: str) -> bool:
    return path.startswith(PREFIX)


def outcome(
    status: int, issues: list[tuple[str, str, str | None]], headers: dict[str, str] | None = None
) -> Response:
    """An OperationOutcome answer: each issue is (code, diagnostics, expression or None)."""
    document = OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "fatal" if status >= 500 else "error",
                    "code": code,
                    "diagnostics": text or code,
                    **({"expression": [where]} if where else {}),
                }
                for code, text, where in issues[:MAX_ISSUES]
            ],
        }
    )
    return Response(
        document.model_dump_json(), status_code=status, media_type=FHIR_JSON, headers=headers
    )


def _for(exc: Exception) -> Response:
    if isinstance(exc, DomainError):
        return outcome(
            exc.status_code,
            [(_issue_code(exc), exc.detail, None)],
            exc.headers() or None,
        )
    if isinstance(exc, RequestValidationError):
        return outcome(400, [_validation_issue(e) for e in exc.errors()])
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for these only
    status = exc.status_code
    text = "No such FHIR address" if status == 404 else str(exc.detail)
    headers = dict(exc.headers) if exc.headers else None
    return outcome(status, [(ISSUE_CODES.get(status, "processing"), text, None)], headers)


def _issue_code(exc: DomainError) -> str:
    if isinstance(exc, FhirError):
        return exc.code
    return ISSUE_CODES.get(exc.status_code, "processing")


def _validation_issue(error: Any) -> tuple[str, str, str | None]:
    loc = [_printable(str(p)) for p in error.get("loc", ())]
    where = loc[1] if len(loc) > 1 else None
    kind = str(error.get("type", ""))
    code = "not-supported" if kind == "extra_forbidden" else "invalid"
    message = _printable(str(error.get("msg", "")))
    if kind == "extra_forbidden" and where:
        message = f"Unknown or unsupported search parameter {where!r} (strict handling)"
    elif where:
        message = f"{where}: {message}"
    return code, message, None


def _printable(text: str) -> str:
    # Input may carry unpaired surrogates, which JSON cannot encode: escape them.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _fhir_or(previous: Handler) -> Handler:
    async def handler(request: Request, exc: Any) -> Response:
        if is_fhir(request.url.path):
            return _for(exc)
        answer = previous(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    return handler


def install_outcomes(application: FastAPI) -> None:
    """Wrap the application's error handlers (installed already) for /fhir paths."""
    for error in (DomainError, RequestValidationError, StarletteHTTPException):
        application.add_exception_handler(error, _fhir_or(application.exception_handlers[error]))
    application.add_middleware(OutcomesForFhir)


class OutcomesForFhir:
    """Turns a problem document answered for a /fhir path into an OperationOutcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_fhir(scope["path"]):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = b""

        async def sending(message: Message) -> None:
            nonlocal held, body
            if message["type"] == "http.response.start" and _is_problem(message):
                held = message
                return
            if held is None:
                await send(message)
                return
            body += message.get("body", b"")
            if message.get("more_body"):
                return
            await _send_outcome(send, held, body)

        await self.app(scope, receive, sending)


def _is_problem(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return bytes(value).startswith(b"application/problem+json")
    return False


async def _send_outcome(send: Send, start: Message, body: bytes) -> None:
    status = int(start["status"])
    try:
        problem = json.loads(body)
        detail = str(problem.get("detail") or problem.get("title") or "")
    except ValueError:
        detail = ""
    answer = outcome(status, [(ISSUE_CODES.get(status, "exception"), detail, None)])
    kept = [
        (k, v)
        for k, v in start.get("headers", ())
        if k.lower() not in (b"content-type", b"content-length")
    ]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *kept,
                (b"content-type", FHIR_JSON.encode()),
                (b"content-length", str(len(answer.body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": bytes(answer.body)})
