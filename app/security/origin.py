"""Refuse cross-site state-changing requests from browsers (CSRF and login CSRF), pure ASGI.

A request that changes state (any method but GET, HEAD and OPTIONS) and either carries the
browser session cookie or posts to a sign-in form must come from this service's own pages: its
`Origin` (or, when the browser sends none or `null`, its `Referer`) must name the host the
request was sent to, or one of the configured trusted origins. Neither header is a 403 too:
every browser sends `Origin` on a form post (the pages use `Referrer-Policy: same-origin`,
under which it is the real origin rather than `null`). Requests with a bearer token and no
cookie are not browser sessions and pass untouched: a browser cannot attach a token by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from app.problems import problem
from app.security.asgi import ASGIApp, Receive, Scope, Send, cookie, header

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class SameOriginGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        cookie_name: str,
        sign_in_paths: Iterable[str],
        trusted_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.cookie_name = cookie_name
        self.sign_in_paths = frozenset(p.rstrip("/") for p in sign_in_paths)
        self.trusted = frozenset(
            o for o in (_origin_of(t) for t in trusted_origins) if o is not None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and (
                cookie(scope, self.cookie_name) is not None
                or scope.get("path", "").rstrip("/") in self.sign_in_paths
            )
            and not self.same_origin(scope)
        ):
            response = problem(
                403,
                "cross_site_request",
                "Cross-site request refused",
                "This request must come from the service's own pages: its Origin (or Referer) "
                "does not name this site.",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def same_origin(self, scope: Scope) -> bool:
        origin = header(scope, b"origin")
        source = origin if origin and origin.strip() != "null" else header(scope, b"referer")
        claimed = _origin_of(source) if source else None
        if claimed is None:
            return False
        if claimed in self.trusted:
            return True
        host = header(scope, b"host")
        return host is not None and _authority(claimed[0], "//" + host) == claimed[1]


def _origin_of(url: str) -> tuple[str, str] | None:
    """(scheme, host[:port]) of an absolute http(s) URL, the default port left out; else None."""
    scheme = urlsplit(url.strip()).scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return None
    authority = _authority(scheme, url.strip())
    return (scheme, authority) if authority else None


def _authority(scheme: str, url: str) -> str | None:
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number, a malformed IPv6 literal
        return None
    if not hostname:
        return None
    name = f"[{hostname}]" if ":" in hostname else hostname
    return name if port in (None, DEFAULT_PORTS[scheme]) else f"{name}:{port}"
