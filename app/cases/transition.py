"""The one entry point for every state change of every workflow.

The case API, linked cases, pathway effects, the CHC import and reconciliation, the demo data and
any future feed or screen open and move cases only through `CaseWriter`. It locks the case, runs
the engine with the case's facts, lets the engine append the event and advance the clocks, and
then calls the read models of the case's workflow explicitly, all in the caller's Unit of Work:
the change, its clocks and its read-side rows commit together or not at all.

No other module builds engine calls (the import contracts in `.importlinter` hold it so).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.facts import CaseFacts
from app.cases.repository import CaseRepository, LockedCase, StagedCaseStore
from app.cases.sharing import share_with_journey
from app.clocks.repository import ClockRepository, StagedClockRepository
from app.clocks.service import ClockService
from app.engine.context import Recipient
from app.engine.engine import Command, Engine, OpenCommand
from app.engine.readmodels import CaseSnapshot, Change, ReadModelRegistry, opened_change
from app.errors import NotFound, StaleCase
from app.links.repository import LinkRepository
from app.models import Case, CaseEvent, CaseLink
from app.notifications.kinds import case_link
from app.notifications.outbox import notify, notify_recipient

log = logging.getLogger("homefirst.transition")


@dataclass(frozen=True)
class Fired:
    """A change that was made: the case after it, its event, and what the lock read (the
    clocks as changed since, the links) for building the answer without reading them again."""

    case: Case
    event: CaseEvent
    clocks: ClockRepository
    locked: LockedCase
    # Cases an effect opened and linked to this one (the lock's links are then not all).
    opened_linked: tuple[int, ...] = ()


# Called with (workflow, event) for each transition written: the metrics' counter.
TransitionObserver = Callable[[str, str], None]


@dataclass(frozen=True)
class CaseWriter:
    engine: Engine
    read_models: ReadModelRegistry
    observe: TransitionObserver | None = None

    # -- opening ----------------------------------------------------------------------------------
    def open(self, session: Session, cmd: OpenCommand, *, now: datetime) -> Case:
        """Open a case on the latest version of its pathway."""
        store = CaseRepository(session)
        case = self.engine.open_case(
            cmd, now=now, store=store, clocks=ClockService(ClockRepository(session), now=now)
        )
        assert store.appended is not None  # noqa: S101 - open_case appends the first event
        self.read_models.project(session, opened_change(case, store.appended, now))
        self._written(case, store.appended)
        return case

    def open_batch(self, session: Session, *, now: datetime) -> OpenBatch:
        """Open many cases with a handful of statements in all (a backlog import): the same
        engine checks, events, clocks and read models as `open`, written together by
        `OpenBatch.write`."""
        return OpenBatch(self, session, now)

    def open_linked(
        self,
        session: Session,
        *,
        actor: Actor,
        source: Case,
        workflow: str,
        link_type: str,
        site: str | None,
        data: dict[str, Any],
        occurred_at: datetime | None,
        reason: str | None,
        now: datetime,
    ) -> Case:
        """Open a case on `workflow` for the same patient, shared with the organisations of the
        journey it comes from and linked to `source`."""
        target = self.open(
            session,
            OpenCommand(
                workflow,
                actor,
                actor.organisation,
                site or source.site,
                source.patient_ref,
                data,
                occurred_at,
                reason,
            ),
            now=now,
        )
        share_with_journey(session, source_id=source.id, target=target, now=now, actor=actor)
        LinkRepository(session).add(
            CaseLink(
                from_case_id=source.id,
                to_case_id=target.id,
                link_type=link_type,
                created_at=now,
                created_by_id=actor.user_id,
                created_by=actor.username,
            )
        )
        return target

    # -- moving -----------------------------------------------------------------------------------
    def fire(
        self,
        session: Session,
        case_id: int,
        cmd: Command,
        *,
        now: datetime,
        expected_version: int | None = None,
        locked: LockedCase | None = None,
        store: CaseRepository | None = None,
    ) -> Fired:
        """Fire `cmd` on the case. `locked` is the case as the caller already locked it (with
        the same `store` that locked it); `expected_version` refuses a stale change (412)."""
        store = store or CaseRepository(session)
        if locked is None:
            locked = store.lock_for_event(case_id, cmd.trigger)
            if locked is None:
                raise NotFound(f"case {case_id} not found")
        case = locked.case
        if expected_version is not None and case.version != expected_version:
            raise StaleCase(
                f"the case is at version {case.version}, not {expected_version}; reload and retry",
                current_version=case.version,
                etag=case.etag,
            )
        clocks = ClockRepository(session)
        clocks.prime(case.id, locked.clocks)
        before = CaseSnapshot.of(case)
        effects = CaseEffectPorts(session, self, cmd.actor, now)
        event = self.engine.fire(
            case,
            cmd,
            now=now,
            store=store,
            clocks=ClockService(clocks, now=now),
            effects=effects,
            facts=CaseFacts(session, self.engine.catalogue.rules),
        )
        self.read_models.project(session, Change(case, event, before.changed(case), now))
        self._written(case, event)
        return Fired(case, event, clocks, locked, tuple(effects.opened))

    def _written(self, case: Case, event: CaseEvent) -> None:
        """The log line (ids and codes only) and the metrics of one staged transition; it
        commits with the caller's Unit of Work or not at all."""
        log.info(
            "transition",
            extra={
                "event": "transition",
                "workflow": case.workflow_key,
                "trigger": event.event,
                "case_id": case.id,
                "seq": event.seq,
                "from_state": event.from_state,
                "to_state": event.to_state,
                "pathway_version": event.pathway_version,
            },
        )
        if self.observe is not None:
            self.observe(case.workflow_key, event.event)


class OpenBatch:
    """Cases being opened together, each through the engine exactly as `CaseWriter.open` does;
    nothing is written until `write`, which inserts the cases, their first events, clocks and
    clock evidence with one statement per table and then brings the read models up to date for
    all of them, in the caller's transaction.

    Until `write`, the new cases exist only here: a caller that must read or change one (fire an
    event on it) writes first. On SQLite nothing else may insert cases or clocks in the
    transaction between the first `open` and `write` (their ids are counted on; see
    `app.bulk.IdAllocator`).
    """

    def __init__(self, writer: CaseWriter, session: Session, now: datetime) -> None:
        self.writer, self.session, self.now = writer, session, now
        self.store = StagedCaseStore(session)
        self.clocks = StagedClockRepository(session)
        self._clock_port = ClockService(self.clocks, now=now)
        self._changes: list[Change] = []

    def open(self, cmd: OpenCommand) -> Case:
        """Stage one case; a refusal (DomainError) stages nothing."""
        marks = self.store.mark(), self.clocks.mark()
        try:
            case = self.writer.engine.open_case(
                cmd, now=self.now, store=self.store, clocks=self._clock_port
            )
        except BaseException:
            self.store.undo(marks[0])
            self.clocks.undo(marks[1])
            raise
        assert self.store.appended is not None  # noqa: S101 - open_case appends the first event
        self._changes.append(opened_change(case, self.store.appended, self.now))
        return case

    @property
    def pending(self) -> int:
        return len(self._changes)

    def write(self) -> None:
        if not self._changes:
            return
        self.store.write()
        self.clocks.write()
        changes, self._changes = self._changes, []
        self.writer.read_models.project_opened(self.session, changes)


class CaseEffectPorts:
    """What pathway effects may change (the engine's `EffectPorts`), over the repositories."""

    def __init__(self, session: Session, writer: CaseWriter, actor: Actor, now: datetime) -> None:
        self.session, self.writer, self.actor, self.now = session, writer, actor, now
        self.cases = CaseRepository(session)
        self.opened: list[int] = []

    def set_attributes(self, case_id: int, values: dict[str, Any]) -> None:
        case = self.cases.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} not found")
        case.attributes = {**case.attributes, **values}

    def open_linked_case(
        self,
        case_id: int,
        *,
        workflow: str,
        link_type: str,
        data: dict[str, Any],
        occurred_at: datetime,
        reuse_open: bool = False,
    ) -> int:
        source = self.cases.get(case_id)
        if source is None:
            raise NotFound(f"case {case_id} not found")
        if reuse_open:
            for link, other in LinkRepository(self.session).for_case(case_id):
                if (
                    link.from_case_id == case_id
                    and link.link_type == link_type
                    and other.workflow_key == workflow
                    and other.is_open
                ):
                    return other.id
        target = self.writer.open_linked(
            self.session,
            actor=self.actor,
            source=source,
            workflow=workflow,
            link_type=link_type,
            site=None,
            data=data,
            occurred_at=occurred_at,
            reason="opened by the linked pathway",
            now=self.now,
        )
        self.opened.append(target.id)
        return target.id

    def notify(self, case_id: int, *, kind: str, summary: str, to: Recipient | None = None) -> None:
        if to is None:
            notify(
                self.session,
                kind=kind,
                case_id=case_id,
                link=case_link(case_id),
                summary=summary,
                now=self.now,
            )
            return
        case = self.cases.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} not found")
        notify_recipient(
            self.session,
            kind=kind,
            case_id=case_id,
            summary=summary,
            now=self.now,
            organisation=to.organisation or case.organisation,
            role=to.role,
            username=to.username,
        )
