"""SQL for cases and their events. No commits here: the service's Unit of Work commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, String, Table, Update, bindparam, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import ReturningInsert

from app.bulk import IdAllocator, insert_rows, row_of
from app.cases.scope import shared_with, visible_to
from app.errors import StaleCase
from app.models import Case, CaseEvent, CaseLink, CaseShare, Clock, IdempotencyRecord


@dataclass(frozen=True)
class LockedCase:
    case: Case
    clocks: list[Clock]  # by name, then cycle
    links: list[tuple[CaseLink, Case]]  # by link id, each with the case at the other end
    # Whether the organisation asked about owns the case or has it shared (False when none was).
    visible: bool = False
    # The stored answer of an earlier request with the Idempotency-Key asked about, if any.
    stored_response_id: int | None = None


@dataclass(frozen=True)
class CaseFilter:
    workflow: str | None = None
    state: str | None = None
    organisation: str | None = None
    site: str | None = None
    patient_ref: str | None = None
    is_open: bool | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    # Only cases owned by or shared with this organisation (organisation scoping).
    visible_to: str | None = None
    # With `visible_to`: only the cases shared with it, not those it owns (a `shared_only` grant).
    shared_only: bool = False


class CaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        # (case id, event) -> clinical time of the case's latest such event, read with the lock.
        self._last_seen: dict[tuple[int, str], datetime | None] = {}
        # The event this repository appended last (the transition entry point hands it on).
        self.appended: CaseEvent | None = None

    # -- CaseStore port -------------------------------------------------------------------
    def add_case(self, case: Case) -> None:
        self.session.add(case)
        self.session.flush()

    def append_event(self, event: CaseEvent) -> None:
        """Write the event and the case's new state now, as two plain statements.

        The hot path of every transition: SQL compiled once, no unit-of-work flush. The case's
        row is updated only if it is still at the version this change started from, and the
        case object is then marked as saved, so the commit has nothing more to write for it
        (anything an effect changes afterwards is flushed as usual)."""
        case = self.session.get(Case, event.case_id)
        if case is not None and event.seq > 1:
            values = {name: getattr(case, name) for name in _CASE_STEP}
            moved = self.session.execute(
                _save_case(), {**values, "case_id": case.id, "from_version": case.version - 1}
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise StaleCase("the case was changed by someone else; reload and retry")
            for name, value in values.items():
                set_committed_value(case, name, value)
        try:
            row = self.session.execute(
                _insert_event(), {c: getattr(event, c) for c in _EVENT_COLUMNS}
            ).one()
        except IntegrityError as exc:
            # Another writer appended this seq first: the caller's view of the case is stale.
            raise StaleCase("the case was changed by someone else; reload and retry") from exc
        set_committed_value(event, "id", row.id)
        set_committed_value(event, "tx_id", row.tx_id)
        self.appended = event

    def last_occurred_at(self, case_id: int, event: str) -> datetime | None:
        if (case_id, event) in self._last_seen:
            return self._last_seen[(case_id, event)]
        return self.session.execute(_last_of(event, case_id)).scalar_one_or_none()

    # -- reads ----------------------------------------------------------------------------
    def get(self, case_id: int, *, for_update: bool = False) -> Case | None:
        if not for_update:
            # The identity map first: within a unit of work the case is usually loaded already.
            return self.session.get(Case, case_id)
        stmt = select(Case).where(Case.id == case_id).with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def lock_for_event(
        self,
        case_id: int,
        event: str,
        *,
        visible_to: str | None = None,
        idempotency: tuple[int, str] | None = None,
    ) -> LockedCase | None:
        """The case locked for an event, with what the transition and its response need: its
        clocks, its links (with the case at the other end) and the clinical time of its latest
        `event` (the engine's time floor), and whether `visible_to` (an organisation) may see
        it, and (with `idempotency`, the actor's id and key) the id of the answer stored for an
        earlier request with that key. One round trip instead of six.

        `FOR UPDATE OF cases` locks the case row only (not the linked cases): clocks are written
        under the case's lock. SQLite ignores the clause; its writer lock (BEGIN IMMEDIATE)
        serialises writers instead.
        """
        params: dict[str, Any] = {"case_id": case_id, "event": event, "org": visible_to}
        if idempotency is not None:
            params["actor_id"], params["key"] = idempotency
        rows = self.session.execute(_lock_for_event(idempotency is not None), params).all()
        if not rows:
            return None
        first = rows[0]
        case = first[0]
        self._last_seen[(case_id, event)] = first[1]
        visible = visible_to is not None and bool(first[5])
        stored = first[6] if idempotency is not None else None
        if len(rows) == 1:  # the usual shape: at most one clock, no links
            clock, link = first[2], first[3]
            return LockedCase(
                case,
                [clock] if clock is not None else [],
                [(link, first[4])] if link is not None else [],
                visible,
                stored,
            )
        clocks = list({row[2].id: row[2] for row in rows if row[2] is not None}.values())
        links = {row[3].id: (row[3], row[4]) for row in rows if row[3] is not None}
        return LockedCase(case, clocks, [links[k] for k in sorted(links)], visible, stored)

    def search(self, flt: CaseFilter, *, before_id: int | None, limit: int) -> list[Case]:
        """Newest first, keyset-paginated on id (stable under inserts, unlike OFFSET)."""
        stmt = select(Case).order_by(Case.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(Case.id < before_id)
        conditions = {
            Case.workflow_key: flt.workflow,
            Case.state: flt.state,
            Case.organisation: flt.organisation,
            Case.site: flt.site,
            Case.patient_ref: flt.patient_ref,
            Case.is_open: flt.is_open,
        }
        for column, value in conditions.items():
            if value is not None:
                stmt = stmt.where(column == value)
        if flt.visible_to is not None:
            scope = shared_with if flt.shared_only else visible_to
            stmt = stmt.where(scope(flt.visible_to))
        if flt.opened_from is not None:
            stmt = stmt.where(Case.opened_at >= flt.opened_from)
        if flt.opened_to is not None:
            stmt = stmt.where(Case.opened_at < flt.opened_to)
        if flt.updated_from is not None:
            stmt = stmt.where(Case.updated_at >= flt.updated_from)
        if flt.updated_to is not None:
            stmt = stmt.where(Case.updated_at < flt.updated_to)
        return list(self.session.execute(stmt).scalars())

    def events(self, case_id: int) -> list[CaseEvent]:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
        return list(self.session.execute(stmt).scalars())


# What a transition changes on the case row (the rest is fixed when the case opens).
_CASE_STEP = ("state", "queue", "version", "is_open", "closed_at", "updated_at", "attributes")
_EVENT_COLUMNS = tuple(c.key for c in CaseEvent.__table__.columns if c.key not in ("id", "tx_id"))


@cache
def _save_case() -> Update:
    cases = cast(Table, Case.__table__)
    return (
        update(cases)
        .where(cases.c.id == bindparam("case_id"), cases.c.version == bindparam("from_version"))
        .values({name: bindparam(name) for name in _CASE_STEP})
    )


@cache
def _insert_event() -> ReturningInsert[Any]:
    events = cast(Table, CaseEvent.__table__)
    return (
        insert(events)
        .values({name: bindparam(name) for name in _EVENT_COLUMNS})
        .returning(events.c.id, events.c.tx_id)
    )


@cache
def _lock_for_event(with_key: bool = False) -> Select[Any]:
    """Built once (per shape): a statement object reused with new parameters skips
    construction, cache-key generation and compilation on every transition."""
    other = aliased(Case)
    last = _last_of(bindparam("event"), Case.id).scalar_subquery()
    org = bindparam("org", type_=String())
    shared = exists().where(CaseShare.case_id == Case.id, CaseShare.organisation == org)
    visible = or_(Case.organisation == org, shared)
    columns: list[Any] = [Case, last.label("last_same"), Clock, CaseLink, other]
    columns.append(visible.label("visible"))
    if with_key:
        stored = (
            select(IdempotencyRecord.id)
            .where(
                IdempotencyRecord.actor_id == bindparam("actor_id"),
                IdempotencyRecord.key == bindparam("key"),
            )
            .scalar_subquery()
        )
        columns.append(stored.label("stored_response_id"))
    return (
        select(*columns)
        .outerjoin(Clock, Clock.case_id == Case.id)
        .outerjoin(CaseLink, or_(CaseLink.from_case_id == Case.id, CaseLink.to_case_id == Case.id))
        .outerjoin(
            other,
            or_(
                (CaseLink.from_case_id == Case.id) & (other.id == CaseLink.to_case_id),
                (CaseLink.to_case_id == Case.id) & (other.id == CaseLink.from_case_id),
            ),
        )
        .where(Case.id == bindparam("case_id"))
        .order_by(Clock.name, Clock.cycle, CaseLink.id)
        .with_for_update(of=Case)
    )


def _last_of(event: Any, case_id: Any) -> Select[tuple[datetime]]:
    # ORDER BY + LIMIT rather than max(): an aggregate would bypass the UTC column type.
    return (
        select(CaseEvent.occurred_at)
        .where(CaseEvent.case_id == case_id, CaseEvent.event == event)
        .order_by(CaseEvent.occurred_at.desc())
        .limit(1)
    )


class StagedCaseStore:
    """A `CaseStore` for opening many cases at once (`CaseWriter.open_batch`).

    Each new case gets its id ahead (`IdAllocator`) and is kept with its first event; `write`
    then inserts all of them with one statement per table. The cases are never added to the
    session: once written, anything that reads or changes them loads them as usual.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cases: list[Case] = []
        self.events: list[CaseEvent] = []
        self.appended: CaseEvent | None = None
        self._case_ids = IdAllocator(session, cast(Table, Case.__table__))
        self._event_ids = IdAllocator(session, cast(Table, CaseEvent.__table__))

    def add_case(self, case: Case) -> None:
        case.id = self._case_ids.next()
        self.cases.append(case)

    def append_event(self, event: CaseEvent) -> None:
        if event.seq != 1:
            raise ValueError("a staged case takes only its opening event")
        event.id = self._event_ids.next()
        self.events.append(event)
        self.appended = event

    def last_occurred_at(self, _case_id: int, _event: str) -> datetime | None:
        return None  # a case being opened has no earlier events

    def mark(self) -> tuple[int, int]:
        return len(self.cases), len(self.events)

    def undo(self, mark: tuple[int, int]) -> None:
        """Forget what was staged after `mark` (an opening the engine refused half way)."""
        del self.cases[mark[0] :]
        del self.events[mark[1] :]

    def write(self) -> None:
        cases, events = cast(Table, Case.__table__), cast(Table, CaseEvent.__table__)
        insert_rows(self.session, cases, [row_of(c, cases) for c in self.cases])
        # tx_id is the database's own (the writing transaction, for the change feed).
        skip = frozenset({"tx_id"})
        insert_rows(self.session, events, [row_of(e, events, skip=skip) for e in self.events])
        self.cases, self.events = [], []
        self._case_ids.reset()
        self._event_ids.reset()
