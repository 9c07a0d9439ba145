"""The vocabulary routes use: a session, the acting user, the engine, common headers.

Dependencies that do no blocking work are `async def`: FastAPI runs every plain `def`
dependency in the thread pool, and each hand-off costs more than the work itself. The acting
user is read from the database on every request (one indexed statement, in the thread pool), so
a revocation anywhere refuses the next request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.auth.actor import Actor
from app.auth.service import authenticate_request
from app.cases.scope import require_visible
from app.cases.transition import CaseWriter
from app.codelists.loader import CodeSetRegistry
from app.config import Settings, get_settings
from app.db import get_db
from app.engine.engine import Engine
from app.errors import Unauthorized
from app.observability.logs import bind_actor
from app.security.inputs import MAX_ID
from app.timeutil import utcnow


async def settings_dep() -> Settings:
    return get_settings()


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(settings_dep)]
_bearer = HTTPBearer(auto_error=False, description="A token from `homefirst tokens create`.")


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send Authorization: Bearer <token>")
    sessions: sessionmaker[Session] = request.app.state.sessions
    actor = await run_in_threadpool(_authenticate, sessions, credentials.credentials, utcnow())
    bind_actor(actor.user_id, actor.organisation)  # for this request's log lines
    return actor


def _authenticate(sessions: sessionmaker[Session], token: str, now: datetime) -> Actor:
    return authenticate_request(sessions, token, now=now)


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The raw bearer token of the request (for rotating it); never logged or stored."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send Authorization: Bearer <token>")
    return credentials.credentials


async def get_engine_dep(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_codes_dep(request: Request) -> CodeSetRegistry:
    codes: CodeSetRegistry = request.app.state.codes
    return codes


CurrentActor = Annotated[Actor, Depends(current_actor)]
BearerToken = Annotated[str, Depends(bearer_token)]
CodesDep = Annotated[CodeSetRegistry, Depends(get_codes_dep)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
IDEMPOTENCY_KEY_MAX = 200
IF_MATCH_MAX = 40
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=IDEMPOTENCY_KEY_MAX,
        description="Makes a retry safe: the same key and body replays the first answer.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=IF_MATCH_MAX, description='The case\'s ETag, e.g. "3".'),
]
# A database id in a path: a positive integer the database can hold (larger is a 422).
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def visible_case(case_id: IdPath, actor: CurrentActor, db: SessionDep) -> int:
    """The path's case id, once the caller's organisation may see the case (else 404)."""
    require_visible(db, case_id, actor.organisation)
    db.rollback()  # end the check's read; the use case runs its own transaction
    return case_id


# A case the caller's organisation owns or shares; use in place of `IdPath` for `{case_id}`.
VisibleCaseId = Annotated[int, Depends(visible_case)]


async def get_writer_dep(request: Request) -> CaseWriter:
    writer: CaseWriter = request.app.state.writer
    return writer


# The one transition entry point, for routes whose use case changes cases.
WriterDep = Annotated[CaseWriter, Depends(get_writer_dep)]
