"""The API's documentation pages, served whole by the service: no CDN, so they work on a
network that cannot reach the internet.

    /docs                   Swagger UI
    /redoc                  ReDoc
    /docs/oauth2-redirect   where Swagger UI's OAuth2 sign-in window comes back to
    /docs/static/...        the assets: Swagger UI and ReDoc as the fastapi-offline package ships
                            them, and this package's own start-up scripts (static/)

FastAPI's helpers (`fastapi.openapi.docs`) start Swagger UI with an inline `<script>`, which
the docs' Content-Security-Policy would have to allow with 'unsafe-inline'. These pages carry
their settings as `data-` attributes instead, read by a same-origin script, so the policy
(`app.security.headers.DOCS_CSP`) allows scripts from 'self' only.

Nothing happens on import: `create_app` calls `install_api_docs`.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
STATIC_URL = "/docs/static"
# Looked up in this order: our start-up scripts, then the vendored Swagger UI and ReDoc files.
ASSET_PACKAGES: list[str | tuple[str, str]] = [
    ("app.apidocs", "static"),
    ("fastapi_offline", "static"),
]

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{static}/favicon.png">
"""

SWAGGER_PAGE = (
    _HEAD
    + """<link rel="stylesheet" href="{static}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}" data-oauth2-redirect-url="{redirect}"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-init.js"></script>
</body>
</html>
"""
)

REDOC_PAGE = (
    _HEAD
    + """</head>
<body>
<div id="redoc" data-openapi-url="{openapi}"></div>
<script src="{static}/redoc.standalone.js"></script>
<script src="{static}/redoc-init.js"></script>
</body>
</html>
"""
)

OAUTH2_REDIRECT_PAGE = (
    _HEAD
    + """</head>
<body>
<p id="status">Returning to the API documentation…</p>
<script src="{static}/oauth2-redirect.js"></script>
</body>
</html>
"""
)


def install_api_docs(application: FastAPI) -> None:
    """Serve the documentation pages and their assets. `application` must have been made with
    `docs_url=None, redoc_url=None`, so FastAPI's CDN-loading pages are not there as well."""
    if application.docs_url is not None or application.redoc_url is not None:
        raise ValueError("make the FastAPI application with docs_url=None and redoc_url=None")
    openapi_url = application.openapi_url
    if openapi_url is None:
        raise ValueError("the documentation pages need the OpenAPI schema (openapi_url)")
    title = application.title

    def render(page: str, request: Request, heading: str) -> HTMLResponse:
        # Behind a proxy that serves the API under a prefix, every link carries that prefix.
        root = str(request.scope.get("root_path", ""))
        return HTMLResponse(
            page.format(
                title=escape(f"{title} - {heading}"),
                static=escape(root + STATIC_URL),
                openapi=escape(root + openapi_url),
                redirect=escape(root + OAUTH2_REDIRECT_URL),
            )
        )

    async def swagger_ui(request: Request) -> HTMLResponse:
        return render(SWAGGER_PAGE, request, "Swagger UI")

    async def redoc(request: Request) -> HTMLResponse:
        return render(REDOC_PAGE, request, "ReDoc")

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return render(OAUTH2_REDIRECT_PAGE, request, "signing in")

    # The assets first: /docs/static/... must not be taken for a page.
    application.mount(STATIC_URL, StaticFiles(packages=ASSET_PACKAGES), name="apidocs-static")
    application.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    application.add_route(OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)
    application.add_route(REDOC_URL, redoc, include_in_schema=False)
