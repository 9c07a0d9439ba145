"""Legal case histories, made by walking the real pathways through the real engine, offline.

The engine fires every step (roles, data validation, guards, effects, clocks) against in-memory
ports, so a template is exactly what the service would have written. Each template is replayed
(`app.engine.replay`) and must reproduce its case. Templates are then stamped out in bulk by
`bench.load` (many cases share one template's history and times).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.auth.actor import KNOWN_ROLES, Actor
from app.clocks.service import ClockService
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.engine.catalogue import LoadedPathway
from app.engine.context import Recipient
from app.engine.engine import Command, Engine, OpenCommand
from app.engine.replay import replay
from app.engine.spec import FieldSpec, PathwaySpec, TransitionSpec
from app.errors import DomainError
from app.models import Case, CaseEvent, Clock, ClockEvent
from app.timeutil import LONDON
from bench.nhs import nhs_numbers

WALKER_ACTOR = Actor(1, "bench-walker", "BENCH-ORG", frozenset(KNOWN_ROLES))
# Exits that end a walk early; taken rarely so histories are mostly realistic journeys.
EXITS = {"cancel", "died", "transfer", "withdraw", "record_death", "decline"}
SITES = ("AINTREE", "ROYAL", "BROADGREEN", "SOUTHPORT", "ORMSKIRK")
SYSTEMS = ("LUHFT", "S&O")
WARDS = tuple(f"WARD-{n}" for n in range(1, 13))


@dataclass
class Template:
    workflow: str
    version: int
    case: dict[str, Any]
    events: list[dict[str, Any]]
    clocks: list[dict[str, Any]]
    clock_events: list[dict[str, Any]]


# -- in-memory ports --------------------------------------------------------------------------
class MemoryStore:
    def __init__(self) -> None:
        self.cases: list[Case] = []
        self.events: list[CaseEvent] = []

    def add_case(self, case: Case) -> None:
        case.id = len(self.cases) + 1
        self.cases.append(case)

    def append_event(self, event: CaseEvent) -> None:
        self.events.append(event)

    def last_occurred_at(self, case_id: int, event: str) -> datetime | None:
        times = [e.occurred_at for e in self.events if e.case_id == case_id and e.event == event]
        return max(times) if times else None


class MemoryClocks:
    """The real `ClockService` over an in-memory clock repository."""

    def __init__(self) -> None:
        self.clocks: list[Clock] = []
        self.evidence: list[ClockEvent] = []

    def current(self, case_id: int, name: str) -> Clock | None:
        mine = [c for c in self.clocks if c.case_id == case_id and c.name == name]
        return max(mine, key=lambda c: c.cycle) if mine else None

    def add(self, clock: Clock) -> None:
        clock.id = len(self.clocks) + 1
        self.clocks.append(clock)

    def add_evidence(self, evidence: ClockEvent) -> None:
        self.evidence.append(evidence)

    stage_evidence = add_evidence


class MemoryEffects:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def set_attributes(self, case_id: int, values: dict[str, Any]) -> None:
        case = self.store.cases[case_id - 1]
        case.attributes = {**case.attributes, **values}

    def open_linked_case(self, case_id: int, **_kwargs: Any) -> int:  # noqa: ARG002
        # Linked episodes (discharge -> IC step-down) are not generated: the bench covers the
        # discharge, chc and sample-referral workflows.
        return 0

    def notify(self, case_id: int, *, kind: str, summary: str, to: Recipient | None = None) -> None:
        # The bench measures the cases and events; its bulk loads write no notifications.
        pass


# -- data for a step ----------------------------------------------------------------------------
class DataMaker:
    def __init__(self, spec: PathwaySpec, codes: CodeSetRegistry, rng: random.Random) -> None:
        self.spec, self.codes, self.rng = spec, codes, rng
        self._nhs = nhs_numbers(start=self.rng.randrange(0, 10_000_000), count=50)

    def value(self, name: str, f: FieldSpec, at: datetime, attrs: dict[str, Any]) -> Any:
        rng = self.rng
        on: date = at.astimezone(LONDON).date()
        if name == "admitted_at":
            return (at - timedelta(hours=rng.randint(2, 72))).isoformat()
        if name == "hospital_system":
            return rng.choice(SYSTEMS)
        if name == "ward":
            return rng.choice(WARDS)
        if name == "referral_date":
            return (on - timedelta(days=rng.randint(0, 60))).isoformat()
        if name == "date_of_birth":
            return date(rng.randint(1930, 1960), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
        if name == "postcode":
            return rng.choice(("L9 7AL", "PR8 6PN", "L20 3NJ", "L37 4AX"))
        if name == "person_name":
            return rng.choice(("Test Patient", "Bench Person", "Example Name"))
        if name == "setting":
            return "community"
        kind = f.type
        if kind == "enum":
            return rng.choice(f.choices)
        if kind == "boolean":
            return rng.random() < 0.2
        if kind == "integer":
            return f.minimum if f.minimum is not None else 1
        if kind == "date":
            return (on - timedelta(days=rng.randint(0, 3))).isoformat()
        if kind == "datetime":
            return (at - timedelta(hours=rng.randint(0, 12))).isoformat()
        if kind == "nhs_number":
            return rng.choice(self._nhs)
        if kind == "code":
            try:
                entries = self.codes.current(str(f.codelist), on).codes
            except CodeSetNotFound:
                return None
            return rng.choice(entries).code
        return f"bench {name}"[: f.max_length]

    def data(
        self,
        required: tuple[str, ...],
        accepts: tuple[str, ...],
        at: datetime,
        attrs: dict[str, Any],
        keep: float,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in required:
            out[name] = self.value(name, self.spec.fields[name], at, attrs)
        for name in accepts:
            if name not in out and self.rng.random() < keep:
                out[name] = self.value(name, self.spec.fields[name], at, attrs)
        # Delay periods: end / mark primary only the delays that are open.
        open_delays = attrs.get("open_delays") or []
        if "delay_code" in out and open_delays and self.rng.random() < 0.7:
            first = open_delays[0]
            out["delay_code"] = first.get("code") if isinstance(first, dict) else first
        return {k: v for k, v in out.items() if v is not None}


# -- the walk -----------------------------------------------------------------------------------
def _weight(t: TransitionSpec, spec: PathwaySpec, closing: bool) -> float:
    dest_final = t.dest is not None and spec.state(t.dest).final
    if t.trigger in EXITS:
        return 0.15 if closing else 0.02
    if dest_final:
        return 4.0 if closing else 0.0
    if t.dest is None:
        return 0.6
    return 2.0


def walk(
    engine: Engine,
    loaded: LoadedPathway,
    codes: CodeSetRegistry,
    rng: random.Random,
    *,
    start: datetime,
    end: datetime,
    open_case: bool,
    steps: int,
    organisation: str,
) -> Template | None:
    """One legal history from `start`, with events no later than `end`; None if it got stuck."""
    spec = loaded.spec
    store, clocks_repo = MemoryStore(), MemoryClocks()
    maker = DataMaker(spec, codes, rng)
    at = start
    open_data = maker.data(spec.open_requires, spec.open_accepts, at, {}, 0.5)
    actor = Actor(1, "bench-walker", organisation, frozenset(KNOWN_ROLES))
    patient = rng.choice(maker._nhs) if spec.patient_ref == "nhs_number" else None
    try:
        case = engine.open_case(
            OpenCommand(spec.key, actor, organisation, rng.choice(SITES), patient, open_data),
            now=at,
            store=store,
            clocks=ClockService(clocks_repo, now=at),  # type: ignore[arg-type]
        )
    except DomainError:
        return None
    gap = max((end - start) / max(steps + 1, 1), timedelta(minutes=5))
    taken = 0
    for _ in range(steps * 6):
        if taken >= steps and open_case:
            break
        if not case.is_open:
            break
        closing = taken >= steps and not open_case
        options = list(spec.transitions_from(case.state))
        weights = [_weight(t, spec, closing) for t in options]
        if not options or sum(weights) == 0:
            if open_case:
                break
            return None
        t = rng.choices(options, weights)[0]
        if open_case and t.dest is not None and spec.state(t.dest).final:
            continue
        step_at = at + gap * rng.uniform(0.3, 1.0)
        if step_at > end:
            break
        data = maker.data(t.requires, t.accepts, step_at, case.attributes, rng.choice((0.0, 0.5)))
        try:
            engine.fire(
                case,
                Command(t.trigger, actor, data),
                now=step_at,
                store=store,
                clocks=ClockService(clocks_repo, now=step_at),  # type: ignore[arg-type]
                effects=MemoryEffects(store),
            )
        except DomainError:
            continue
        at = step_at
        taken += 1
    if open_case and not case.is_open:
        return None
    if not open_case and case.is_open:
        return None
    problems = replay(engine.catalogue, store.events).problems
    projected = replay(engine.catalogue, store.events)
    if problems or projected.state != case.state or projected.version != case.version:
        raise AssertionError(f"replay disagrees for {spec.key}: {problems}")
    return _template(spec, case, store.events, clocks_repo)


def _template(
    spec: PathwaySpec, case: Case, events: list[CaseEvent], clocks: MemoryClocks
) -> Template:
    return Template(
        workflow=spec.key,
        version=spec.version,
        case={
            "state": case.state,
            "queue": case.queue,
            "is_open": case.is_open,
            "version": case.version,
            "organisation": case.organisation,
            "site": case.site,
            "opened_at": case.opened_at,
            "created_at": case.created_at,
            "updated_at": case.updated_at,
            "closed_at": case.closed_at,
            "attributes": case.attributes,
        },
        events=[
            {
                "seq": e.seq,
                "pathway_key": e.pathway_key,
                "pathway_version": e.pathway_version,
                "event": e.event,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "actor_role": e.actor_role,
                "reason": e.reason,
                "data": e.data,
                "occurred_at": e.occurred_at,
                "recorded_at": e.recorded_at,
                "backdated": e.backdated,
            }
            for e in events
        ],
        clocks=[
            {
                "local_id": c.id,
                "name": c.name,
                "cycle": c.cycle,
                "calendar": c.calendar,
                "budget_seconds": c.budget_seconds,
                "warning_seconds": c.warning_seconds,
                "warnings_fired": c.warnings_fired,
                "consumed_seconds": c.consumed_seconds,
                "state": c.state,
                "running_since": c.running_since,
                "started_at": c.started_at,
                "stopped_at": c.stopped_at,
                "due_at": c.due_at,
                "warn_at": c.warn_at,
                "next_check_at": c.next_check_at,
                "warned_at": c.warned_at,
                "breached_at": c.breached_at,
            }
            for c in clocks.clocks
        ],
        clock_events=[
            {
                "clock_local_id": ev.clock_id,
                "kind": ev.kind,
                "at": ev.at,
                "recorded_at": ev.recorded_at,
                "case_event_seq": ev.case_event_seq,
            }
            for ev in clocks.evidence
        ],
    )


@dataclass
class TemplateSet:
    """Templates per (workflow, open/closed), plus the CHC backlog templates for claims."""

    by_kind: dict[tuple[str, bool], list[Template]] = field(default_factory=dict)
    backlog: list[Template] = field(default_factory=list)


def make_templates(
    engine: Engine,
    codes: CodeSetRegistry,
    *,
    now0: datetime,
    per_kind: int,
    seed: int,
    workflows: tuple[str, ...],
    organisation: str,
    backlog_org: str,
    backlog_states: tuple[str, ...],
) -> TemplateSet:
    rng = random.Random(seed)
    out = TemplateSet()
    for key in workflows:
        loaded = engine.catalogue.latest(key)
        if loaded is None:
            raise SystemExit(f"pathway {key!r} is not loaded")
        for is_open in (True, False):
            found: list[Template] = []
            attempts = 0
            while len(found) < per_kind and attempts < per_kind * 20:
                attempts += 1
                if is_open:
                    # Open cases: opened in the last 60 days, still in hospital or in the queue.
                    start = now0 - timedelta(days=rng.uniform(0.5, 60))
                    steps = rng.randint(1, 10)
                else:
                    start = now0 - timedelta(days=rng.uniform(61, 330))
                    steps = rng.randint(3, 14)
                end = now0 if is_open else min(start + timedelta(days=rng.uniform(3, 45)), now0)
                t = walk(
                    engine,
                    loaded,
                    codes,
                    rng,
                    start=start,
                    end=end,
                    open_case=is_open,
                    steps=steps,
                    organisation=organisation,
                )
                if t is not None:
                    found.append(t)
            if not found:
                raise SystemExit(f"could not walk {key} (open={is_open})")
            out.by_kind[(key, is_open)] = found
    chc = engine.catalogue.latest("chc")
    if chc is not None:
        attempts = 0
        while len(out.backlog) < per_kind and attempts < per_kind * 30:
            attempts += 1
            start = now0 - timedelta(days=rng.uniform(1, 120))
            t = walk(
                engine,
                chc,
                codes,
                rng,
                start=start,
                end=now0 - timedelta(hours=1),
                open_case=True,
                steps=rng.randint(0, 3),
                organisation=backlog_org,
            )
            if t is not None and t.case["state"] in backlog_states:
                out.backlog.append(t)
    return out
