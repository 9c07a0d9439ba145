"""Who may open a page: the signed-in person from their session, and the read the page needs.

Pages declare their need as a parameter, the way API routes do with `app.auth.needs`:

    def tracker(user: Annotated[PageUser, page_needs("rfd.read")]) -> Response: ...

A browser without a live session is sent to sign in (303 to `/?next=<this page>`), and comes
back after; a person whose roles lack the read gets a 403 page. The read is looked up in the
same policy the API uses (pathways/config/access.yaml), so a page never shows what the API
would refuse. `tests/web/test_page_access.py` finds every page route and checks that it
declares a need and that the need is enforced, as the API's authorisation matrix does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.auth import sessions
from app.auth.access import READS, AccessPolicy, Grant
from app.auth.actor import Actor
from app.auth.passwords import must_change
from app.config import Settings
from app.db import get_db
from app.errors import Unauthorized
from app.observability.logs import bind_actor
from app.security.cookies import SESSION_COOKIE
from app.timeutil import utcnow


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to sign in, then back to `next`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PasswordChangeRequired(SignInRequired):
    """Signed in with a password an administrator issued: choose one's own first."""


CHANGE_PASSWORD_PATH = "/account/password"  # noqa: S105 - an address, not a password


class PageForbidden(Exception):
    """Signed in, but the person's roles do not include what the page shows."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True)
class PageUser:
    actor: Actor
    grant: Grant | None  # None for pages any signed-in person may open


def session_policy(request: Request) -> sessions.SessionPolicy:
    settings: Settings = request.app.state.settings
    return sessions.SessionPolicy.from_settings(settings)


def signed_in_actor(request: Request, db: Session) -> Actor | None:
    """The person of the request's live session, or None (no cookie, ended, expired)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    try:
        actor = sessions.current(db, session_id, now=utcnow(), policy=session_policy(request))
    except Unauthorized:
        return None
    bind_actor(actor.user_id, actor.organisation)  # for this request's log lines
    return actor


def safe_next(value: str | None) -> str:
    """A path on this site to go to after signing in; anything else (another site, a scheme,
    `//host`, a backslash trick) is the home page."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x20 or c == "\\" for c in value):
        return "/"
    return value


def here(request: Request) -> str:
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


class PageNeeds:
    """The dependency behind `page_needs(read)` and `SIGNED_IN`."""

    def __init__(self, read: str | None) -> None:
        if read is not None and read not in READS:
            raise ValueError(f"unknown read {read!r}: add it to app.auth.access.READS")
        self.read = read

    def __call__(self, request: Request, db: Session = Depends(get_db)) -> PageUser:
        actor = signed_in_actor(request, db)
        if actor is None:
            raise SignInRequired(here(request))
        if request.url.path != CHANGE_PASSWORD_PATH and must_change(db, actor.user_id):
            raise PasswordChangeRequired(here(request))
        if self.read is None:
            return PageUser(actor, None)
        access: AccessPolicy = request.app.state.access
        grant = access.grant(self.read, actor.roles)
        if grant is None:
            raise PageForbidden(self.read)
        return PageUser(actor, grant)


def page_needs(read: str) -> Any:
    """The page shows what `read` grants (pathways/config/access.yaml)."""
    return Depends(PageNeeds(read))


# Any signed-in person (pages about themselves, or without patient data).
SIGNED_IN: Any = Depends(PageNeeds(None))


def sign_in_redirect(next_path: str) -> str:
    return "/" if next_path == "/" else f"/?next={quote(next_path, safe='/')}"


def change_password_redirect(next_path: str) -> str:
    if next_path == "/":
        return CHANGE_PASSWORD_PATH
    return f"{CHANGE_PASSWORD_PATH}?next={quote(next_path, safe='/')}"
