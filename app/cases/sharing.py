"""Sharing a case with another organisation that works it, and withdrawing the share.

Only the organisation that owns the case shares it or withdraws a share: an organisation the
case is shared with works it but cannot pass it on, nor take it away from another. Every share
and withdrawal is written to the case's sharing log (`case_share_changes`, append-only) in the
same transaction as the change itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.schemas import CODE_PATTERN
from app.cases.scope import ScopeRepository, require_visible
from app.db import UnitOfWork
from app.errors import Conflict, Forbidden, NotFound
from app.models import Case, CaseShare, CaseShareChange
from app.security.inputs import RequestModel

ShareAction = Literal["shared", "withdrawn"]
# Roles that hand work between organisations (docs/domain.md §2.2); managers and analysts only read.
SHARING_ROLES = ("discharge_team", "chc_assessor", "ic_coordinator", "ic_triager", "admin")


class NotCaseOwner(Forbidden):
    """The caller's organisation sees the case through a share, so this is a 403, not a 404."""

    code, title = "not_case_owner", "Only the organisation that owns the case may do this"


class ShareCreate(RequestModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(pattern=CODE_PATTERN)
    reason: str = Field(min_length=3, max_length=500)


class ShareWithdraw(RequestModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, min_length=3, max_length=500)


class ShareRead(BaseModel):
    organisation: str
    reason: str
    created_at: datetime
    created_by: str


class ShareChangeRead(BaseModel):
    action: ShareAction
    organisation: str = Field(description="Shared with, or whose share was withdrawn")
    reason: str | None
    by: str
    by_organisation: str
    at: datetime


def list_shares(session: Session, *, actor: Actor, case_id: int) -> list[ShareRead]:
    require_visible(session, case_id, actor.organisation)
    return [_read(s) for s in ScopeRepository(session).shares(case_id)]


def share_changes(session: Session, *, actor: Actor, case_id: int) -> list[ShareChangeRead]:
    """Every share and withdrawal of the case, oldest first."""
    require_visible(session, case_id, actor.organisation)
    return [
        ShareChangeRead(
            action=cast("ShareAction", c.action),
            organisation=c.organisation,
            reason=c.reason,
            by=c.actor_username,
            by_organisation=c.actor_org,
            at=c.at,
        )
        for c in ScopeRepository(session).changes(case_id)
    ]


def share_case(
    session: Session, *, actor: Actor, case_id: int, body: ShareCreate, now: datetime
) -> ShareRead:
    _may_share(session, actor, case_id, "share the case")
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
        repo = ScopeRepository(session)
        try:
            with session.begin_nested():
                repo.add_share(share)
        except IntegrityError:
            raise Conflict(f"the case is already shared with {body.organisation}") from None
        repo.add_change(_change(case_id, "shared", body.organisation, body.reason, actor, now))
    return _read(share)


def withdraw_share(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    organisation: str,
    reason: str | None,
    now: datetime,
) -> None:
    _may_share(session, actor, case_id, "withdraw a share of the case")
    with UnitOfWork(session):
        repo = ScopeRepository(session)
        if not repo.delete_share(case_id, organisation):
            raise NotFound(f"the case is not shared with {organisation}")
        repo.add_change(_change(case_id, "withdrawn", organisation, reason, actor, now))


def share_in_transaction(
    session: Session, *, actor: Actor, case_id: int, organisation: str, reason: str, now: datetime
) -> bool:
    """Share the case with `organisation` in the caller's Unit of Work, logged as `share_case`
    logs it; False (nothing written) when the organisation owns it or already has it shared.
    The caller has checked who may share (a referral: the owning organisation sends it)."""
    repo = ScopeRepository(session)
    if organisation in repo.organisations(case_id):
        return False
    repo.add_share(
        CaseShare(
            case_id=case_id,
            organisation=organisation,
            reason=reason,
            created_at=now,
            created_by=actor.username,
        )
    )
    repo.add_change(_change(case_id, "shared", organisation, reason, actor, now))
    return True


def withdraw_in_transaction(
    session: Session, *, actor: Actor, case_id: int, organisation: str, reason: str, now: datetime
) -> bool:
    """Withdraw the share in the caller's Unit of Work, logged; False when there was none."""
    repo = ScopeRepository(session)
    if not repo.delete_share(case_id, organisation):
        return False
    repo.add_change(_change(case_id, "withdrawn", organisation, reason, actor, now))
    return True


def share_with_journey(
    session: Session, *, source_id: int, target: Case, now: datetime, actor: Actor
) -> None:
    """A linked case is worked by the organisations of the journey it came from."""
    repo = ScopeRepository(session)
    for organisation in repo.organisations(source_id):
        if organisation != target.organisation:
            reason = f"linked from case {source_id}"
            repo.add_share(
                CaseShare(
                    case_id=target.id,
                    organisation=organisation,
                    reason=reason,
                    created_at=now,
                    created_by=actor.username,
                )
            )
            repo.add_change(_change(target.id, "shared", organisation, reason, actor, now))


def _may_share(session: Session, actor: Actor, case_id: int, what: str) -> None:
    require_visible(session, case_id, actor.organisation)
    owner = ScopeRepository(session).owner(case_id)
    if owner != actor.organisation:
        raise NotCaseOwner(
            f"only {owner}, the organisation that owns the case, may {what}",
            owner=owner,
        )
    if actor.role_for(SHARING_ROLES) is None:
        raise Forbidden(
            f"sharing a case needs one of the roles: {', '.join(SHARING_ROLES)}",
            required_roles=list(SHARING_ROLES),
        )


def _change(
    case_id: int,
    action: ShareAction,
    organisation: str,
    reason: str | None,
    actor: Actor,
    now: datetime,
) -> CaseShareChange:
    return CaseShareChange(
        case_id=case_id,
        action=action,
        organisation=organisation,
        reason=reason,
        actor_id=actor.user_id,
        actor_username=actor.username,
        actor_org=actor.organisation,
        at=now,
    )


def _read(share: CaseShare) -> ShareRead:
    return ShareRead(
        organisation=share.organisation,
        reason=share.reason,
        created_at=share.created_at,
        created_by=share.created_by,
    )
