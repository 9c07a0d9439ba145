"""The vocabulary routes use: a session, the acting user, the engine, common headers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.auth.service import authenticate
from app.codelists.loader import CodeSetRegistry
from app.config import Settings, get_settings
from app.db import get_db
from app.engine.engine import Engine
from app.errors import Unauthorized
from app.timeutil import utcnow

SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
_bearer = HTTPBearer(auto_error=False, description="A token from `homefirst tokens create`.")


def current_actor(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send Authorization: Bearer <token>")
    return authenticate(session, credentials.credentials, now=utcnow())


def get_engine_dep(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_codes_dep(request: Request) -> CodeSetRegistry:
    codes: CodeSetRegistry = request.app.state.codes
    return codes


CurrentActor = Annotated[Actor, Depends(current_actor)]
CodesDep = Annotated[CodeSetRegistry, Depends(get_codes_dep)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Makes a retry safe: the same key and body replays the first answer.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=40, description='The case\'s ETag, e.g. "3".'),
]
