"""`/`: sign in, then the home page for the person's roles; and signing out.

People sign in with a username and password, or through their organisation's identity
provider (OpenID Connect), or (for people who already hold one, and for tests) an API token.
Whatever the credential, the result is the same server-side session (app/auth/sessions.py),
its id in an HttpOnly, SameSite=Strict cookie scoped to the whole site. Sign-in forms posted
from another site are refused before they get here (login CSRF, app/security/origin.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.auth import sessions
from app.auth.passwords import AccountLocked, Lockout, must_change, sign_in_with_password
from app.config import Settings
from app.db import get_db
from app.errors import Unauthorized
from app.security.cookies import (
    SESSION_COOKIE,
    clear_session_cookie,
    secure_cookie,
    set_session_cookie,
)
from app.timeutil import utcnow
from app.web.access import change_password_redirect, safe_next, session_policy, signed_in_actor
from app.web.oidc import sign_in_options
from app.web.screens import screens_for, waiting_on
from app.web.templating import render

router = APIRouter(include_in_schema=False)
DbDep = Annotated[Session, Depends(get_db)]
NextPath = Annotated[str | None, Query(alias="next", max_length=2000)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: DbDep, next_path: NextPath = None) -> Response:
    """The home page of a signed-in person; the sign-in page for anyone else."""
    actor = signed_in_actor(request, db)
    if actor is None:
        return _sign_in_page(request, next_path=safe_next(next_path))
    if must_change(db, actor.user_id):
        return RedirectResponse(change_password_redirect(safe_next(next_path)), status_code=303)
    if next_path and safe_next(next_path) != "/":
        return RedirectResponse(safe_next(next_path), status_code=303)
    screens = screens_for(request, actor)
    return render(
        request,
        "home.html",
        actor=actor,
        screens=screens,
        waiting=waiting_on(db, actor, screens),
        page_title="Home",
        password_changed=request.query_params.get("password_changed") == "1",
    )


def _sign_in_page(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    status_code: int = 200,
    organisation: str = "",
    username: str = "",
    error_field: str = "username",
) -> HTMLResponse:
    return render(
        request,
        "sign_in.html",
        actor=None,
        next_path=next_path,
        error=error,
        password_form=True,
        organisation=organisation,
        username=username,
        error_field=error_field,
        identity_providers=sign_in_options(request),
        request_signed_out=request.query_params.get("signed_out") == "1",
        page_title="Sign in",
        status_code=status_code,
    )


# Longer than any real password or name: a bigger form is refused as unreadable before hashing.
MAX_FIELD = 200


@router.post("/sign-in")
def sign_in(
    request: Request,
    db: DbDep,
    organisation: Annotated[str, Form(max_length=64)] = "",
    username: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Username and password (argon2id, app/auth/passwords.py): one message for every wrong
    combination, so the page does not tell which part was wrong; a locked account says until
    when. Someone whose password an administrator has just set is asked to choose their own."""
    organisation, username = organisation.strip().upper(), username.strip()
    missing = [
        (field, text)
        for field, value, text in (
            ("organisation", organisation, "Enter your organisation code"),
            ("username", username, "Enter your username"),
            ("password", password, "Enter your password"),
        )
        if not value
    ]
    if missing:
        return _sign_in_page(
            request,
            next_path=safe_next(next_path),
            error=f"{missing[0][1]}.",
            error_field=missing[0][0],
            status_code=422,
            organisation=organisation,
            username=username,
        )
    try:
        signed_in = sign_in_with_password(
            db,
            organisation=organisation,
            username=username,
            password=password,
            now=utcnow(),
            policy=session_policy(request),
            lockout=Lockout.from_settings(_settings(request)),
        )
    except AccountLocked as exc:
        return _sign_in_page(
            request,
            next_path=safe_next(next_path),
            error=exc.detail,
            status_code=401,
            organisation=organisation,
            username=username,
        )
    except Unauthorized:
        return _sign_in_page(
            request,
            next_path=safe_next(next_path),
            error="The organisation, username or password is not right.",
            status_code=401,
            organisation=organisation,
            username=username,
        )
    destination = safe_next(next_path)
    if signed_in.must_change:
        destination = change_password_redirect(destination)
    return signed_in_response(request, db, signed_in, destination)


@router.post("/sign-in/token")
def sign_in_with_token(
    request: Request,
    db: DbDep,
    token: Annotated[str, Form(max_length=200)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    now = utcnow()
    if not token.strip():
        return _sign_in_page(
            request,
            next_path=safe_next(next_path),
            error="Enter your access token.",
            error_field="token",
            status_code=422,
        )
    try:
        signed_in = sessions.sign_in_with_token(
            db, token.strip(), now=now, policy=session_policy(request)
        )
    except Unauthorized as exc:
        return _sign_in_page(
            request,
            next_path=safe_next(next_path),
            error=f"Not signed in: {exc.detail}.",
            error_field="token",
            status_code=401,
        )
    return signed_in_response(request, db, signed_in, safe_next(next_path))


def signed_in_response(
    request: Request, db: Session, signed_in: sessions.SignedIn, destination: str
) -> Response:
    """303 to where the person was going, with the new session's cookie. A session the browser
    already had ends rather than lingering."""
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        sessions.end(db, previous, now=utcnow())
    response = RedirectResponse(destination, status_code=303)
    set_session_cookie(
        response,
        signed_in.session_id,
        max_age=int(session_policy(request).absolute.total_seconds()),
        secure=secure_cookie(request, _settings(request).session_cookie_secure),
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, db: DbDep) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        sessions.end(db, session_id, now=utcnow())
    response = RedirectResponse("/?signed_out=1", status_code=303)
    clear_session_cookie(
        response, secure=secure_cookie(request, _settings(request).session_cookie_secure)
    )
    return response
