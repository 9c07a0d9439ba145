"""Mounts the screens on the application: their routers, static files and the two answers every
page may give instead of itself (sign in first; not for your roles). Called by create_app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.web import chc_pages, signin
from app.web.access import PageForbidden, SignInRequired, sign_in_redirect, signed_in_actor
from app.web.templating import STATIC_DIR, render


def install_pages(application: FastAPI) -> None:
    application.include_router(signin.router)
    application.include_router(chc_pages.router)
    application.add_exception_handler(SignInRequired, _sign_in_first)
    application.add_exception_handler(PageForbidden, _forbidden)
    application.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


async def _sign_in_first(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)  # noqa: S101 - registered for this class only
    return RedirectResponse(sign_in_redirect(exc.next_path), status_code=303)


def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)  # noqa: S101 - registered for this class only
    with request.app.state.sessions() as db:
        actor = signed_in_actor(request, db)
    return render(request, "forbidden.html", actor=actor, page_title="No access", status_code=403)
