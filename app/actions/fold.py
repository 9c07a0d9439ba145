"""The actions of a case, derived from its events: one fold for the live projection and the
rebuild, so the two cannot disagree.

An event changes the actions in this order:
1. its own action data (`add_action`, `update_action`, `complete_action`, `explain_late_action`,
   `cancel_action`);
2. for each milestone of its pathway version: done, then withdrawn, then started (so a
   milestone withdrawn and started by one event begins a new cycle);
3. a final state withdraws every action still open.

A milestone starts only when it has never started or its latest cycle was withdrawn or
cancelled: a milestone done stays done (a second referral to the hub does not reopen "referral
sent").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from app.engine.calendars import parse_calendar
from app.engine.spec import MilestoneSpec, PathwaySpec
from app.timeutil import as_utc

ADD, UPDATE, COMPLETE, EXPLAIN, CANCEL = (
    "add_action",
    "update_action",
    "complete_action",
    "explain_late_action",
    "cancel_action",
)
ACTION_EVENTS = frozenset({ADD, UPDATE, COMPLETE, EXPLAIN, CANCEL})
OPEN, DONE, CANCELLED, WITHDRAWN = "open", "done", "cancelled", "withdrawn"


class EventLike(Protocol):
    """What the fold reads of a case event (`app.models.CaseEvent`)."""

    seq: int
    pathway_version: int
    event: str
    from_state: str | None
    to_state: str
    data: dict[str, Any]
    occurred_at: datetime
    actor_username: str


@dataclass(frozen=True)
class ActionState:
    ref: str
    kind: str  # action | milestone
    milestone: str | None
    cycle: int
    title: str
    owner_organisation: str
    owner_role: str | None
    assignee: str | None
    due_at: datetime
    status: str
    opened_at: datetime
    opened_seq: int
    closed_at: datetime | None = None
    closed_seq: int | None = None
    closed_by: str | None = None
    late_reason: str | None = None
    # A milestone's own late reasons (from its pathway); any reason for an action.
    late_reasons: tuple[str, ...] = ()

    def late_at(self, at: datetime) -> bool:
        """Whether it was (or is) late at `at`: still open past its due time, or closed after it."""
        end = self.closed_at if self.status != OPEN and self.closed_at is not None else at
        return end > self.due_at


def action_ref(seq: int) -> str:
    """An action's reference: the sequence number of the event that added it."""
    return f"A{seq}"


def milestone_ref(name: str, cycle: int) -> str:
    return name if cycle == 1 else f"{name}-{cycle}"


def apply_event(
    actions: dict[str, ActionState],
    event: EventLike,
    spec: PathwaySpec,
    attributes: Mapping[str, Any],
    case_organisation: str,
) -> set[str]:
    """Apply one event to `actions` (ref -> state, changed in place); returns the refs changed.
    `attributes` are the case's after the event."""
    changed: set[str] = set()
    data = event.data

    def put(state: ActionState) -> None:
        actions[state.ref] = state
        changed.add(state.ref)

    if event.event in ACTION_EVENTS:
        _apply_own(actions, event, case_organisation, put)

    def fact(name: str) -> Any:
        return data[name] if name in data else attributes.get(name)

    for milestone in spec.milestones:
        current = _latest_cycle(actions, milestone.name)
        if current is not None and current.status == OPEN:
            for part, status in ((milestone.done_on, DONE), (milestone.withdrawn_on, WITHDRAWN)):
                if part.matches(event.event, event.to_state, event.from_state, fact):
                    current = _closed(current, status, event)
                    put(current)
                    break
        may_start = current is None or current.status in (WITHDRAWN, CANCELLED)
        if (
            may_start
            and milestone.applies(fact)
            and milestone.starts_on.matches(event.event, event.to_state, event.from_state, fact)
        ):
            cycle = current.cycle + 1 if current is not None else 1
            put(_started(milestone, cycle, event, fact, case_organisation))

    if spec.state(event.to_state).final:
        for state in list(actions.values()):
            if state.status == OPEN:
                put(_closed(state, WITHDRAWN, event))
    return changed


def derive(
    events: list[EventLike], specs: Mapping[int, PathwaySpec], case_organisation: str
) -> dict[str, ActionState]:
    """Every action of one case from its events in order (`specs` by pathway version, each
    event read under its own version's milestones)."""
    actions: dict[str, ActionState] = {}
    attributes: dict[str, Any] = {}
    for event in events:
        spec = specs[event.pathway_version]
        attributes.update(
            {k: v for k, v in event.data.items() if k in spec.fields and spec.fields[k].store}
        )
        apply_event(actions, event, spec, attributes, case_organisation)
    return actions


def _apply_own(
    actions: dict[str, ActionState],
    event: EventLike,
    case_organisation: str,
    put: Any,
) -> None:
    data = event.data
    if event.event == ADD:
        put(
            ActionState(
                ref=action_ref(event.seq),
                kind="action",
                milestone=None,
                cycle=1,
                title=data["action_title"],
                owner_organisation=data.get("action_owner_organisation") or case_organisation,
                owner_role=data.get("action_owner_role"),
                assignee=data.get("action_assignee"),
                due_at=_when(data["action_due"]),
                status=OPEN,
                opened_at=event.occurred_at,
                opened_seq=event.seq,
            )
        )
        return
    current = actions.get(data.get("action_ref", ""))
    if current is None:
        return  # the guards refuse an unknown reference; an old event is read leniently
    if event.event == UPDATE:
        put(
            replace(
                current,
                title=data.get("action_title", current.title),
                owner_organisation=data.get(
                    "action_owner_organisation", current.owner_organisation
                ),
                owner_role=data.get("action_owner_role", current.owner_role),
                assignee=data.get("action_assignee", current.assignee),
                due_at=_when(data["action_due"]) if "action_due" in data else current.due_at,
            )
        )
    elif event.event == COMPLETE:
        closed = _closed(current, DONE, event)
        put(replace(closed, late_reason=data.get("action_late_reason", closed.late_reason)))
    elif event.event == CANCEL:
        put(_closed(current, CANCELLED, event))
    elif event.event == EXPLAIN:
        put(replace(current, late_reason=data["action_late_reason"]))


def _latest_cycle(actions: dict[str, ActionState], name: str) -> ActionState | None:
    cycles = [a for a in actions.values() if a.milestone == name]
    return max(cycles, key=lambda a: a.cycle) if cycles else None


def _started(
    milestone: MilestoneSpec, cycle: int, event: EventLike, fact: Any, case_organisation: str
) -> ActionState:
    source = milestone.owner.organisation_from
    owner = (fact(source) if source else None) or case_organisation
    due = parse_calendar(milestone.calendar).advance(event.occurred_at, milestone.due_delta)
    return ActionState(
        ref=milestone_ref(milestone.name, cycle),
        kind="milestone",
        milestone=milestone.name,
        cycle=cycle,
        title=milestone.title,
        owner_organisation=str(owner),
        owner_role=milestone.owner.role,
        assignee=None,
        due_at=due,
        status=OPEN,
        opened_at=event.occurred_at,
        opened_seq=event.seq,
        late_reasons=milestone.late_reasons,
    )


def _closed(state: ActionState, status: str, event: EventLike) -> ActionState:
    return replace(
        state,
        status=status,
        closed_at=event.occurred_at,
        closed_seq=event.seq,
        closed_by=event.actor_username,
    )


def _when(value: Any) -> datetime:
    return as_utc(datetime.fromisoformat(value)) if isinstance(value, str) else as_utc(value)


def relevant_triggers(spec: PathwaySpec) -> tuple[frozenset[str], frozenset[str]]:
    """The events and states that can change a case's actions under `spec` (beyond its final
    states): the projection skips every other event without reading anything."""
    events: set[str] = set(ACTION_EVENTS)
    states: set[str] = set()
    for milestone in spec.milestones:
        for part in (milestone.starts_on, milestone.done_on, milestone.withdrawn_on):
            events.update(part.events)
            states.update(part.states)
    return frozenset(events), frozenset(states)
