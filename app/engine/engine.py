"""The only code that changes a case's state.

Each change updates the case and appends exactly one event through the `CaseStore` port, in the
caller's transaction; the caller commits both or neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from transitions import MachineError

from app.auth.actor import INTERNAL_ROLES, Actor
from app.calc.nhs_number import is_valid_nhs_number
from app.engine.catalogue import LoadedPathway, PathwayCatalogue
from app.engine.context import (
    EffectContext,
    EffectPorts,
    FactPort,
    GuardContext,
    LazyFacts,
    MachineModel,
)
from app.engine.fields import CodeCheck, validate_data
from app.engine.guards import evaluate_guards
from app.engine.ports import CaseStore, ClockAction, ClockPort
from app.engine.spec import PathwaySpec, TransitionSpec
from app.engine.timerules import InvalidTime, TimePolicy
from app.errors import Forbidden, GuardRejected, InvalidTransition, NotFound, ValidationFailed
from app.models import Case, CaseEvent
from app.timeutil import LONDON

OPEN = "open"


@dataclass(frozen=True)
class Command:
    """An event as the caller asked for it."""

    trigger: str
    actor: Actor
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    reason: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class OpenCommand:
    pathway_key: str
    actor: Actor
    organisation: str
    site: str | None = None
    patient_ref: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    reason: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class AllowedEvent:
    event: str
    dest: str
    allowed: bool
    reasons: list[str]
    requires: list[str]
    accepts: list[str]


# An allowed_events entry known from the roles alone: (event, dest, allowed, reasons, requires,
# accepts), or None when the transition's guards must run.
_Fixed = tuple[str, str, bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_Planned = tuple[TransitionSpec, _Fixed | None]


class PathwayIndex:
    """Lookups a pathway version answers on every transition, worked out once: its states by
    name, and the transitions out of each state (in file order), by trigger too."""

    def __init__(self, spec: PathwaySpec) -> None:
        self.states = {s.name: s for s in spec.states}
        self._from: dict[str, tuple[TransitionSpec, ...]] = {}
        self._by_trigger: dict[tuple[str, str], tuple[TransitionSpec, ...]] = {}
        # Per transition (by identity: hashing a spec model walks all its fields), the fields it
        # accepts beyond those it requires (allowed_events).
        self._optional = {
            id(t): tuple(f for f in t.accepts if f not in t.requires) for t in spec.transitions
        }
        self._spec = spec
        self._plans: dict[tuple[str, frozenset[str]], tuple[_Planned, ...]] = {}

    def transitions_from(self, state: str) -> tuple[TransitionSpec, ...]:
        found = self._from.get(state)
        if found is None:
            found = self._from[state] = tuple(self._spec.transitions_from(state))
        return found

    def optional(self, t: TransitionSpec) -> tuple[str, ...]:
        return self._optional[id(t)]

    def allowed_plan(self, state: str, roles: frozenset[str]) -> tuple[_Planned, ...]:
        """For each transition out of `state`, its `allowed_events` entry when that depends only
        on the caller's roles (the caller lacks every role it names, or it has no guards), else
        None: its guards must run on the case."""
        key = (state, roles)
        found = self._plans.get(key)
        if found is None:
            # A transition only internal roles fire (the PAS feed's own `discharge` branch) is
            # not listed to a caller without them: no person can be given those roles, so "needs
            # the role interface" would tell them nothing they could act on.
            found = tuple(
                self._plan(state, roles, t)
                for t in self.transitions_from(state)
                if not INTERNAL_ROLES.issuperset(t.roles) or not roles.isdisjoint(t.roles)
            )
            if len(self._plans) >= 1_000:  # roles come in few combinations; stay bounded anyway
                self._plans.clear()
            self._plans[key] = found
        return found

    def _plan(self, state: str, roles: frozenset[str], t: TransitionSpec) -> _Planned:
        fixed: _Fixed | None = None
        if not any(role in roles for role in t.roles):
            reason = f"needs one of the roles: {', '.join(t.roles)}"
            fixed = (t.trigger, t.target(state), False, (reason,), t.requires, self.optional(t))
        elif not t.guards:
            fixed = (t.trigger, t.target(state), True, (), t.requires, self.optional(t))
        return t, fixed

    def candidates(self, state: str, trigger: str) -> tuple[TransitionSpec, ...]:
        found = self._by_trigger.get((state, trigger))
        if found is None:
            found = tuple(t for t in self.transitions_from(state) if t.trigger == trigger)
            self._by_trigger[(state, trigger)] = found
        return found


@dataclass
class Engine:
    catalogue: PathwayCatalogue
    time_policy: TimePolicy = field(default_factory=TimePolicy)
    code_check: CodeCheck | None = None
    # (pathway key, version) -> the loaded pathway and its index; pathway versions never change.
    _indexes: dict[tuple[str, int], tuple[LoadedPathway, PathwayIndex]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def pathway_for(self, case: Case) -> LoadedPathway:
        return self._indexed(case.workflow_key, case.workflow_version)[0]

    def _indexed(self, key: str, version: int) -> tuple[LoadedPathway, PathwayIndex]:
        found = self._indexes.get((key, version))
        if found is not None and self.catalogue.get(key, version) is found[0]:
            return found
        loaded = self.catalogue.get(key, version)
        if loaded is None:
            raise NotFound(f"pathway {key} version {version} is not loaded")
        found = self._indexes[(key, version)] = (loaded, PathwayIndex(loaded.spec))
        return found

    def open_case(
        self, cmd: OpenCommand, *, now: datetime, store: CaseStore, clocks: ClockPort
    ) -> Case:
        loaded = self.catalogue.latest(cmd.pathway_key)
        if loaded is None:
            raise NotFound(f"no pathway with key {cmd.pathway_key!r}", pathway=cmd.pathway_key)
        spec = loaded.spec
        role = cmd.actor.role_for(spec.open_roles)
        if role is None:
            raise Forbidden(
                f"opening a {spec.key} case needs one of the roles: {', '.join(spec.open_roles)}",
                required_roles=list(spec.open_roles),
            )
        at, backdated = self.time_policy.resolve(cmd.occurred_at, now=now, reason=cmd.reason)
        data = self._validate(spec, cmd.data, spec.open_fields, spec.open_requires, at)
        _check_patient_ref(spec, cmd.patient_ref)
        if spec.clinical_time_floor and at < _floor_time(spec, data):
            raise InvalidTime(
                f"the case cannot open before its {spec.clinical_time_floor}",
                occurred_at=at.isoformat(),
                not_before=data[spec.clinical_time_floor],
            )
        initial = spec.state(spec.initial)
        case = Case(
            workflow_key=spec.key,
            workflow_version=spec.version,
            state=initial.name,
            queue=initial.queue,
            is_open=True,
            version=1,
            patient_ref=cmd.patient_ref,
            organisation=cmd.organisation,
            site=cmd.site,
            opened_at=at,
            created_at=now,
            updated_at=now,
            closed_at=None,
            attributes=_stored(spec, data),
        )
        store.add_case(case)
        store.append_event(
            self._event(
                case,
                spec,
                OPEN,
                None,
                cmd.actor,
                role,
                data,
                cmd.reason,
                at,
                now,
                backdated,
                cmd.idempotency_key,
            )
        )
        clocks.apply(case, clock_actions(spec, OPEN, None, initial.name), at=at, seq=1)
        return case

    def fire(
        self,
        case: Case,
        cmd: Command,
        *,
        now: datetime,
        store: CaseStore,
        clocks: ClockPort,
        effects: EffectPorts,
        facts: FactPort | None = None,
    ) -> CaseEvent:
        loaded, index = self._indexed(case.workflow_key, case.workflow_version)
        spec = loaded.spec
        candidates = index.candidates(case.state, cmd.trigger)
        if not candidates:
            raise InvalidTransition(
                f"{cmd.trigger!r} is not allowed while the case is {case.state!r}",
                event=cmd.trigger,
                state=case.state,
                reasons=[f"{cmd.trigger!r} cannot be fired from {case.state!r}"],
                allowed_events=sorted({t.trigger for t in index.transitions_from(case.state)}),
            )
        permitted = [t for t in candidates if cmd.actor.role_for(t.roles)]
        if not permitted:
            roles = sorted({r for t in candidates for r in t.roles})
            raise Forbidden(
                f"{cmd.trigger!r} needs one of the roles: {', '.join(roles)}", required_roles=roles
            )
        last_same = store.last_occurred_at(case.id, cmd.trigger)
        not_before, what = case.opened_at, "the case was opened"
        if spec.clinical_time_floor:
            not_before, what = _floor_time(spec, case.attributes), spec.clinical_time_floor
        if last_same is not None and last_same > not_before:
            not_before, what = last_same, f"the case's previous {cmd.trigger!r} event"
        at, backdated = self.time_policy.resolve(
            cmd.occurred_at, now=now, reason=cmd.reason, not_before=not_before, not_before_what=what
        )
        allowed = [f for t in permitted for f in t.data_fields]
        required = set.intersection(*(set(t.requires) for t in permitted))
        data = self._validate(spec, cmd.data, allowed, sorted(required), at)

        contexts = {
            t: self._context(case, t, cmd.actor, data, at, cmd.reason, facts) for t in permitted
        }
        model = MachineModel(state=case.state, contexts=contexts)
        try:
            moved = loaded.machine.events[cmd.trigger].trigger(model)
        except MachineError as exc:  # the spec and machine disagree: treat as not allowed
            raise InvalidTransition(str(exc), event=cmd.trigger, state=case.state) from exc
        if not moved:
            raise GuardRejected(
                f"{cmd.trigger!r} was refused: " + " ".join(model.rejections),
                event=cmd.trigger,
                reasons=model.rejections,
            )
        from_state = case.state
        chosen = model.taken
        assert chosen is not None  # noqa: S101 - set by the gate that let the machine move
        role = cmd.actor.role_for(chosen.roles)
        assert role is not None  # noqa: S101 - `permitted` holds only transitions the actor may fire
        dest = index.states[chosen.target(from_state)]
        case.state, case.queue, case.version = dest.name, dest.queue, case.version + 1
        case.is_open = not dest.final
        case.closed_at = at if dest.final else None
        case.updated_at = now
        case.attributes = {**case.attributes, **_stored(spec, data)}
        event = self._event(
            case,
            spec,
            cmd.trigger,
            from_state,
            cmd.actor,
            role,
            data,
            cmd.reason,
            at,
            now,
            backdated,
            cmd.idempotency_key,
        )
        store.append_event(event)
        clocks.apply(
            case, clock_actions(spec, cmd.trigger, from_state, dest.name), at=at, seq=case.version
        )
        for name in chosen.effects:
            self.catalogue.rules.effects[name].fn(
                EffectContext(
                    case.id,
                    spec.key,
                    cmd.trigger,
                    from_state,
                    dest.name,
                    dict(case.attributes),
                    data,
                    cmd.actor,
                    at,
                    effects,
                )
            )
        return event

    def allowed_events(
        self, case: Case, actor: Actor, *, now: datetime, facts: FactPort | None = None
    ) -> list[AllowedEvent]:
        """Every event from the current state, with why the caller cannot fire it now."""
        _loaded, index = self._indexed(case.workflow_key, case.workflow_version)
        out: list[AllowedEvent] = []
        for t, fixed in index.allowed_plan(case.state, actor.roles):
            if fixed is not None:  # decided by the caller's roles alone
                event, dest, allowed, reasons, requires, accepts = fixed
                out.append(
                    AllowedEvent(event, dest, allowed, list(reasons), list(requires), list(accepts))
                )
                continue
            # The caller may fire it: its guards decide (facts are looked up only for them).
            refusals = evaluate_guards(
                t, self._context(case, t, actor, {}, now, None, facts), self.catalogue.rules
            )
            out.append(
                AllowedEvent(
                    t.trigger,
                    t.target(case.state),
                    not refusals,
                    refusals,
                    list(t.requires),
                    list(index.optional(t)),
                )
            )
        return out

    def _validate(
        self, spec: PathwaySpec, data: dict[str, Any], allowed: Any, required: Any, at: datetime
    ) -> dict[str, Any]:
        on: date = at.astimezone(LONDON).date()
        return validate_data(
            spec, data, allowed=allowed, required=required, on=on, code_check=self.code_check
        )

    @staticmethod
    def _context(
        case: Case,
        t: TransitionSpec,
        actor: Actor,
        data: dict[str, Any],
        at: datetime,
        reason: str | None,
        facts: FactPort | None = None,
    ) -> GuardContext:
        looked_up: Mapping[str, Any] = (
            LazyFacts(t.facts, lambda name: facts.lookup(name, case.id, case.attributes, data))
            if facts is not None
            else {}
        )
        return GuardContext(
            case.id,
            case.workflow_key,
            case.state,
            t.trigger,
            t.target(case.state),
            dict(case.attributes),
            data,
            actor,
            at,
            reason,
            looked_up,
        )

    @staticmethod
    def _event(
        case: Case,
        spec: PathwaySpec,
        trigger: str,
        from_state: str | None,
        actor: Actor,
        role: str,
        data: dict[str, Any],
        reason: str | None,
        at: datetime,
        now: datetime,
        backdated: bool,
        key: str | None,
    ) -> CaseEvent:
        return CaseEvent(
            case_id=case.id,
            seq=case.version,
            pathway_key=spec.key,
            pathway_version=spec.version,
            event=trigger,
            from_state=from_state,
            to_state=case.state,
            actor_id=actor.user_id,
            actor_username=actor.username,
            actor_role=role,
            actor_org=actor.organisation,
            reason=reason,
            data=data,
            occurred_at=at,
            recorded_at=now,
            backdated=backdated,
            idempotency_key=key,
        )


def _check_patient_ref(spec: PathwaySpec, patient_ref: str | None) -> None:
    if spec.patient_ref == "nhs_number" and not (patient_ref and is_valid_nhs_number(patient_ref)):
        raise ValidationFailed(
            f"a {spec.key} case needs the patient's NHS number as patient_ref",
            errors=[{"field": "patient_ref", "problem": "a valid NHS number is required"}],
        )


def _floor_time(spec: PathwaySpec, values: dict[str, Any]) -> datetime:
    assert spec.clinical_time_floor is not None  # noqa: S101 - callers check
    return datetime.fromisoformat(values[spec.clinical_time_floor])


def _stored(spec: PathwaySpec, data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in spec.fields and spec.fields[k].store}


def clock_actions(
    spec: PathwaySpec, trigger: str, source: str | None, dest: str
) -> list[ClockAction]:
    """What this step does to each declared clock: stop wins over start, start over pause."""
    actions: list[ClockAction] = []
    for clock in spec.clocks:
        for verb, part in (
            ("stop", clock.stops_on),
            ("start", clock.starts_on),
            ("pause", clock.pauses_on),
            ("resume", clock.resumes_on),
        ):
            if part.matches(trigger, dest, source):
                actions.append(ClockAction(clock, verb))  # type: ignore[arg-type]
                break
    return actions
