"""GET /audit for information-governance officers; `log_read` for routes serving patient data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from app.audit import service
from app.auth.actor import Actor
from app.deps import CurrentActor, SessionDep, SettingsDep
from app.timeutil import utcnow

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=service.AccessList)
def access_audit(
    actor: CurrentActor,
    db: SessionDep,
    settings: SettingsDep,
    user: Annotated[str | None, Query(max_length=64)] = None,
    case_id: Annotated[int | None, Query(ge=1)] = None,
    since: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
) -> service.AccessList:
    """Who read patient data, newest first; filter by user and case."""
    return service.search(
        db,
        actor=actor,
        user=user,
        case_id=case_id,
        since=since,
        cursor=cursor,
        limit=min(limit, settings.max_page_size),
    )


def log_read(request: Request, db: Session, actor: Actor, case_ids: Sequence[int]) -> None:
    """Record that `actor` read these cases' data through this endpoint."""
    endpoint = request.url.path
    for name, value in request.path_params.items():  # /cases/42 -> /cases/{case_id}
        endpoint = endpoint.replace(f"/{value}", f"/{{{name}}}", 1)
    service.record_access(
        db,
        actor=actor,
        method=request.method,
        endpoint=endpoint,
        query=request.url.query,
        case_ids=case_ids,
        now=utcnow(),
    )
