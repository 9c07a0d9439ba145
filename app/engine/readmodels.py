"""Read models: tables derived from the case events, kept in the transaction that writes them.

A workflow declares the read models it keeps (its `Workflow.read_models`). The one transition
entry point (`app.cases.transition.CaseWriter`) calls every read model of the case's workflow,
explicitly, after each state change and before the caller's Unit of Work commits: a change and
its read-side rows commit together or not at all. No ORM session hooks are involved, so nothing
depends on which modules a process happens to import.

Each read model can also be rebuilt from the events (`homefirst metrics rebuild`) and compared
with the plain derivation (`homefirst metrics check`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from app.models import Case, CaseEvent

# Case columns a projector may ask about; attribute keys are reported as "attributes.<key>".
CASE_COLUMNS = ("state", "is_open", "closed_at", "organisation", "site", "opened_at")


@dataclass(frozen=True)
class Change:
    """One state change as a read model sees it: the case after it, the event it appended, and
    what it changed on the case (every column and attribute for a newly opened case)."""

    case: Case
    event: CaseEvent
    changed: frozenset[str]
    now: datetime

    @property
    def opened(self) -> bool:
        return self.event.seq == 1

    def touches(self, *names: str) -> bool:
        return self.opened or any(name in self.changed for name in names)


class ReadModel(Protocol):
    """A table (or tables) derived from the events of some workflows."""

    name: str
    workflows: frozenset[str]

    def project(self, session: Session, change: Change) -> None:
        """Bring the rows of `change.case` up to date, in the caller's transaction."""

    def tick(self, session: Session, *, now: datetime) -> int:
        """Re-derive what depends on the date alone (run once a London day); rows changed."""

    def rebuild(self, session: Session, *, now: datetime) -> int:
        """Derive every row again from the events; returns the rows (cases) written."""

    def check(self, session: Session, *, now: datetime) -> list[str]:
        """Every difference between the stored rows and the plain derivation, in words."""


class ReadModelRegistry:
    """The read models of the registered workflows, by name and by workflow key."""

    def __init__(self, models: Iterable[ReadModel] = ()) -> None:
        self._by_name: dict[str, ReadModel] = {}
        self._by_workflow: dict[str, tuple[ReadModel, ...]] = {}
        for model in models:
            self.add(model)

    def add(self, model: ReadModel) -> None:
        if model.name in self._by_name:
            raise ValueError(f"read model {model.name!r} registered twice")
        self._by_name[model.name] = model
        for key in sorted(model.workflows):
            self._by_workflow[key] = (*self._by_workflow.get(key, ()), model)

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> ReadModel:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise KeyError(f"no read model {name!r} (known: {known})") from None

    def for_workflow(self, key: str) -> tuple[ReadModel, ...]:
        return self._by_workflow.get(key, ())

    def project(self, session: Session, change: Change) -> None:
        for model in self._by_workflow.get(change.case.workflow_key, ()):
            model.project(session, change)

    def project_opened(self, session: Session, changes: Sequence[Change]) -> None:
        """Cases opened together and already written (`CaseWriter.open_batch`). A read model
        with a `project_opened(session, changes)` method gets them all at once (a few
        statements instead of a few per case); any other gets them one change at a time."""
        by_workflow: dict[str, list[Change]] = {}
        for change in changes:
            by_workflow.setdefault(change.case.workflow_key, []).append(change)
        for key, group in by_workflow.items():
            for model in self._by_workflow.get(key, ()):
                bulk = getattr(model, "project_opened", None)
                if bulk is not None:
                    bulk(session, group)
                else:
                    for change in group:
                        model.project(session, change)


@dataclass(frozen=True)
class CaseSnapshot:
    """What a case looked like before a change, to tell a read model what the change touched."""

    values: tuple[object, ...]
    attributes: dict[str, object]

    @classmethod
    def of(cls, case: Case) -> CaseSnapshot:
        return cls(tuple(getattr(case, c) for c in CASE_COLUMNS), case.attributes)

    def changed(self, case: Case) -> frozenset[str]:
        out = {
            name
            for name, before in zip(CASE_COLUMNS, self.values, strict=True)
            if getattr(case, name) != before
        }
        after = case.attributes
        if after is not self.attributes:
            out |= {
                f"attributes.{k}"
                for k in self.attributes.keys() | after.keys()
                if self.attributes.get(k) != after.get(k)
            }
        return frozenset(out)


def opened_change(case: Case, event: CaseEvent, now: datetime) -> Change:
    everything = frozenset(CASE_COLUMNS) | {f"attributes.{k}" for k in case.attributes}
    return Change(case, event, everything, now)


def tick_read_models(session: Session, registry: ReadModelRegistry, now: datetime) -> int:
    """Let every read model that depends on the date move on to `now` (one transaction);
    returns the rows changed. Safe beside other processes: each write is a compare-and-set."""
    changed = sum(registry.get(name).tick(session, now=now) for name in registry.names())
    session.commit()
    return changed
