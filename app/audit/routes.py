"""GET /audit for information-governance officers (routes record reads with
`app.api_shared.log_read`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from app.audit import service
from app.auth.needs import needs
from app.deps import CurrentActor, SessionDep, SettingsDep

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=service.AccessList, dependencies=[needs("audit.read")])
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
