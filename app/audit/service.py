"""Recording reads of patient data, and reading the records back for IG officers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.audit.repository import AccessRepository
from app.auth.actor import Actor
from app.cursors import decode_cursor, encode_cursor
from app.db import UnitOfWork
from app.errors import Forbidden
from app.models.access import AccessRecord

AUDIT_ROLES = ("ig_officer", "admin")


class AccessRead(BaseModel):
    id: int
    at: datetime
    username: str
    organisation: str
    method: str
    endpoint: str
    query: str
    case_count: int
    case_ids: list[int]


class AccessList(BaseModel):
    items: list[AccessRead]
    next_cursor: str | None


def record_access(
    session: Session,
    *,
    actor: Actor,
    method: str,
    endpoint: str,
    query: str,
    case_ids: Sequence[int],
    now: datetime,
) -> None:
    """Write the access record in its own transaction, before the data leaves the service."""
    session.rollback()  # end any read transaction so the record commits on its own
    with UnitOfWork(session):
        AccessRepository(session).add(
            AccessRecord(
                at=now,
                user_id=actor.user_id,
                username=actor.username,
                organisation=actor.organisation,
                method=method,
                endpoint=endpoint,
                query=query[:500],
                case_count=len(case_ids),
            ),
            list(dict.fromkeys(case_ids)),
        )


def search(
    session: Session,
    *,
    actor: Actor,
    user: str | None,
    case_id: int | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> AccessList:
    if actor.role_for(AUDIT_ROLES) is None:
        raise Forbidden(
            f"the access audit needs one of the roles: {', '.join(AUDIT_ROLES)}",
            required_roles=list(AUDIT_ROLES),
        )
    repo = AccessRepository(session)
    rows = repo.search(
        organisation=actor.organisation,
        user=user,
        case_id=case_id,
        since=since,
        before_id=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    page = rows[:limit]
    cases = repo.case_ids([r.id for r in page])
    return AccessList(
        items=[
            AccessRead(
                id=r.id,
                at=r.at,
                username=r.username,
                organisation=r.organisation,
                method=r.method,
                endpoint=r.endpoint,
                query=r.query,
                case_count=r.case_count,
                case_ids=cases[r.id],
            )
            for r in page
        ],
        next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
    )
