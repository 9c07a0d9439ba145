"""The daily escalation call (huddle): its agenda for a site or the whole organisation, and what
the call records.

The agenda is drawn from the Ready-for-Discharge list (`service.rfd_list`, with the API's
organisation scoping) in three sections: the escalated patients; the longest waits (most days
since the discharge-ready date, `huddle_longest_waits` in pathways/config/discharge.yaml); and
the patients newly not meeting the criteria to reside since the previous huddle for the same
site started (or in the last 24 hours when there was none). A patient may be in several sections.

What the call records about a patient is an append-only note (discussed, an action, its owner
and due date); the agenda shows the latest. Issue #17 will turn these actions into case actions.
Escalating and de-escalating are the pathway's own events, fired through the one transition
entry point (`app.cases.service.fire_event`) with the case version the person read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.actions.repository import ActionRepository
from app.auth.access import Grant
from app.auth.actor import Actor
from app.cases import service as cases
from app.cases.schemas import EventCreate
from app.cases.scope import require_visible
from app.cases.transition import CaseWriter
from app.codelists.loader import CodeSetRegistry
from app.db import UnitOfWork
from app.discharge import service
from app.discharge.config import DischargeConfig
from app.discharge.history import CLEAR_ESCALATION, NOT_MEETING, RAISE_ESCALATION
from app.discharge.huddle_repository import HuddleRepository
from app.discharge.repository import WORKFLOW, DischargeRepository
from app.discharge.schemas import RfdRow
from app.engine.catalogue import PathwayCatalogue
from app.errors import Conflict, Forbidden, ValidationFailed
from app.idempotency.service import StoredResponse
from app.models import Huddle, HuddleNote
from app.models.huddle import SYSTEM_WIDE
from app.timeutil import london_date

# Who may start a huddle and record its notes. Escalating is the pathway's decision: the
# `raise_escalation` and `clear_escalation` transitions name their roles.
WRITE_ROLES = frozenset({"huddle_chair", "discharge_team", "manager"})
ESCALATION_EVENTS = (RAISE_ESCALATION, CLEAR_ESCALATION)
NEW_WINDOW = timedelta(hours=24)  # "newly not meeting the criteria" with no previous huddle
ACTION_MAX, OWNER_MAX, ESCALATION_TEXT_MAX = 500, 100, 2000


class Section(StrEnum):
    ESCALATED = "escalated"
    LATE = "late_actions"
    LONGEST = "longest"
    NEW = "new"


@dataclass(frozen=True)
class HuddleView:
    id: int
    site: str
    held_on: date
    started_at: datetime
    started_by: str


@dataclass(frozen=True)
class NoteView:
    held_on: date
    recorded_at: datetime
    recorded_by: str
    discussed: bool
    action: str | None
    action_owner: str | None
    action_due: date | None


@dataclass(frozen=True)
class LateAction:
    """An action or milestone of the patient's that is past its due time (app/actions)."""

    ref: str
    title: str
    owner_organisation: str
    owner_role: str | None
    due_at: datetime


@dataclass(frozen=True)
class AgendaItem:
    row: RfdRow
    version: int  # the case version read with the row: escalation forms send it back
    sections: tuple[Section, ...]
    latest_note: NoteView | None  # from any of the organisation's huddles
    discussed: bool  # in this huddle (today's, for this site)
    late_actions: tuple[LateAction, ...] = ()


@dataclass(frozen=True)
class Agenda:
    site: str  # SYSTEM_WIDE for the whole organisation
    today: date
    huddle: HuddleView | None  # today's, once started
    previous: HuddleView | None
    new_since: datetime
    longest_limit: int
    sections: dict[Section, list[AgendaItem]]

    @property
    def items(self) -> list[AgendaItem]:
        """Every patient on the agenda once, in the order they first appear."""
        seen: dict[int, AgendaItem] = {}
        for items in self.sections.values():
            for item in items:
                seen.setdefault(item.row.case_id, item)
        return list(seen.values())

    @property
    def case_ids(self) -> list[int]:
        return [item.row.case_id for item in self.items]


def sites(session: Session, *, organisation: str) -> list[str]:
    return HuddleRepository(session).sites(organisation)


def agenda(
    session: Session,
    *,
    catalogue: PathwayCatalogue,
    codes: CodeSetRegistry,
    config: DischargeConfig,
    grant: Grant,
    organisation: str,
    site: str,
    now: datetime,
) -> Agenda:
    """The agenda of the organisation's huddle for `site` today, as `grant` may see it."""
    today = london_date(now)
    repo = HuddleRepository(session)
    current = repo.on_day(organisation, site, today)
    previous = repo.before(organisation, site, today)
    new_since = previous.started_at if previous else now - NEW_WINDOW
    listed = service.rfd_list(
        session,
        catalogue=catalogue,
        codes=codes,
        config=config,
        flt=service.RfdFilter(site=site or None),
        sort="-days_since_drd",
        now=now,
        organisation=organisation,
    )
    rows = grant.reduce(listed).items  # sorted: most days since the DRD first
    late = ActionRepository(session).overdue_on([r.case_id for r in rows], now)
    chosen = {
        Section.ESCALATED: [r for r in rows if r.escalated],
        Section.LATE: [r for r in rows if r.case_id in late],
        Section.LONGEST: [r for r in rows if r.days_since_drd is not None][
            : config.huddle_longest_waits
        ],
        Section.NEW: _newly_not_meeting(session, rows, new_since),
    }
    ids = list(dict.fromkeys(r.case_id for section in chosen.values() for r in section))
    versions = repo.versions(ids)
    notes = repo.latest_notes(organisation, ids)
    discussed = repo.discussed_in(current.id, ids) if current else set()
    in_sections = {
        cid: tuple(s for s, section in chosen.items() if any(r.case_id == cid for r in section))
        for cid in ids
    }

    def item(row: RfdRow) -> AgendaItem:
        note = notes.get(row.case_id)
        return AgendaItem(
            row=row,
            version=versions.get(row.case_id, 0),
            sections=in_sections[row.case_id],
            latest_note=_note_view(*note) if note else None,
            discussed=row.case_id in discussed,
            late_actions=tuple(
                LateAction(a.ref, a.title, a.owner_organisation, a.owner_role, a.due_at)
                for a in late.get(row.case_id, ())
            ),
        )

    return Agenda(
        site=site,
        today=today,
        huddle=_huddle_view(current) if current else None,
        previous=_huddle_view(previous) if previous else None,
        new_since=new_since,
        longest_limit=config.huddle_longest_waits,
        sections={s: [item(r) for r in section] for s, section in chosen.items()},
    )


def _newly_not_meeting(session: Session, rows: list[RfdRow], since: datetime) -> list[RfdRow]:
    """Rows whose current period of not meeting the criteria started, or was recorded, since
    `since`: a patient recorded this afternoon as not meeting the criteria since this morning
    is new to a huddle that started at ten, whatever the clinical time."""
    starts = DischargeRepository(session).events_by_case([r.case_id for r in rows], [NOT_MEETING])
    out = []
    for row in rows:
        recorded = starts[row.case_id][-1].recorded_at if starts.get(row.case_id) else None
        began = row.not_meeting_ctr_since
        if (began is not None and began >= since) or (recorded is not None and recorded >= since):
            out.append(row)
    return out


def may_escalate(catalogue: PathwayCatalogue, actor: Actor) -> bool:
    """Whether the pathway lets any of the actor's roles raise or clear an escalation (the
    engine decides each time; this only spares people forms they could never use)."""
    roles = {
        role
        for version in catalogue.versions(WORKFLOW)
        if (loaded := catalogue.get(WORKFLOW, version))
        for t in loaded.spec.transitions
        if t.trigger in ESCALATION_EVENTS
        for role in t.roles
    }
    return bool(roles & actor.roles)


def may_write(actor: Actor) -> bool:
    return bool(actor.roles & WRITE_ROLES)


def _require_writer(actor: Actor) -> None:
    if not may_write(actor):
        raise Forbidden(f"huddle notes need one of the roles: {', '.join(sorted(WRITE_ROLES))}")


def start(session: Session, *, actor: Actor, site: str, now: datetime) -> tuple[HuddleView, bool]:
    """Start today's huddle for `site`; if it has started (another chair, a second click), that
    one. Returns the huddle and whether this call started it."""
    _require_writer(actor)
    day = london_date(now)
    repo = HuddleRepository(session)
    try:
        with UnitOfWork(session):
            found = repo.on_day(actor.organisation, site, day)
            if found is not None:
                return _huddle_view(found), False
            huddle = Huddle(
                organisation=actor.organisation,
                site=site,
                held_on=day,
                started_at=now,
                started_by_user_id=actor.user_id,
                started_by_username=actor.username,
            )
            repo.add(huddle)
            view = _huddle_view(huddle)
        return view, True
    except IntegrityError:  # started by someone else between the look and the insert
        found = repo.on_day(actor.organisation, site, day)
        if found is None:
            raise
        return _huddle_view(found), False


def record_note(
    session: Session,
    *,
    actor: Actor,
    site: str,
    case_id: int,
    action: str | None,
    action_owner: str | None,
    action_due: date | None,
    now: datetime,
) -> None:
    """Mark the patient discussed at today's huddle for `site`, with the action agreed."""
    _require_writer(actor)
    if action is not None and len(action) > ACTION_MAX:
        raise ValidationFailed(f"an action is at most {ACTION_MAX} characters")
    if action_owner is not None and len(action_owner) > OWNER_MAX:
        raise ValidationFailed(f"an action owner is at most {OWNER_MAX} characters")
    repo = HuddleRepository(session)
    with UnitOfWork(session):
        huddle = repo.on_day(actor.organisation, site, london_date(now))
        if huddle is None:
            raise Conflict("today's huddle has not started: start it first")
        require_visible(session, case_id, actor.organisation)
        repo.add_note(
            HuddleNote(
                huddle_id=huddle.id,
                case_id=case_id,
                recorded_at=now,
                recorded_by_user_id=actor.user_id,
                recorded_by_username=actor.username,
                discussed=True,
                action=action,
                action_owner=action_owner,
                action_due=action_due,
            )
        )


def notes(session: Session, *, organisation: str, case_id: int) -> list[NoteView]:
    """A patient's notes from the organisation's huddles, oldest first."""
    return [
        _note_view(n, h.held_on) for n, h in HuddleRepository(session).notes(organisation, case_id)
    ]


def escalate(
    session: Session,
    *,
    writer: CaseWriter,
    actor: Actor,
    case_id: int,
    version: int,
    reason: str,
    now: datetime,
    ttl: timedelta,
) -> StoredResponse:
    """Fire `raise_escalation` on the case as it was at `version` (412 if it changed since)."""
    body = EventCreate(event=RAISE_ESCALATION, data={"escalation_reason": reason})
    return _fire(session, writer, actor, case_id, version, body, now, ttl)


def de_escalate(
    session: Session,
    *,
    writer: CaseWriter,
    actor: Actor,
    case_id: int,
    version: int,
    outcome: str | None,
    now: datetime,
    ttl: timedelta,
) -> StoredResponse:
    """Fire `clear_escalation` on the case as it was at `version`, with the outcome if given."""
    data = {"escalation_outcome": outcome} if outcome else {}
    body = EventCreate(event=CLEAR_ESCALATION, data=data)
    return _fire(session, writer, actor, case_id, version, body, now, ttl)


def _fire(
    session: Session,
    writer: CaseWriter,
    actor: Actor,
    case_id: int,
    version: int,
    body: EventCreate,
    now: datetime,
    ttl: timedelta,
) -> StoredResponse:
    return cases.fire_event(
        session,
        writer=writer,
        actor=actor,
        case_id=case_id,
        body=body,
        if_match=f'"{version}"',
        idempotency_key=None,
        now=now,
        ttl=ttl,
        visible_to=actor.organisation,
    )


def _huddle_view(h: Huddle) -> HuddleView:
    return HuddleView(h.id, h.site, h.held_on, h.started_at, h.started_by_username)


def _note_view(n: HuddleNote, held_on: date) -> NoteView:
    return NoteView(
        held_on=held_on,
        recorded_at=n.recorded_at,
        recorded_by=n.recorded_by_username,
        discussed=n.discussed,
        action=n.action,
        action_owner=n.action_owner,
        action_due=n.action_due,
    )


__all__ = [
    "SYSTEM_WIDE",
    "Agenda",
    "AgendaItem",
    "HuddleView",
    "NoteView",
    "Section",
    "agenda",
    "de_escalate",
    "escalate",
    "may_escalate",
    "may_write",
    "notes",
    "record_note",
    "sites",
    "start",
]
