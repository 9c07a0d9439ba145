"""Security headers on every response, added as the response starts (pure ASGI).

A header the application set itself is left alone, so a route can loosen or tighten one.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.security.asgi import ASGIApp, Message, Receive, Scope, Send

# The screens use only the service's own stylesheets and scripts (NHS.UK frontend's module and
# a small progressive-enhancement script, never inline script), inline SVG and same-origin
# forms; the dashboard's templates carry a few `style` attributes, hence style-src-attr. JSON
# needs less still, so one policy serves both.
DEFAULT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# /docs (Swagger UI) and /redoc (ReDoc) are served whole by the service (app/apidocs): scripts
# from 'self' only, the schema and "Try it out" fetched from 'self'. Swagger UI needs nothing more.
# ReDoc needs three things, each allowed as narrowly as it can be:
# - its styles (styled-components) go in through an empty <style> element (the first hash, of
#   the empty string) and CSSOM insertRule, which the policy does not police;
# - its scrollbar library adds one fixed stylesheet (the second hash: ReDoc 2.5.3 as
#   fastapi-offline 1.7.7 ships it; the browser test fails if an upgrade changes it);
# - its search index runs in a Web Worker made from a blob: URL (worker-src blob:).
# ReDoc also shows Redocly's logo from Redocly's CDN (hard-coded, no option turns it off): img-src
# 'self' blocks that in the browser, so the request never leaves it.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; "
    "style-src 'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' "
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='; img-src 'self' data:; "
    "connect-src 'self'; worker-src blob:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
# Static assets may be cached; every other response may carry patient data and must not be.
CACHEABLE_PREFIXES = ("/dashboard/static/", "/static/", "/docs/static/")


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        csp: str = DEFAULT_CSP,
        docs_csp: str = DOCS_CSP,
        hsts_seconds: int = 0,
    ) -> None:
        self.app = app
        self.csp = csp
        self.docs_csp = docs_csp
        self.common = common_headers(hsts_seconds)
        # The headers added, worked out once for each (docs page?, cacheable?) combination.
        self._extra = {
            (docs, cacheable): self._headers(docs, cacheable)
            for docs in (False, True)
            for cacheable in (False, True)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = self._extra[(self._is_docs(path), path.startswith(CACHEABLE_PREFIXES))]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = merged(message.get("headers", ()), extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _is_docs(path: str) -> bool:
        return path in DOCS_PATHS or path.startswith("/docs/")

    def _headers(self, docs: bool, cacheable: bool) -> tuple[tuple[bytes, bytes], ...]:
        extra = list(self.common)
        extra.append((b"content-security-policy", (self.docs_csp if docs else self.csp).encode()))
        if not cacheable:
            extra.append((b"cache-control", b"no-store"))
        return tuple(extra)


def common_headers(hsts_seconds: int) -> list[tuple[bytes, bytes]]:
    out = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts_seconds > 0:
        out.append((b"strict-transport-security", f"max-age={hsts_seconds}".encode()))
    return out


def merged(
    existing: Iterable[tuple[bytes, bytes]], extra: Iterable[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    headers = list(existing)
    present = {bytes(k).lower() for k, _ in headers}
    headers.extend((k, v) for k, v in extra if k not in present)
    return headers


def error_headers(csp: str, hsts_seconds: int) -> dict[str, str]:
    """The same headers for the 500 answer, which Starlette sends from outside the middleware."""
    headers = {k.decode(): v.decode() for k, v in common_headers(hsts_seconds)}
    headers["content-security-policy"] = csp
    headers["cache-control"] = "no-store"
    return headers
