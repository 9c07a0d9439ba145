"""POST /auth/tokens/rotate: swap the caller's token for a new one, at once. POST /auth/password:
change one's own password."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.auth.needs import ANY_USER
from app.auth.passwords import Lockout, change_password
from app.auth.service import rotate_token
from app.config import Settings
from app.deps import BearerToken, CurrentActor, SessionDep
from app.security.inputs import RequestModel
from app.timeutil import utcnow

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenRotate(RequestModel):
    model_config = ConfigDict(extra="forbid")
    expires_in_days: StrictInt | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Lifetime of the new token; by default the old token's lifetime (or none).",
    )


class TokenIssued(BaseModel):
    token: str = Field(description="The new bearer token. Shown once: store it now.")
    prefix: str
    username: str
    expires_at: datetime | None
    revoked_prefix: str = Field(description="The prefix of the token this one replaces.")


RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token (missing, unknown, expired or revoked)"}
}


@router.post(
    "/tokens/rotate",
    status_code=201,
    response_model=TokenIssued,
    responses=RESPONSES,
    openapi_extra=ANY_USER,
)
def rotate(
    _actor: CurrentActor,
    db: SessionDep,
    token: BearerToken,
    body: Annotated[TokenRotate | None, Body()] = None,
) -> JSONResponse:
    """Issue a new token for you and revoke the one this request was sent with, in one step.
    The old token stops working at once; the new one is shown only in this answer."""
    days = body.expires_in_days if body else None
    issued, old_prefix = rotate_token(
        db, raw_token=token, expires_in=timedelta(days=days) if days else None
    )
    out = TokenIssued(
        token=issued.token,
        prefix=issued.prefix,
        username=issued.username,
        expires_at=issued.expires_at,
        revoked_prefix=old_prefix,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


class PasswordChange(RequestModel):
    model_config = ConfigDict(extra="forbid")
    # Generous caps: the rules themselves (app.auth.passwords.check_strength) answer a clear
    # `weak_password`; these only bound the work a request can ask for.
    current: str = Field(min_length=1, max_length=1000, description="Your password now.")
    new: str = Field(
        min_length=1,
        max_length=1000,
        description="At least 12 characters, at most 200; not your username, not a common one.",
    )


PASSWORD_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No valid bearer token; or `account_locked`: too many failed attempts "
        "(the answer says until when; an administrator's reset unlocks it)",
        "content": {"application/problem+json": {}},
    },
    403: {
        "description": "`wrong_password`: the current password is not right (counted towards "
        "the lockout, as a failed sign-in is)",
        "content": {"application/problem+json": {}},
    },
    409: {
        "description": "`no_password`: you have no password yet (an administrator issues one)",
        "content": {"application/problem+json": {}},
    },
    422: {
        "description": "`weak_password`: the new password breaks a rule (the answer says which)",
        "content": {"application/problem+json": {}},
    },
}


@router.post("/password", status_code=204, responses=PASSWORD_RESPONSES, openapi_extra=ANY_USER)
def change_own_password(
    body: PasswordChange, actor: CurrentActor, db: SessionDep, request: Request
) -> Response:
    """Change your own password (for signing in to the pages). Your signed-in browsers are
    signed out; API tokens are not affected."""
    settings: Settings = request.app.state.settings
    change_password(
        db,
        user_id=actor.user_id,
        current=body.current,
        new=body.new,
        now=utcnow(),
        lockout=Lockout.from_settings(settings),
    )
    return Response(status_code=204)
