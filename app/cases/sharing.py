"""Sharing a case with another organisation that works it, and withdrawing the share."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.schemas import CODE_PATTERN
from app.cases.scope import ScopeRepository, require_visible
from app.db import UnitOfWork
from app.errors import Conflict, Forbidden, NotFound
from app.models import Case, CaseShare
from app.security.inputs import RequestModel

# Roles that hand work between organisations (docs/domain.md §2.2); managers and analysts only read.
SHARING_ROLES = ("discharge_team", "chc_assessor", "ic_coordinator", "ic_triager", "admin")


class ShareCreate(RequestModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(pattern=CODE_PATTERN)
    reason: str = Field(min_length=3, max_length=500)


class ShareRead(BaseModel):
    organisation: str
    reason: str
    created_at: datetime
    created_by: str


def list_shares(session: Session, *, actor: Actor, case_id: int) -> list[ShareRead]:
    require_visible(session, case_id, actor.organisation)
    return [_read(s) for s in ScopeRepository(session).shares(case_id)]


def share_case(
    session: Session, *, actor: Actor, case_id: int, body: ShareCreate, now: datetime
) -> ShareRead:
    _may_share(session, actor, case_id)
    with UnitOfWork(session):
        case = session.get(Case, case_id)
        assert case is not None  # noqa: S101 - checked just above
        if body.organisation == case.organisation:
            raise Conflict("the case already belongs to that organisation")
        share = CaseShare(
            case_id=case_id,
            organisation=body.organisation,
            reason=body.reason,
            created_at=now,
            created_by=actor.username,
        )
        try:
            with session.begin_nested():
                ScopeRepository(session).add_share(share)
        except IntegrityError:
            raise Conflict(f"the case is already shared with {body.organisation}") from None
    return _read(share)


def withdraw_share(session: Session, *, actor: Actor, case_id: int, organisation: str) -> None:
    _may_share(session, actor, case_id)
    with UnitOfWork(session):
        repo = ScopeRepository(session)
        found = [s for s in repo.shares(case_id) if s.organisation == organisation]
        if not found:
            raise NotFound(f"the case is not shared with {organisation}")
        repo.delete_share(found[0])


def share_with_journey(
    session: Session, *, source_id: int, target: Case, now: datetime, by: str
) -> None:
    """A linked case is worked by the organisations of the journey it came from."""
    repo = ScopeRepository(session)
    for organisation in repo.organisations(source_id):
        if organisation != target.organisation:
            repo.add_share(
                CaseShare(
                    case_id=target.id,
                    organisation=organisation,
                    reason=f"linked from case {source_id}",
                    created_at=now,
                    created_by=by,
                )
            )


def _may_share(session: Session, actor: Actor, case_id: int) -> None:
    require_visible(session, case_id, actor.organisation)
    if actor.role_for(SHARING_ROLES) is None:
        raise Forbidden(
            f"sharing a case needs one of the roles: {', '.join(SHARING_ROLES)}",
            required_roles=list(SHARING_ROLES),
        )


def _read(share: CaseShare) -> ShareRead:
    return ShareRead(
        organisation=share.organisation,
        reason=share.reason,
        created_at=share.created_at,
        created_by=share.created_by,
    )
