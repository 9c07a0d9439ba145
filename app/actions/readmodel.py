"""The actions read model (`case_actions`), kept by the one transition entry point.

Every change of a workflow whose pathway has actions or milestones passes through `project`,
which skips at once an event that cannot change any action (no statement), reads the case's
rows once otherwise, applies the event with the same fold as the rebuild (`app.actions.fold`)
and writes the rows that changed. Overdue is not stored: it is the due time against the clock,
so nothing needs a daily tick.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.actions.fold import ActionState, apply_event, derive, relevant_triggers
from app.actions.repository import ActionRepository, state_of
from app.engine.catalogue import PathwayCatalogue
from app.engine.readmodels import Change
from app.engine.spec import PathwaySpec

NAME = "case_actions"


def workflows_with_actions(catalogue: PathwayCatalogue) -> frozenset[str]:
    """Pathway keys any version of which declares milestones or the `add_action` event."""
    return frozenset(
        loaded.spec.key
        for loaded in catalogue.all()
        if loaded.spec.milestones or "add_action" in loaded.spec.triggers()
    )


class CaseActions:
    """The read model (see the module's docstring)."""

    name = NAME

    def __init__(self, catalogue: PathwayCatalogue) -> None:
        self.catalogue = catalogue
        self.workflows = workflows_with_actions(catalogue)
        self._triggers: dict[tuple[str, int], tuple[frozenset[str], frozenset[str]]] = {}

    def _spec(self, key: str, version: int) -> PathwaySpec:
        loaded = self.catalogue.get(key, version)
        if loaded is None:
            raise LookupError(f"pathway {key} version {version} is not loaded")
        return loaded.spec

    def _relevant(self, spec: PathwaySpec, change: Change) -> bool:
        key = (spec.key, spec.version)
        found = self._triggers.get(key)
        if found is None:
            found = self._triggers[key] = relevant_triggers(spec)
        events, states = found
        event = change.event
        return (
            event.event in events
            or (event.to_state in states and event.to_state != event.from_state)
            or spec.state(event.to_state).final
        )

    def project(self, session: Session, change: Change) -> None:
        case, event = change.case, change.event
        spec = self._spec(case.workflow_key, event.pathway_version)
        repo = ActionRepository(session)
        if not self._relevant(spec, change):
            if not change.opened and change.touches("site", "attributes.pathway"):
                repo.set_case_columns(case)
            return
        rows = {row.ref: row for row in repo.for_case(case.id)}
        states = {ref: state_of(row) for ref, row in rows.items()}
        changed = apply_event(states, event, spec, case.attributes, case.organisation)
        repo.write(case, rows, [states[ref] for ref in sorted(changed)])
        if rows and change.touches("site", "attributes.pathway"):
            session.flush()
            repo.set_case_columns(case)

    def tick(self, session: Session, *, now: datetime) -> int:  # noqa: ARG002 - no time part
        return 0

    def rebuild(self, session: Session, *, now: datetime) -> int:  # noqa: ARG002 - events only
        repo = ActionRepository(session)
        keys = sorted(self.workflows)
        repo.clear(keys)
        written = 0
        for case, events in repo.cases_with_events(keys):
            derived = self._derive(case.workflow_key, case.organisation, events)
            if derived:
                repo.write(case, {}, derived.values())
                written += 1
        session.flush()
        return written

    def check(self, session: Session, *, now: datetime) -> list[str]:  # noqa: ARG002
        repo = ActionRepository(session)
        keys = sorted(self.workflows)
        stored = repo.all_rows(keys)
        problems: list[str] = []
        for case, events in repo.cases_with_events(keys):
            derived = self._derive(case.workflow_key, case.organisation, events)
            rows = {row.ref: row for row in stored.get(case.id, [])}
            for ref in sorted(derived.keys() | rows.keys()):
                want = derived.get(ref)
                row = rows.get(ref)
                have: ActionState | None = state_of(row) if row is not None else None
                if want != have:
                    problems.append(f"case {case.id} action {ref}: stored {have}, derived {want}")
                elif row is not None and (
                    row.site != case.site or row.pathway != _pathway(case.attributes)
                ):
                    problems.append(f"case {case.id} action {ref}: site or pathway out of date")
        return problems

    def _derive(self, key: str, organisation: str, events: list) -> dict[str, ActionState]:  # type: ignore[type-arg]
        specs = {v: self._spec(key, v) for v in {e.pathway_version for e in events}}
        return derive(events, specs, organisation)


def _pathway(attributes: dict[str, object] | None) -> str | None:
    value = (attributes or {}).get("pathway")
    return str(value) if value is not None else None
