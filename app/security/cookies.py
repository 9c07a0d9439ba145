"""The browser session cookie: its name (the rate limiter buckets a signed-in page by it), where
it is sent, its attributes, and the sign-in forms the cross-site guard watches."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

# An opaque reference to a server-side session (app/auth/sessions.py), never a credential.
SESSION_COOKIE = "homefirst_session"
# Every screen (/, /tracker, /chc/queue, /ic/board, /dashboard ...) shares the one sign-in.
SESSION_COOKIE_PATH = "/"
# Forms that sign a browser in: refused when posted from another site (login CSRF), like every
# state-changing request carrying the session cookie (app/security/origin.py).
SIGN_IN_PATHS = frozenset({"/sign-in", "/sign-in/token"})


def secure_cookie(request: Request, always: bool) -> bool:
    """`Secure` when the request came over HTTPS (uvicorn sets the scheme from a trusted proxy's
    X-Forwarded-Proto), or always when configured so."""
    return always or request.url.scheme == "https"


def set_session_cookie(response: Response, value: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path=SESSION_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=SESSION_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )
