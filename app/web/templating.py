"""Jinja for the screens: HomeFirst's templates first, then NHS.UK frontend's own component
macros (`nhsuk-frontend-jinja`, NHS England's Jinja port of the design system).

Every page answers with `Referrer-Policy: same-origin`: the forms post to this site, and under
the service-wide `no-referrer` a browser sends `Origin: null` with them, which the cross-site
guard (app/security/origin.py) cannot tell from an attack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader

from app.auth.actor import Actor
from app.web.screens import screens_for

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
PAGE_HEADERS = {"Referrer-Policy": "same-origin"}
# The vendored NHS.UK frontend release (app/web/static/nhsuk/VENDORED.md); nhsuk-frontend-jinja
# 0.10.2 is the Jinja port of this release.
NHSUK_FRONTEND_VERSION = "10.6.1"

templates = Environment(
    loader=ChoiceLoader(
        [FileSystemLoader(WEB_DIR / "templates"), PackageLoader("nhsuk_frontend_jinja")]
    ),
    # The NHS.UK macros read optional parameters as chains (params.label.text).
    undefined=ChainableUndefined,
    autoescape=True,
    # Templates ship with the package: never re-check files on disk (each NHS.UK macro import
    # did, about 100 checks a tracker page, up to 130 ms under I/O load).
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["nhsuk_frontend_version"] = NHSUK_FRONTEND_VERSION


def render(
    request: Request,
    template: str,
    *,
    actor: Actor | None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in the common layout: the header names the person and links to their screens."""
    content = templates.get_template(template).render(
        actor=actor,
        navigation=screens_for(request, actor) if actor is not None else [],
        current_path=request.url.path,
        **context,
    )
    return HTMLResponse(
        content, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})}
    )
