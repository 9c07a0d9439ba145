"""`/account/password`: the signed-in person chooses their own password (and must, after an
administrator has issued or reset one). Their other browsers are signed out; this one stays."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth.passwords import (
    AccountLocked,
    Lockout,
    NoPassword,
    WeakPassword,
    WrongPassword,
    change_password,
    must_change,
)
from app.config import Settings
from app.deps import SessionDep
from app.security.cookies import SESSION_COOKIE
from app.timeutil import utcnow
from app.web.access import SIGNED_IN, PageUser, safe_next
from app.web.templating import render

router = APIRouter(include_in_schema=False)
MAX_FIELD = 200


@router.get("/account/password", response_class=HTMLResponse)
def change_form(
    request: Request,
    user: Annotated[PageUser, SIGNED_IN],
    db: SessionDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> Response:
    return _page(request, user, required=must_change(db, user.actor.user_id), next_path=next_path)


def _page(
    request: Request,
    user: PageUser,
    *,
    required: bool,
    next_path: str | None,
    error: str | None = None,
    error_field: str = "current",
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "change_password.html",
        actor=user.actor,
        page_title="Change your password",
        required=required,
        next_path=safe_next(next_path),
        error=error,
        error_field=error_field,
        status_code=status_code,
    )


@router.post("/account/password")
def change(
    request: Request,
    user: Annotated[PageUser, SIGNED_IN],
    db: SessionDep,
    current: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    new: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    confirm: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    required = must_change(db, user.actor.user_id)

    def again(error: str, field: str, status_code: int) -> HTMLResponse:
        return _page(
            request,
            user,
            required=required,
            next_path=next_path,
            error=error,
            error_field=field,
            status_code=status_code,
        )

    if not current:
        return again("Enter your current password.", "current", 422)
    if not new:
        return again("Enter a new password.", "new", 422)
    if new != confirm:
        return again("The new password and its confirmation are not the same.", "confirm", 422)
    settings: Settings = request.app.state.settings
    try:
        change_password(
            db,
            user_id=user.actor.user_id,
            current=current,
            new=new,
            now=utcnow(),
            lockout=Lockout.from_settings(settings),
            keep_session=request.cookies.get(SESSION_COOKIE),
        )
    except WeakPassword as exc:
        return again(exc.detail, "new", 422)
    except (WrongPassword, AccountLocked) as exc:
        return again(exc.detail, "current", exc.status_code)
    except NoPassword as exc:
        return again(exc.detail, "current", exc.status_code)
    destination = safe_next(next_path)
    separator = "&" if "?" in destination else "?"
    return RedirectResponse(f"{destination}{separator}password_changed=1", status_code=303)
