"""Mounts the screens on the application: their routers, static files and the answers every
page may give instead of itself (sign in first; not for your roles; an error as a page).
Called by create_app, after the API's JSON error handlers are installed."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import DomainError
from app.web import (
    account,
    actions_page,
    adt_dead_letters,
    case_page,
    chc_pages,
    huddle,
    ic_board,
    pathway_fit_page,
    referrals_page,
    signin,
    tracker,
)
from app.web.access import (
    PageForbidden,
    PasswordChangeRequired,
    SignInRequired,
    change_password_redirect,
    sign_in_redirect,
    signed_in_actor,
)
from app.web.templating import STATIC_DIR, render

Handler = Callable[[Request, Any], Response | Awaitable[Response]]
# Addresses that answer JSON whoever asks (the API, FHIR, the description, health checks,
# metrics).
NOT_PAGES = ("/api/", "/fhir/", "/openapi.json", "/healthz", "/readyz", "/metrics")


def install_pages(application: FastAPI) -> None:
    application.include_router(signin.router)
    application.include_router(case_page.router)
    application.include_router(account.router)
    application.include_router(ic_board.router)
    application.include_router(chc_pages.router)
    application.include_router(huddle.router)
    application.include_router(tracker.router)
    application.include_router(adt_dead_letters.router)
    application.include_router(actions_page.router)
    application.include_router(referrals_page.router)
    application.include_router(pathway_fit_page.router)
    application.add_exception_handler(SignInRequired, _sign_in_first)
    application.add_exception_handler(PageForbidden, _forbidden)
    for error in (RequestValidationError, DomainError, StarletteHTTPException):
        previous = application.exception_handlers[error]
        application.add_exception_handler(error, _page_or(previous))
    application.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    application.add_api_route("/favicon.ico", _favicon, methods=["GET"], include_in_schema=False)


def _favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "nhsuk" / "assets" / "images" / "favicon.ico")


def is_page_request(request: Request) -> bool:
    """A request a screen answers, or a browser's request for a page: errors are pages."""
    if request.url.path.startswith(NOT_PAGES):
        return False
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and not route.include_in_schema:
        return True
    return "text/html" in request.headers.get("accept", "")


def _page_or(previous: Handler) -> Handler:
    async def handler(request: Request, exc: Any) -> Response:
        if is_page_request(request):
            return _error_page(request, exc)
        answer = previous(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    return handler


def _error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RequestValidationError):
        status, title = 422, "The form could not be read"
        details = [f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()]
    elif isinstance(exc, DomainError):
        status, title, details = exc.status_code, exc.title, [exc.detail]
    else:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for these
        status = exc.status_code
        title = "Page not found" if status == 404 else str(exc.detail)
        details = []
    with request.app.state.sessions() as db:
        actor = signed_in_actor(request, db)
    return render(
        request,
        "error.html",
        actor=actor,
        page_title=title,
        details=details,
        status_code=status,
        headers=exc.headers() if isinstance(exc, DomainError) else getattr(exc, "headers", None),
    )


async def _sign_in_first(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)  # noqa: S101 - registered for this class only
    if isinstance(exc, PasswordChangeRequired):
        return RedirectResponse(change_password_redirect(exc.next_path), status_code=303)
    return RedirectResponse(sign_in_redirect(exc.next_path), status_code=303)


def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)  # noqa: S101 - registered for this class only
    with request.app.state.sessions() as db:
        actor = signed_in_actor(request, db)
    return render(request, "forbidden.html", actor=actor, page_title="No access", status_code=403)
