"""Referrals between partners (issue 17): send, move, withdraw and read them.

A referral is a case of the `referral` workflow owned by the RECEIVING organisation, opened
through `CaseWriter.open` and linked from the case that sent it (its parent). Every status change
of the task is told to the parent as a `referral_update` event (the parent pathway's guard checks
it against the task) in the same Unit of Work, so the referring organisation sees the status at
once and the milestones of the parent move with it. Locks are always taken parent first, then
the task, so two requests on the same referral never wait on each other the other way round.

Need to know: sending shares the parent case with the receiving organisation (logged in the
sharing log); a rejected, withdrawn or completed referral withdraws that share again unless
another open referral to the same organisation remains. The task itself is never shared with
the referring organisation: it sees the status through the parent and cannot move the task.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.auth.access import Grant
from app.auth.actor import Actor
from app.cases.repository import CaseRepository, LockedCase
from app.cases.schemas import CODE_PATTERN, NAME_PATTERN
from app.cases.scope import ScopeRepository, require_visible
from app.cases.sharing import NotCaseOwner, share_in_transaction, withdraw_in_transaction
from app.cases.transition import CaseWriter
from app.db import UnitOfWork
from app.engine.engine import Command, OpenCommand
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Case, CaseLink, Clock
from app.notifications.kinds import case_link
from app.notifications.outbox import notify, notify_recipient
from app.referrals.partners import Kind, PartnerDirectory
from app.referrals.repository import (
    REFERRAL_LINK,
    REFERRAL_WORKFLOW,
    ReferralRepository,
    ReferralRow,
)
from app.security.inputs import RequestModel
from app.timeutil import as_utc

log = logging.getLogger("homefirst.referrals")

# The referring organisation's teams that send and withdraw referrals: the pathway's open roles
# and its `withdraw` roles (the same tuple; a test holds them equal).
SEND_ROLES = ("discharge_team", "chc_assessor", "ic_coordinator", "ic_triager")
# The receiving organisations' working roles (the pathway's other transitions).
WORK_ROLES = (
    "discharge_team",
    "social_worker",
    "provider",
    "chc_assessor",
    "ic_coordinator",
    "ic_triager",
    "broker",
    "trusted_assessor",
)
UPDATE = "referral_update"  # the parent's internal transition (pathways/discharge.yaml)
WITHDRAW = "withdraw"
# A share of the parent made by a referral carries this reason; only such a share is withdrawn
# when the referral closes (a share the owner made by hand stays).
SHARE_REASON = "Referral to {org} ({kind})"
SHARE_PREFIX = "Referral to "
CLOSING = frozenset({"rejected", "withdrawn", "completed"})
Status = Literal[
    "sent",
    "triaged",
    "accepted",
    "rejected",
    "allocated",
    "start_proposed",
    "start_confirmed",
    "withdrawn",
    "completed",
]
STATUSES: tuple[str, ...] = get_args(Status)
LIST_CAP = 500


class UnknownPartner(ValidationFailed):
    code, title = "unknown_partner", "Not a partner for this kind of referral"


class ReferralAlreadyOpen(Conflict):
    code, title = "referral_open", "An open referral to this partner already exists"


class ReferralCreate(RequestModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    organisation: str = Field(pattern=CODE_PATTERN, max_length=32)
    kind: Kind
    note: str | None = Field(default=None, max_length=2000)
    requested_start: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD"
    )


class ReferralEvent(RequestModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    event: str = Field(pattern=NAME_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict, max_length=20)
    reason: str | None = Field(default=None, max_length=2000)


class ReferralWithdraw(RequestModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field(min_length=3, max_length=500)


class PatientOfReferral(BaseModel):
    """Enough of the parent case to work the referral; empty when the caller's organisation
    may no longer see the parent (its share was withdrawn)."""

    case_id: int | None = None
    patient_ref: str | None = None
    site: str | None = None
    ward: str | None = None
    pathway: str | None = None
    state: str | None = None


class ReferralRead(BaseModel):
    id: int = Field(description="The referral task (a case of the receiving organisation)")
    parent_case_id: int
    kind: str
    organisation: str = Field(description="The receiving organisation")
    organisation_name: str
    referring_organisation: str
    status: Status
    is_open: bool
    version: int
    sent_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    note: str | None = None
    requested_start: date | None = None
    rejection_reason: str | None = None
    rejection_note: str | None = None
    allocated_to: str | None = None
    proposed_start: date | None = None
    start_date: date | None = None
    response_due_at: datetime | None = None
    overdue: bool = False
    patient: PatientOfReferral | None = None


class ReferralList(BaseModel):
    direction: Literal["received", "sent"]
    items: list[ReferralRead]


# -- writes ----------------------------------------------------------------------------------------
def send(
    session: Session,
    *,
    writer: CaseWriter,
    partners: PartnerDirectory,
    actor: Actor,
    case_id: int,
    body: ReferralCreate,
    now: datetime,
) -> ReferralRead:
    """Send a referral from the case (by its owning organisation) to a partner."""
    with UnitOfWork(session):
        cases = CaseRepository(session)
        parent = _lock_parent(cases, case_id, actor)
        if parent.case.organisation != actor.organisation and not _may_refer_on(
            session, partners, actor.organisation, case_id, body.kind
        ):
            raise NotCaseOwner(
                f"only {parent.case.organisation}, the organisation that owns the case, may "
                f"send a {body.kind} referral from it (or a partner the directory lets refer on, "
                "once it has accepted a referral of the case)",
                owner=parent.case.organisation,
            )
        partner = partners.find(body.organisation, body.kind)
        if partner is None:
            raise UnknownPartner(
                f"{body.organisation} is not in the partner directory for {body.kind} referrals",
                errors=[{"field": "organisation", "problem": "not a partner for this kind"}],
                partners=[p.organisation for p in partners.partners if body.kind in p.kinds],
            )
        if partner.organisation == parent.case.organisation:
            raise Conflict("a case cannot send a referral to the organisation that owns it")
        if not parent.case.is_open:
            raise Conflict(f"case {case_id} is closed; it cannot send a referral")
        for sent in ReferralRepository(session).sent_by(case_id, organisation=partner.organisation):
            if sent.is_open and (sent.attributes or {}).get("referral_kind") == body.kind:
                # One open referral of a kind to a partner at a time (a double click sends one).
                raise ReferralAlreadyOpen(
                    f"referral {sent.id} to {partner.organisation} ({body.kind}) is still open: "
                    "withdraw it first, or wait for the partner's answer",
                    referral_id=sent.id,
                )
        data: dict[str, Any] = {
            "referral_kind": body.kind,
            "parent_case_id": case_id,
            "referring_organisation": actor.organisation,
        }
        if body.note:
            data["referral_note"] = body.note
        if body.requested_start:
            data["requested_start"] = body.requested_start
        task = writer.open(
            session,
            OpenCommand(
                REFERRAL_WORKFLOW,
                actor,
                partner.organisation,
                parent.case.site,
                parent.case.patient_ref,
                data,
            ),
            now=now,
        )
        session.add(
            CaseLink(
                from_case_id=case_id,
                to_case_id=task.id,
                link_type=REFERRAL_LINK,
                created_at=now,
                created_by_id=actor.user_id,
                created_by=actor.username,
            )
        )
        session.flush()
        if share_in_transaction(
            session,
            actor=actor,
            case_id=case_id,
            organisation=partner.organisation,
            reason=SHARE_REASON.format(org=partner.organisation, kind=body.kind),
            now=now,
        ):
            log.info(
                "referral share",
                extra={"event": "referral_share", "case_id": case_id, "task_id": task.id},
            )
        _tell_parent(session, writer, cases, parent, task, actor, now)
        notify_recipient(
            session,
            kind="referral_received",
            case_id=task.id,
            summary=f"Referral {task.id} ({body.kind}) received from {actor.organisation}",
            now=now,
            organisation=partner.organisation,
        )
        read = _read(task, parent.case, partners, now=now, clock=_clock(session, task.id))
    return read


def move(
    session: Session,
    *,
    writer: CaseWriter,
    partners: PartnerDirectory,
    actor: Actor,
    task_id: int,
    body: ReferralEvent,
    now: datetime,
) -> ReferralRead:
    """The receiving organisation moves its referral task; the parent learns the new status."""
    with UnitOfWork(session):
        repo = ReferralRepository(session)
        found = repo.parent_of(task_id)
        if found is None or not ScopeRepository(session).is_visible(task_id, actor.organisation):
            raise NotFound(f"referral {task_id} not found")
        parent_id, receiving = found
        if receiving != actor.organisation:
            raise NotCaseOwner(
                f"only {receiving}, the organisation the referral was sent to, may move it",
                owner=receiving,
            )
        if body.event == WITHDRAW:
            raise Conflict(
                "only the referring organisation withdraws a referral "
                "(POST /api/v1/cases/{case_id}/referrals/{referral_id}/withdraw); "
                "reject it with a reason instead",
                use="reject",
            )
        cases = CaseRepository(session)
        parent = _lock_parent(cases, parent_id, None)
        fired = writer.fire(
            session, task_id, Command(body.event, actor, body.data, None, body.reason), now=now
        )
        task = fired.case
        _tell_parent(session, writer, cases, parent, task, actor, now)
        _after_change(session, actor, parent.case, task, now)
        notify(
            session,
            kind="referral_updated",
            case_id=parent.case.id,
            link=case_link(parent.case.id),
            summary=f"Referral {task.id} to {task.organisation} is now {task.state}",
            now=now,
            organisations=[parent.case.organisation],
        )
        read = _read(task, parent.case, partners, now=now, clock=_clock(session, task.id))
    return read


def withdraw(
    session: Session,
    *,
    writer: CaseWriter,
    partners: PartnerDirectory,
    actor: Actor,
    case_id: int,
    task_id: int,
    body: ReferralWithdraw,
    now: datetime,
) -> ReferralRead:
    """The referring (parent-owning) organisation withdraws a referral it sent."""
    with UnitOfWork(session):
        cases = CaseRepository(session)
        parent = _lock_parent(cases, case_id, actor)
        found = ReferralRepository(session).parent_of(task_id)
        if found is None or found[0] != case_id:
            raise NotFound(f"case {case_id} sent no referral {task_id}")
        sender = _referring_organisation(session, task_id)
        if actor.organisation not in (parent.case.organisation, sender):
            raise NotCaseOwner(
                f"only {parent.case.organisation}, the organisation that owns the case, or "
                f"{sender}, which sent the referral, may withdraw it",
                owner=parent.case.organisation,
            )
        fired = writer.fire(
            session, task_id, Command(WITHDRAW, actor, {}, None, body.reason), now=now
        )
        task = fired.case
        _tell_parent(session, writer, cases, parent, task, actor, now)
        _after_change(session, actor, parent.case, task, now)
        notify_recipient(
            session,
            kind="referral_updated",
            case_id=task.id,
            summary=f"Referral {task.id} was withdrawn by {actor.organisation}",
            now=now,
            organisation=task.organisation,
        )
        read = _read(task, parent.case, partners, now=now, clock=_clock(session, task.id))
    return read


# A referral its partner has taken on: the partner works the case from here.
TAKEN_ON = frozenset({"accepted", "allocated", "start_proposed", "start_confirmed"})


def _referring_organisation(session: Session, task_id: int) -> str | None:
    task = session.get(Case, task_id)
    return (task.attributes or {}).get("referring_organisation") if task is not None else None


def _may_refer_on(
    session: Session, partners: PartnerDirectory, organisation: str, case_id: int, kind: str
) -> bool:
    """Whether `organisation` may send a `kind` referral from a case it does not own: the
    directory lets it refer on for that kind (`refers_on`), and it has taken on a referral of
    this case (a hub that accepted the discharge sources the package from a provider). Its
    share of the case with that provider is logged under its own name."""
    partner = partners.find(organisation)
    if partner is None or kind not in partner.refers_on:
        return False
    sent = ReferralRepository(session).sent_by(case_id, organisation=organisation)
    return any(task.is_open and task.state in TAKEN_ON for task in sent)


def _lock_parent(cases: CaseRepository, case_id: int, actor: Actor | None) -> LockedCase:
    """The parent case locked (first, always). With `actor`, a case its organisation may not
    see is not found."""
    org = actor.organisation if actor is not None else None
    locked = cases.lock_for_event(case_id, UPDATE, visible_to=org)
    if locked is None or (org is not None and not locked.visible):
        raise NotFound(f"case {case_id} not found")
    return locked


def _tell_parent(
    session: Session,
    writer: CaseWriter,
    cases: CaseRepository,
    parent: LockedCase,
    task: Case,
    actor: Actor,
    now: datetime,
) -> None:
    """The `referral_update` event on the parent, with the task as it now stands. A parent
    that has closed (cancelled, died, transferred) records nothing more: the partner may still
    close the task (reject, complete) and the referrer withdraw it, so no queue keeps a task
    nobody can move."""
    if not parent.case.is_open:
        log.info(
            "referral update of a closed case not recorded",
            extra={
                "event": "referral_parent_closed",
                "case_id": parent.case.id,
                "task_id": task.id,
            },
        )
        return
    attrs = task.attributes or {}
    data: dict[str, Any] = {
        "referral_case": task.id,
        "referral_kind": attrs.get("referral_kind"),
        "referral_organisation": task.organisation,
        "referral_status": task.state,
    }
    start = attrs.get("start_date") if task.state == "start_confirmed" else None
    start = start or (attrs.get("proposed_start") if task.state == "start_proposed" else None)
    if start:
        data["referral_start_date"] = start
    writer.fire(
        session,
        parent.case.id,
        Command(UPDATE, actor, data),
        now=now,
        locked=parent,
        store=cases,
    )


def _after_change(session: Session, actor: Actor, parent: Case, task: Case, now: datetime) -> None:
    """A closed referral takes back the parent's share it made, unless another open referral
    to the same organisation remains (need to know)."""
    if task.state not in CLOSING:
        return
    if ReferralRepository(session).open_to(parent.id, task.organisation, besides=task.id):
        return
    made_by_referral = any(
        s.organisation == task.organisation and s.reason.startswith(SHARE_PREFIX)
        for s in ScopeRepository(session).shares(parent.id)
    )
    if made_by_referral and withdraw_in_transaction(
        session,
        actor=actor,
        case_id=parent.id,
        organisation=task.organisation,
        reason=f"Referral {task.id} {task.state}: no open referral to {task.organisation}",
        now=now,
    ):
        log.info(
            "referral share withdrawn",
            extra={"event": "referral_unshare", "case_id": parent.id, "task_id": task.id},
        )


# -- reads -----------------------------------------------------------------------------------------
def for_case(
    session: Session,
    *,
    partners: PartnerDirectory,
    actor: Actor,
    case_id: int,
    now: datetime,
) -> list[ReferralRead]:
    """The referrals the case sent: all of them for its owner; for an organisation it is shared
    with, only those sent to that organisation (need to know)."""
    require_visible(session, case_id, actor.organisation)
    parent = session.get(Case, case_id)
    assert parent is not None  # noqa: S101 - visible just above
    repo = ReferralRepository(session)
    mine = None if parent.organisation == actor.organisation else actor.organisation
    tasks = repo.sent_by(case_id, organisation=mine)
    clocks = repo.response_clocks([t.id for t in tasks])
    return [_read(t, parent, partners, now=now, clock=clocks.get(t.id)) for t in tasks]


def listing(
    session: Session,
    *,
    partners: PartnerDirectory,
    actor: Actor,
    grant: Grant,
    direction: Literal["received", "sent"],
    status: str | None,
    kind: str | None,
    include_closed: bool,
    now: datetime,
) -> ReferralList:
    """The organisation's referrals: received (tasks it owns) or sent (from cases it owns),
    overdue first, then oldest first. A `shared_only` grant sees received referrals only (the
    cases sent to it); a `no_identifiers` grant gets no NHS numbers."""
    repo = ReferralRepository(session)
    if direction == "sent" and grant.shared_only:
        return ReferralList(direction=direction, items=[])
    rows = repo.listing(
        received_by=actor.organisation if direction == "received" else None,
        sent_by=actor.organisation if direction == "sent" else None,
        states=[status] if status else (),
        open_only=not include_closed,
        limit=LIST_CAP,
    )
    if kind:
        rows = [r for r in rows if (r.task.attributes or {}).get("referral_kind") == kind]
    clocks = repo.response_clocks([r.task.id for r in rows])
    seen = repo.visible_ids([r.parent.id for r in rows], actor.organisation)
    items = [
        _read(
            r.task,
            r.parent,
            partners,
            now=now,
            clock=clocks.get(r.task.id),
            patient=_patient(r, seen, identifiers=grant.level != "no_identifiers"),
        )
        for r in rows
    ]
    items.sort(key=lambda i: (not i.overdue, i.response_due_at is None, i.sent_at, i.id))
    return ReferralList(direction=direction, items=items)


def patient_case_ids(page: ReferralList) -> list[int]:
    """The patients' cases a listing showed (for the access audit)."""
    return [i.patient.case_id for i in page.items if i.patient and i.patient.case_id]


def _patient(row: ReferralRow, seen: set[int], *, identifiers: bool) -> PatientOfReferral:
    parent = row.parent
    if parent.id not in seen:
        return PatientOfReferral()
    attrs = parent.attributes or {}
    return PatientOfReferral(
        case_id=parent.id,
        patient_ref=parent.patient_ref if identifiers else None,
        site=parent.site,
        ward=attrs.get("ward"),
        pathway=attrs.get("pathway"),
        state=parent.state,
    )


def _clock(session: Session, task_id: int) -> Clock | None:
    return ReferralRepository(session).response_clocks([task_id]).get(task_id)


def _read(
    task: Case,
    parent: Case,
    partners: PartnerDirectory,
    *,
    now: datetime,
    clock: Clock | None,
    patient: PatientOfReferral | None = None,
) -> ReferralRead:
    attrs = task.attributes or {}
    due = as_utc(clock.due_at) if clock is not None and clock.due_at is not None else None
    running = clock is not None and clock.state == "running"
    overdue = bool(
        task.is_open
        and clock is not None
        and (clock.breached_at is not None or (running and due is not None and due <= now))
    )
    return ReferralRead(
        id=task.id,
        parent_case_id=parent.id,
        kind=str(attrs.get("referral_kind") or ""),
        organisation=task.organisation,
        organisation_name=partners.name_of(task.organisation),
        referring_organisation=str(attrs.get("referring_organisation") or parent.organisation),
        status=task.state,
        is_open=task.is_open,
        version=task.version,
        sent_at=as_utc(task.opened_at),
        updated_at=as_utc(task.updated_at),
        closed_at=as_utc(task.closed_at) if task.closed_at else None,
        note=attrs.get("referral_note"),
        requested_start=attrs.get("requested_start"),
        rejection_reason=attrs.get("rejection_reason"),
        rejection_note=attrs.get("rejection_note"),
        allocated_to=attrs.get("allocated_to"),
        proposed_start=attrs.get("proposed_start"),
        start_date=attrs.get("start_date"),
        response_due_at=due if running else None,
        overdue=overdue,
        patient=patient,
    )
