"""The engine over in-memory fakes of its ports: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.auth.actor import Actor
from app.engine.catalogue import PathwayCatalogue
from app.engine.context import EffectContext, GuardContext
from app.engine.engine import Command, Engine, OpenCommand, clock_actions
from app.engine.ports import ClockAction
from app.engine.registry import RuleRegistry
from app.engine.timerules import InvalidTime
from app.errors import Forbidden, GuardRejected, InvalidTransition, ValidationFailed
from app.models import Case, CaseEvent

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RULES = RuleRegistry()


def fact_guard(name: str, reason: str) -> None:
    def check(ctx: GuardContext) -> str | None:
        return None if ctx.fact(name) else reason

    RULES.guard(f"needs_{name}", reason)(check)


fact_guard("ready", "The patient is not ready.")
fact_guard("checked", "The checks are not done.")


@RULES.effect("stamp", "Records who decided, and when.")
def stamp(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(
        ctx.case_id,
        {"decided_by": ctx.actor.username, "decided_on": ctx.occurred_at.date().isoformat()},
    )


PATHWAY = """
key: unit
version: 1
title: Unit test pathway
initial: new
open_roles: [discharge_team]
open_requires: [priority]
open_accepts: [note, nhs]
fields: {priority: {type: enum, choices: [routine, urgent]}, note: {type: text, store: false},
  seen_on: {type: date}, seen_at: {type: datetime}, score: {type: integer, minimum: 0, maximum: 10},
  consent: {type: boolean}, nhs: {type: nhs_number}, ready: {type: boolean},
  checked: {type: boolean}, owner: {type: string}}
states:
  - {name: new, tags: ["queue:intake"]}
  - {name: review, tags: ["queue:review"]}
  - {name: on_hold}
  - {name: escalated}
  - {name: done, final: true}
  - {name: cancelled, final: true}
transitions:
  - {trigger: start, source: new, dest: review, roles: [discharge_team], requires: [priority],
     accepts: [note, seen_on, seen_at, score, consent, nhs]}
  - {trigger: flag, source: review, dest: review, roles: [discharge_team], accepts: [note]}
  - {trigger: hold, source: review, dest: on_hold, roles: [discharge_team]}
  - {trigger: unhold, source: on_hold, dest: review, roles: [discharge_team]}
  - {trigger: decide, source: review, dest: done, roles: [huddle_chair],
     accepts: [ready, checked], guards: [needs_ready, needs_checked], effects: [stamp]}
  - {trigger: decide, source: review, dest: escalated, roles: [social_worker]}
  - {trigger: sign_off, source: escalated, dest: done, roles: [huddle_chair],
     guards: [needs_ready], effects: [stamp]}
  - {trigger: sign_off, source: escalated, dest: done, roles: [manager]}
  - {trigger: refer, source: escalated, dest: on_hold, roles: [social_worker], requires: [owner]}
  - {trigger: refer, source: escalated, dest: cancelled, roles: [manager], accepts: [owner]}
  - {trigger: cancel, source: "*", dest: cancelled, roles: [discharge_team]}
clocks:
  - {name: first_response, target: PT2H, starts_on: {events: [open]},
     stops_on: {events: [start, cancel]}}
  - {name: review_clock, target: P7D, starts_on: {events: [start]}, pauses_on: {states: [on_hold]},
     resumes_on: {events: [unhold]}, stops_on: {states: [done, cancelled]}}
  - {name: race, target: P1D, starts_on: {events: [open, start]}, stops_on: {events: [start]}}
"""


def actor(*roles: str, name: str = "dina") -> Actor:
    return Actor(user_id=7, username=name, organisation="RX1", roles=frozenset(roles))


TEAM, SOCIAL = actor("discharge_team"), actor("social_worker")
CHAIR = actor("huddle_chair", name="cai")


class FakeStore:
    def __init__(self) -> None:
        self.cases: dict[int, Case] = {}
        self.events: list[CaseEvent] = []

    def add_case(self, case: Case) -> None:
        case.id = 100 + len(self.cases)
        self.cases[case.id] = case

    def append_event(self, event: CaseEvent) -> None:
        assert all((e.case_id, e.seq) != (event.case_id, event.seq) for e in self.events)
        self.events.append(event)

    def last_occurred_at(self, case_id: int, event: str) -> datetime | None:
        return max(
            (e.occurred_at for e in self.events if e.case_id == case_id and e.event == event),
            default=None,
        )


class FakeClocks:
    def __init__(self) -> None:
        self.calls: list[tuple[int, list[tuple[str, str]], datetime, int]] = []

    def apply(self, case: Case, actions: list[ClockAction], *, at: datetime, seq: int) -> None:
        self.calls.append((case.id, [(a.clock.name, a.verb) for a in actions], at, seq))


class World:
    """The engine with its fakes; it is also the fake EffectPorts (`set_attributes`)."""

    def __init__(self, eng: Engine) -> None:
        self.eng, self.store, self.clocks = eng, FakeStore(), FakeClocks()
        self.effect_calls: list[tuple[int, dict[str, Any]]] = []

    def set_attributes(self, case_id: int, values: dict[str, Any]) -> None:
        self.effect_calls.append((case_id, dict(values)))
        case = self.store.cases[case_id]
        case.attributes = {**case.attributes, **values}

    def open(self, data: dict[str, Any] | None = None, **kw: Any) -> Case:
        cmd = OpenCommand(
            "unit",
            kw.pop("who", TEAM),
            "RX1",
            data={"priority": "urgent"} if data is None else data,
            **kw,
        )
        return self.eng.open_case(cmd, now=NOW, store=self.store, clocks=self.clocks)

    def fire(self, case: Case, trigger: str, who: Actor = TEAM, **kw: Any) -> CaseEvent:
        return self.eng.fire(
            case,
            Command(trigger, who, **kw),
            now=NOW,
            store=self.store,
            clocks=self.clocks,
            effects=self,
        )

    def in_review(self, **kw: Any) -> Case:
        case = self.open(**kw)
        self.fire(case, "start", data={"priority": "routine"})
        return case


@pytest.fixture(scope="module")
def unit_catalogue(tmp_path_factory: pytest.TempPathFactory) -> PathwayCatalogue:
    directory: Path = tmp_path_factory.mktemp("unit-pathways")
    (directory / "unit.yaml").write_text(PATHWAY)
    return PathwayCatalogue.from_directory(directory, RULES)


@pytest.fixture
def w(unit_catalogue: PathwayCatalogue) -> World:
    return World(Engine(unit_catalogue))


def test_open_case_writes_one_open_event(w: World) -> None:
    case = w.open({"priority": "urgent", "note": "phoned in", "nhs": "943 476 5919"})
    assert (case.id, case.state, case.queue, case.version) == (100, "new", "intake", 1)
    assert (case.is_open, case.opened_at, case.closed_at) == (True, NOW, None)
    assert case.attributes == {"priority": "urgent", "nhs": "9434765919"}
    [event] = w.store.events
    assert (event.case_id, event.seq, event.event, event.from_state, event.to_state) == (
        100,
        1,
        "open",
        None,
        "new",
    )
    assert event.data == {"priority": "urgent", "note": "phoned in", "nhs": "9434765919"}
    assert (event.actor_role, event.backdated, event.recorded_at) == ("discharge_team", False, NOW)
    assert w.clocks.calls == [(100, [("first_response", "start"), ("race", "start")], NOW, 1)]


def test_fire_moves_state_and_appends_one_event(w: World) -> None:
    case = w.open()
    event = w.fire(case, "start", data={"priority": "routine", "note": "event only"})
    assert (case.state, case.queue, case.version, case.updated_at) == ("review", "review", 2, NOW)
    assert w.store.events[1:] == [event]
    assert (event.seq, event.from_state, event.to_state) == (2, "new", "review")
    assert event.data == {"priority": "routine", "note": "event only"}
    assert case.attributes == {"priority": "routine"}  # store: false keeps `note` off the case
    flag = w.fire(case, "flag")
    assert (case.state, case.version, flag.seq, flag.from_state) == ("review", 3, 3, "review")


def test_unknown_trigger_and_wrong_state_are_invalid(w: World) -> None:
    case = w.open()
    with pytest.raises(InvalidTransition) as unknown:
        w.fire(case, "teleport")
    assert unknown.value.extra["allowed_events"] == ["cancel", "start"]
    with pytest.raises(InvalidTransition, match="'hold' is not allowed while the case is 'new'"):
        w.fire(case, "hold")
    assert (case.state, case.version, len(w.store.events)) == ("new", 1, 1)


def test_missing_role_is_forbidden(w: World) -> None:
    with pytest.raises(Forbidden, match="needs one of the roles: discharge_team"):
        w.open(who=CHAIR)
    case = w.in_review()
    with pytest.raises(Forbidden) as info:
        w.fire(case, "decide", actor("broker"))
    assert info.value.extra["required_roles"] == ["huddle_chair", "social_worker"]
    assert (case.state, len(w.store.events)) == ("review", 2)


def test_every_guard_reason_is_reported_and_nothing_changes(w: World) -> None:
    case = w.in_review()
    with pytest.raises(GuardRejected) as info:
        w.fire(case, "decide", CHAIR)
    assert info.value.extra["reasons"] == ["The patient is not ready.", "The checks are not done."]
    assert (case.state, case.version, len(w.store.events), w.effect_calls) == ("review", 2, 2, [])
    with pytest.raises(GuardRejected) as one:
        w.fire(case, "decide", CHAIR, data={"ready": True})
    assert one.value.extra["reasons"] == ["The checks are not done."]


def test_branch_is_chosen_by_the_callers_role(w: World) -> None:
    social_case, chair_case = w.in_review(), w.in_review()
    event = w.fire(social_case, "decide", SOCIAL)
    assert (social_case.state, event.actor_role) == ("escalated", "social_worker")
    assert w.effect_calls == []
    with pytest.raises(ValidationFailed):  # the chair branch's fields are not open to others
        w.fire(chair_case, "decide", SOCIAL, data={"ready": True})
    event = w.fire(chair_case, "decide", CHAIR, data={"ready": True, "checked": True})
    assert (chair_case.state, event.actor_role) == ("done", "huddle_chair")


def test_effects_run_and_final_state_closes_the_case(w: World) -> None:
    case = w.in_review(occurred_at=NOW - timedelta(minutes=10))
    at = NOW - timedelta(minutes=5)
    w.fire(case, "decide", CHAIR, data={"ready": True, "checked": True}, occurred_at=at)
    assert w.effect_calls == [(case.id, {"decided_by": "cai", "decided_on": "2026-03-02"})]
    assert case.attributes == {
        "priority": "routine",
        "ready": True,
        "checked": True,
        "decided_by": "cai",
        "decided_on": "2026-03-02",
    }
    assert (case.state, case.is_open, case.closed_at, case.queue) == ("done", False, at, None)
    with pytest.raises(InvalidTransition):
        w.fire(case, "cancel")


def test_required_and_unknown_data(w: World) -> None:
    case = w.open()
    with pytest.raises(ValidationFailed) as missing:
        w.fire(case, "start")
    assert missing.value.extra["errors"] == [{"field": "priority", "problem": "required"}]
    with pytest.raises(ValidationFailed) as unknown:
        w.fire(case, "start", data={"priority": "routine", "colour": "red"})
    assert unknown.value.extra["errors"] == [
        {"field": "colour", "problem": "not accepted by this event"}
    ]
    assert (case.state, len(w.store.events)) == ("new", 1)


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("seen_on", "2026-03-01", "2026-03-01"),
        ("seen_at", "2026-03-01T10:00:00+01:00", "2026-03-01T09:00:00+00:00"),
        ("score", 0, 0),
        ("score", 10, 10),
        ("consent", False, False),
        ("nhs", "9434765919", "9434765919"),
        ("nhs", "943-476-5919", "9434765919"),
    ],
)
def test_typed_fields_accepted(w: World, field: str, value: Any, stored: Any) -> None:
    case = w.open()
    event = w.fire(case, "start", data={"priority": "routine", field: value})
    assert event.data[field] == stored
    assert case.attributes[field] == stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seen_on", "01/03/2026"),
        ("seen_on", "2026-02-30"),
        ("seen_at", "2026-03-01T10:00:00"),
        ("score", 11),
        ("score", -1),
        ("score", True),
        ("score", "5"),
        ("consent", "yes"),
        ("priority", "high"),
        ("nhs", "9434765918"),
    ],
)
def test_typed_fields_refused(w: World, field: str, value: Any) -> None:
    case = w.open()
    with pytest.raises(ValidationFailed) as info:
        w.fire(case, "start", data={"priority": "routine", field: value})
    assert [e["field"] for e in info.value.extra["errors"]] == [field]
    assert (case.state, len(w.store.events)) == ("new", 1)


def test_clock_actions_follow_the_pathway(w: World) -> None:
    case = w.open()
    w.fire(case, "start", data={"priority": "routine"})
    w.fire(case, "hold")
    w.fire(case, "unhold")
    w.fire(case, "cancel")
    assert [(calls, seq) for _, calls, _, seq in w.clocks.calls] == [
        ([("first_response", "start"), ("race", "start")], 1),
        ([("first_response", "stop"), ("review_clock", "start"), ("race", "stop")], 2),
        ([("review_clock", "pause")], 3),
        ([("review_clock", "resume")], 4),
        ([("first_response", "stop"), ("review_clock", "stop")], 5),
    ]
    spec = w.eng.catalogue.latest("unit").spec
    race = [(a.clock.name, a.verb) for a in clock_actions(spec, "start", "new", "review")]
    assert race == [("first_response", "stop"), ("review_clock", "start"), ("race", "stop")]
    assert clock_actions(spec, "flag", "review", "review") == []


def test_time_rules(w: World) -> None:
    case = w.in_review(occurred_at=NOW - timedelta(days=2), reason="entered late")
    assert (case.opened_at, w.store.events[0].backdated) == (NOW - timedelta(days=2), True)
    with pytest.raises(InvalidTime, match="in the future"):
        w.fire(case, "flag", occurred_at=NOW + timedelta(minutes=10))
    with pytest.raises(InvalidTime, match="needs a reason"):
        w.fire(case, "flag", occurred_at=NOW - timedelta(hours=1))
    with pytest.raises(InvalidTime, match="before the case was opened"):
        w.fire(case, "flag", occurred_at=NOW - timedelta(days=3), reason="typo")
    with pytest.raises(InvalidTime, match="time zone"):
        w.fire(case, "flag", occurred_at=datetime(2026, 3, 2, 11, 0))
    assert len(w.store.events) == 2
    event = w.fire(case, "flag", occurred_at=NOW - timedelta(hours=1), reason="paper notes")
    assert (event.backdated, event.occurred_at, event.recorded_at) == (
        True,
        NOW - timedelta(hours=1),
        NOW,
    )
    assert event.reason == "paper notes"
    with pytest.raises(InvalidTime, match="before the case's previous 'flag' event"):
        w.fire(case, "flag", occurred_at=NOW - timedelta(hours=2), reason="paper notes")
    recent = w.fire(case, "flag", occurred_at=NOW - timedelta(minutes=10))
    assert recent.backdated is False  # within 15 minutes needs no reason


def test_allowed_events_explains_without_changing_anything(w: World) -> None:
    case = w.in_review()
    before = (case.state, case.version, dict(case.attributes), len(w.store.events))
    listed = {(a.event, a.dest): a for a in w.eng.allowed_events(case, CHAIR, now=NOW)}
    assert set(listed) == {
        ("flag", "review"),
        ("hold", "on_hold"),
        ("decide", "done"),
        ("decide", "escalated"),
        ("cancel", "cancelled"),
    }
    assert listed["decide", "done"].allowed is False
    assert listed["decide", "done"].reasons == [
        "The patient is not ready.",
        "The checks are not done.",
    ]
    assert listed["decide", "done"].accepts == ["ready", "checked"]
    assert listed["decide", "escalated"].reasons == ["needs one of the roles: social_worker"]
    assert listed["hold", "on_hold"].reasons == ["needs one of the roles: discharge_team"]
    team = {a.event: a for a in w.eng.allowed_events(case, TEAM, now=NOW) if a.allowed}
    assert sorted(team) == ["cancel", "flag", "hold"]
    after = (case.state, case.version, dict(case.attributes), len(w.store.events))
    assert (after, w.effect_calls, len(w.clocks.calls)) == (before, [], 2)


def test_same_dest_branches_record_the_branch_taken(w: World) -> None:
    case = w.in_review()
    w.fire(case, "decide", SOCIAL)
    event = w.fire(case, "sign_off", actor("huddle_chair", "manager", name="mo"))
    assert case.state == "done"
    assert event.actor_role == "manager"  # the huddle_chair branch was refused by needs_ready
    assert w.effect_calls == []  # so its `stamp` effect must not run


def test_branch_taken_has_its_required_data(w: World) -> None:
    case = w.in_review()
    w.fire(case, "decide", SOCIAL)
    try:
        event = w.fire(case, "refer", actor("social_worker", "manager"))
    except ValidationFailed:
        return
    assert not (event.to_state == "on_hold" and "owner" not in event.data)
