"""POST /auth/tokens/rotate: swap the caller's token for a new one, at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.auth.needs import ANY_USER
from app.auth.service import rotate_token
from app.deps import BearerToken, CurrentActor, SessionDep
from app.security.inputs import RequestModel

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
