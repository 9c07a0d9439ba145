"""The pathway file format, parsed into typed objects (never straight into `transitions`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.engine.calendars import parse_calendar
from app.engine.durations import parse_duration

NAME = r"^[a-z][a-z0-9_]*$"
KEY = r"^[a-z][a-z0-9_-]*$"
RESERVED_TRIGGERS = {"open"}
FieldType = Literal[
    "string",
    "text",
    "integer",
    "boolean",
    "date",
    "datetime",
    "enum",
    "nhs_number",
    "code",
    "codes",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    type: FieldType
    description: str = ""
    choices: tuple[str, ...] = ()
    max_length: int = 500
    minimum: int | None = None
    maximum: int | None = None
    # For types `code` and `codes` (a list of distinct codes): the code list key whose version in
    # force on the event's date validates the value(s).
    codelist: str | None = None
    # For type `codes`: the most codes one value may hold.
    max_items: int = Field(default=50, ge=1, le=500)
    # False for event-only data (kept in the event, not copied onto the case).
    store: bool = True
    # For type `enum`: words to show for some or all choices (screens, forms); the stored value
    # stays the choice.
    labels: dict[str, str] = {}
    # For `date` and `datetime`: no later than the event's own clinical date (a date of birth).
    not_in_future: bool = False

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum field needs choices")
        unknown = sorted(set(self.labels) - set(self.choices))
        if unknown:
            raise ValueError(f"labels name values that are not choices: {', '.join(unknown)}")
        if self.not_in_future and self.type not in ("date", "datetime"):
            raise ValueError("not_in_future applies to date and datetime fields only")
        if self.type in ("code", "codes") and not self.codelist:
            raise ValueError(f"a {self.type} field needs a codelist")
        return self


class StateSpec(_Strict):
    name: str = Field(pattern=NAME)
    final: bool = False
    tags: tuple[str, ...] = ()
    description: str = ""

    @property
    def queue(self) -> str | None:
        queues = [t.split(":", 1)[1] for t in self.tags if t.startswith("queue:")]
        return queues[0] if queues else None


class TransitionSpec(_Strict):
    trigger: str = Field(pattern=NAME)
    source: tuple[str, ...]
    # None: an internal transition that records facts (a flag, a delay reason) and keeps the state.
    dest: str | None
    roles: tuple[str, ...] = Field(min_length=1)
    requires: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    # Named read-side facts the guards need beyond the case (for example a service's occupancy),
    # looked up by the service layer before the guards run.
    facts: tuple[str, ...] = ()
    description: str = ""

    @field_validator("source", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def target(self, source: str) -> str:
        return self.dest if self.dest is not None else source

    @property
    def data_fields(self) -> tuple[str, ...]:
        return self.requires + tuple(f for f in self.accepts if f not in self.requires)


class ClockTriggerSpec(_Strict):
    """What moves a clock: firing one of `events`, or entering one of `states`."""

    events: tuple[str, ...] = ()
    states: tuple[str, ...] = ()

    @field_validator("events", "states", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def matches(self, trigger: str, dest: str, source: str | None) -> bool:
        entered = dest in self.states and dest != source
        return trigger in self.events or entered


class ClockSpec(_Strict):
    name: str = Field(pattern=NAME)
    description: str = ""
    target: str
    # One warning, or several (e.g. long-stay warnings at 7 and 14 days before a 21-day target).
    warning: str | None = None
    warnings: tuple[str, ...] = ()
    # `wall_clock`, or service hours such as "hours 08:00-20:00 Europe/London" (app/clocks).
    calendar: str = Field(default="wall_clock", max_length=64)
    starts_on: ClockTriggerSpec
    pauses_on: ClockTriggerSpec = ClockTriggerSpec()
    resumes_on: ClockTriggerSpec = ClockTriggerSpec()
    stops_on: ClockTriggerSpec = ClockTriggerSpec()
    # True: a start while the clock already ran closes it and opens a fresh cycle.
    restart: bool = False

    @property
    def target_delta(self) -> timedelta:
        return parse_duration(self.target)

    @property
    def warning_deltas(self) -> list[timedelta]:
        texts = ([self.warning] if self.warning else []) + list(self.warnings)
        return sorted({parse_duration(t) for t in texts})

    @model_validator(mode="after")
    def _check(self) -> ClockSpec:
        parse_calendar(self.calendar)
        target = parse_duration(self.target)
        if target <= timedelta(0):
            raise ValueError(f"clock {self.name}: target must be positive")
        for warning in self.warning_deltas:
            if not timedelta(0) < warning < target:
                raise ValueError(
                    f"clock {self.name}: warnings must fall between zero and the target"
                )
        return self


class MilestoneTriggerSpec(_Strict):
    """What starts, completes or withdraws a milestone: firing one of `events` or entering one
    of `states`, where each field named under `data` (the event's data, else the case's
    attributes) holds one of the values listed for it."""

    events: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    data: dict[str, tuple[str, ...]] = {}

    @field_validator("events", "states", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @property
    def empty(self) -> bool:
        return not self.events and not self.states

    def matches(
        self, trigger: str, dest: str, source: str | None, fact: Callable[[str], object]
    ) -> bool:
        entered = dest in self.states and dest != source
        if not (trigger in self.events or entered):
            return False
        return all(_as_text(fact(name)) in values for name, values in self.data.items())


class MilestoneOwnerSpec(_Strict):
    """Who a milestone is waiting on: a role (team) in an organisation, by default the case's
    own; `organisation_from` names a field of the starting event that holds another
    organisation (the partner a referral went to)."""

    role: str
    organisation_from: str | None = None


class MilestoneSpec(_Strict):
    """A step of the discharge every partner can see: who owns it, when it is due (counted
    from the event that starts it) and the reasons that may explain it being late."""

    name: str = Field(pattern=NAME, max_length=40)
    title: str = Field(max_length=200)
    description: str = ""
    # Conditions on the case (attributes, or the starting event's data) for the milestone to
    # apply at all, for example `pathway: [P1]`.
    when: dict[str, tuple[str, ...]] = {}
    starts_on: MilestoneTriggerSpec
    done_on: MilestoneTriggerSpec
    # Open milestones that stop applying (the patient died, the case was cancelled).
    withdrawn_on: MilestoneTriggerSpec = MilestoneTriggerSpec()
    due: str
    calendar: str = Field(default="wall_clock", max_length=64)
    owner: MilestoneOwnerSpec
    # Choices of the `action_late_reason` field that explain this milestone being late.
    late_reasons: tuple[str, ...] = ()

    @property
    def due_delta(self) -> timedelta:
        return parse_duration(self.due)

    @model_validator(mode="after")
    def _check(self) -> MilestoneSpec:
        parse_calendar(self.calendar)
        if parse_duration(self.due) <= timedelta(0):
            raise ValueError(f"milestone {self.name}: due must be positive")
        if self.starts_on.empty or self.done_on.empty:
            raise ValueError(f"milestone {self.name}: starts_on and done_on need an event or state")
        return self

    def applies(self, fact: Callable[[str], object]) -> bool:
        return all(_as_text(fact(name)) in values for name, values in self.when.items())


def _as_text(value: object) -> str | None:
    return None if value is None else str(value)


class PathwaySpec(_Strict):
    key: str = Field(pattern=KEY)
    version: int = Field(ge=1)
    title: str
    description: str = ""
    initial: str
    open_roles: tuple[str, ...] = Field(min_length=1)
    # "nhs_number": every case must carry a valid NHS number as its patient reference.
    patient_ref: Literal["optional", "nhs_number"] = "optional"
    # A datetime field (e.g. admitted_at) no clinical time on the case may precede; by default
    # the time the case was opened.
    clinical_time_floor: str | None = None
    open_requires: tuple[str, ...] = ()
    open_accepts: tuple[str, ...] = ()
    fields: dict[str, FieldSpec] = {}
    states: tuple[StateSpec, ...] = Field(min_length=1)
    transitions: tuple[TransitionSpec, ...] = ()
    clocks: tuple[ClockSpec, ...] = ()
    milestones: tuple[MilestoneSpec, ...] = ()

    def state(self, name: str) -> StateSpec:
        return self.states_by_name[name]

    @property
    def states_by_name(self) -> dict[str, StateSpec]:
        return {s.name: s for s in self.states}

    @property
    def open_fields(self) -> tuple[str, ...]:
        return self.open_requires + tuple(
            f for f in self.open_accepts if f not in self.open_requires
        )

    def transitions_from(self, state: str) -> list[TransitionSpec]:
        return [t for t in self.transitions if state in t.source]

    def triggers(self) -> list[str]:
        return list(dict.fromkeys(t.trigger for t in self.transitions))
