"""Every read model against the plain derivation, over generated journeys of every workflow.

Random walks through each registered pathway go through the service layer (`create_case`,
`fire_event`) and so through the one transition entry point (`CaseWriter`). At each step the walk
fires a randomly chosen event the actor may fire now (`Engine.allowed_events`), with generated
valid data and clinical times that move forward (some recorded late, behind entries already
there). Linked cases that effects open (a P1/P2 discharge's step-down episode, a re-referral) are
walked too. Scripted journeys then drive deliberately the triggers random walks reach rarely, so
every trigger of every pathway fires.

After every accepted state change, and after every refused one, each registered read model's
`check` (its stored rows against the plain derivation from the events) must report nothing. At the
end a `rebuild` of each must report nothing either and give exactly the rows the projectors kept.
A negative control corrupts one row of each read model and expects `check` to name the case, and
a rebuild to mend it, so the comparison cannot pass vacuously.

The journeys run in a database of their own per backend: `check` and `rebuild` cover every case
in the database, so other tests' cases would neither slow nor disturb them.

Failures name the seed; reproduce one with HOMEFIRST_READ_MODEL_SEED=<seed>.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.auth.service import add_user
from app.cases import service
from app.cases.repository import CaseRepository
from app.cases.schemas import CaseCreate, EventCreate
from app.cases.transition import CaseWriter
from app.chc.config import ChcConfig, load_chc_config
from app.chc.panels import next_panel_for_referral
from app.codelists.checks import code_checker
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.config import PROJECT_ROOT
from app.db import make_engine, make_sessionmaker
from app.engine.catalogue import PathwayCatalogue
from app.engine.engine import AllowedEvent, Engine
from app.engine.readmodels import ReadModelRegistry
from app.engine.spec import FieldSpec, PathwaySpec
from app.errors import DomainError
from app.ic import episode
from app.ic.schemas import ServiceCreate
from app.ic.service import create_service
from app.models import Case, CaseAction, CaseLink, ChcWorkItem, IcPlacement
from app.models.snapshot import RestatementMark
from app.models.spell import DischargeDelayPeriod, DischargeSpell
from app.referrals import service as referrals
from app.referrals.partners import partners_for
from app.timeutil import LONDON
from tests.conftest import migrated_database_url
from tests.helpers import writer_for
from tests.journeys import Maker, nhs_number

SEED = int(os.environ.get("HOMEFIRST_READ_MODEL_SEED", "20261130"))
TTL = timedelta(hours=1)
ORG = "READMODELS"
SITES = ("AINTREE", "SOUTHPORT", "ORMSKIRK")
SYSTEMS = ("LUHFT", "S&O")
CHC_CFG: ChcConfig = load_chc_config(PROJECT_ROOT / "pathways" / "config")


@dataclass(frozen=True)
class Plan:
    """How many journeys a workflow gets, how long each may run, and how far back they start."""

    journeys: int
    max_steps: int
    start_days_ago: tuple[float, float]


PLANS = {
    "sample-referral": Plan(journeys=10, max_steps=10, start_days_ago=(1, 10)),
    "discharge": Plan(journeys=24, max_steps=24, start_days_ago=(3, 25)),
    "chc": Plan(journeys=30, max_steps=30, start_days_ago=(20, 80)),
    # Long enough ago for the 91-day still-at-home follow-up to fall due.
    "intermediate_care": Plan(journeys=18, max_steps=24, start_days_ago=(95, 130)),
}
# Walks should go deep: endings that cut a journey short are picked rarely.
EXITS = frozenset({"cancelled", "died", "transferred", "withdrawn"})
EXIT_WEIGHT, INTERNAL_WEIGHT, FORWARD_WEIGHT = 0.05, 0.5, 1.0
ATTEMPTS_PER_STEP = 4
# The share of steps recorded late, behind entries already there.
LATE_ENTRIES = 0.2
# Events whose guards refuse them as the case stands (without the event's data).
GUARDED_WEIGHT = 0.4
# A trigger no walk has fired yet is picked more often.
NOVELTY_WEIGHT = 3.0
# Side roads and shortcuts that would keep walks from the rest of the pathway.
TRIGGER_WEIGHTS = {
    ("chc", "fast_track"): 0.3,
    ("chc", "defer"): 0.4,
    ("chc", "update_details"): 0.4,
    ("chc", "record_checklist"): 2.0,
    ("chc", "record_dst"): 2.0,
    ("chc", "transition_funding"): 1.5,
    ("chc", "start_brokerage"): 2.0,
    ("chc", "record_choice"): 1.5,
    # Each re-referral opens another episode to walk.
    ("intermediate_care", "re_refer"): 0.3,
    ("discharge", "update_details"): 0.4,
    # Actions may be added in any open state: kept from crowding out the pathway itself.
    ("discharge", "add_action"): 0.4,
    ("discharge", "update_action"): 0.3,
    ("discharge", "complete_action"): 0.4,
    ("discharge", "explain_late_action"): 0.3,
    ("discharge", "cancel_action"): 0.2,
    # Only a referral records its own status (app/referrals): a walk's guess is always refused.
    ("discharge", "referral_update"): 0.05,
    ("intermediate_care", "update_details"): 0.4,
}
# The share of each pathway's distinct triggers the random walks alone must have fired.
MIN_TRIGGER_COVERAGE = 0.8


def _london_day(at: datetime) -> date:
    return at.astimezone(LONDON).date()


# -- the database of this module ------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_sessions(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[sessionmaker[Session]]:
    """A fresh database (per backend) that holds only these journeys."""
    url = migrated_database_url(backend, Path(tmp_path_factory.mktemp("readmodels")), request)
    db = make_engine(url)
    yield make_sessionmaker(db)
    db.dispose()


# -- generated data -------------------------------------------------------------------------------
class Values(Maker):
    """Valid values for a transition's data, with what the pathways' guards look at made to pass
    most of the time (and fail some of the time, which must leave nothing behind)."""

    def __init__(
        self,
        spec: PathwaySpec,
        codes: CodeSetRegistry,
        rng: random.Random,
        services: dict[str, list[int]],
    ) -> None:
        super().__init__(spec, codes, rng)
        self.services = services

    def event_data(self, allowed: AllowedEvent, at: datetime, case: Case) -> dict[str, Any]:
        names = list(allowed.requires) + [n for n in allowed.accepts if self.rng.random() < 0.6]
        return self._fill(names, allowed.event, at, case)

    def open_data(self, at: datetime) -> dict[str, Any]:
        spec = self.spec
        names = list(spec.open_requires) + [n for n in spec.open_accepts if self.rng.random() < 0.5]
        data = self._fill(names, "open", at, None)
        if data.get("direction") == "step_down":  # from hospital: the 91-day follow-up applies
            data["hospital_discharge_at"] = self.pick(
                "hospital_discharge_at", spec.fields["hospital_discharge_at"], "open", at, None
            )
        return data

    def _fill(
        self, names: list[str], trigger: str, at: datetime, case: Case | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in dict.fromkeys(names):
            value = self.pick(name, self.spec.fields[name], trigger, at, case)
            if value is not None:
                out[name] = value
        return out

    def pick(self, name: str, f: FieldSpec, trigger: str, at: datetime, case: Case | None) -> Any:
        rng = self.rng
        on = _london_day(at)
        attributes = dict(case.attributes) if case is not None else {}
        open_delays = [
            d["code"] if isinstance(d, dict) else d for d in attributes.get("open_delays") or []
        ]
        # -- discharge
        if name == "hospital_system":
            return rng.choice(SYSTEMS)
        if name == "admitted_at":
            return (at - timedelta(hours=rng.uniform(1, 72))).isoformat()
        if name == "delay_code":
            if trigger == "open_delay":
                current = [c.code for c in self._codes(f, on) if c.code not in open_delays]
                if current and rng.random() < 0.9:
                    return rng.choice(current)
            elif open_delays and rng.random() < 0.9:
                return rng.choice(open_delays)
        # -- intermediate care
        if name == "service_id" and self.services:
            model = episode.model_for_trigger(trigger) or attributes.get("model")
            choices = [
                s for s in self.services.get(str(model), []) if s != attributes.get("service_id")
            ]
            if choices and rng.random() < 0.95:
                return rng.choice(choices)
            return rng.choice([s for ids in self.services.values() for s in ids])
        if name == "hospital_discharge_at":
            return (at - timedelta(hours=rng.uniform(1, 12))).isoformat()
        if name == "previous_episode_id":
            return None
        # -- CHC
        if name == "panel_date":
            return next_panel_for_referral(on, CHC_CFG.local.panels).isoformat()
        if name == "decision_outcome" and trigger == "accept_fast_track" and rng.random() < 0.8:
            return "chc_eligible"
        if name == "dst_setting":
            return "community" if rng.random() < 0.8 else "acute"
        if name == "referral_date":
            return (on - timedelta(days=rng.randint(0, 900))).isoformat()
        if name == "discharge_date":
            return rng.choice(
                ["2020-04-20", "2020-07-15", "2021-03-01", (on - timedelta(days=3)).isoformat()]
            )
        if name == "date_of_birth":
            return date(rng.randint(1925, 1975), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
        if name == "package_end_date":
            return (on + timedelta(days=rng.randint(-30, 60))).isoformat()
        if name == "interim_nhs_funded":
            return rng.random() < 0.6
        # -- actions and milestones: a reference the case may hold (a wrong one is refused)
        if name == "action_ref" and case is not None:
            refs = [m.name for m in self.spec.milestones] + [
                f"A{n}" for n in range(2, case.version + 1)
            ]
            return rng.choice(refs)
        if name in ("action_owner_organisation", "action_assignee"):
            return None  # the case's own organisation and no one in particular
        if name == "action_due":
            return (at + timedelta(hours=rng.uniform(-6, 48))).isoformat()
        return self.value(name, f, at, case)  # type: ignore[arg-type]

    def _codes(self, f: FieldSpec, on: date) -> list[Any]:
        try:
            return list(self.codes.current(str(f.codelist), on).codes)
        except CodeSetNotFound:
            return []


# -- the journeys ---------------------------------------------------------------------------------
# A value in a scripted step's data may depend on the step's clinical time (a current code).
Value = Any
Step = tuple[str, dict[str, Value]]


@dataclass(frozen=True)
class Script:
    """A journey driven deliberately, for triggers a random walk reaches rarely."""

    workflow: str
    days_ago: float
    open: dict[str, Value]
    steps: list[Step]


@dataclass
class Journeys:
    """Walks every workflow's pathway, checking every read model after each accepted change."""

    sessions: sessionmaker[Session]
    writer: CaseWriter
    codes: CodeSetRegistry
    actor: Actor
    now: datetime
    rng: random.Random
    services: dict[str, list[int]]
    fired: Counter[tuple[str, str]] = field(default_factory=Counter)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_walks: set[tuple[str, str]] = field(default_factory=set)
    steps: int = 0
    checks: int = 0
    cases: list[int] = field(default_factory=list)
    walked: Counter[str] = field(default_factory=Counter)
    scripted: int = 0
    failure: str | None = None
    referral_tasks: dict[str, int] = field(default_factory=dict)
    partner_actors: dict[str, Actor] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.writer.engine

    @property
    def read_models(self) -> ReadModelRegistry:
        return self.writer.read_models

    def spec(self, workflow: str) -> PathwaySpec:
        loaded = self.engine.catalogue.latest(workflow)
        assert loaded is not None, workflow
        return loaded.spec

    def values(self, workflow: str) -> Values:
        services = self.services if workflow == episode.WORKFLOW else {}
        return Values(self.spec(workflow), self.codes, self.rng, services)

    def never_fired(self, workflow: str, fired: set[tuple[str, str]] | None = None) -> list[str]:
        fired = set(self.fired) if fired is None else fired
        triggers = {t.trigger for t in self.spec(workflow).transitions}
        return sorted(t for t in triggers if (workflow, t) not in fired)

    # -- checking
    def check(self, after: str) -> None:
        """Every read model agrees with the plain derivation (read in a fresh session)."""
        with self.sessions() as session:
            for name in self.read_models.names():
                found = self.read_models.get(name).check(session, now=self.now)
                assert found == [], f"{name} disagrees after {after} (seed {SEED}): {found}"
        self.checks += 1

    # -- changing
    def open(self, workflow: str, at: datetime, data: dict[str, Any] | None = None) -> int:
        with self.sessions() as session:
            created = service.create_case(
                session,
                writer=self.writer,
                actor=self.actor,
                body=CaseCreate(
                    workflow=workflow,
                    site=self.rng.choice(SITES),
                    patient_ref=nhs_number(self.rng),
                    data=self.values(workflow).open_data(at) if data is None else data,
                    occurred_at=at,
                    reason="generated",
                ),
                idempotency_key=None,
                now=self.now,
                ttl=TTL,
            )
        case_id = int(created.body["id"])
        self.cases.append(case_id)
        self.fired[(workflow, "open")] += 1
        self.steps += 1
        self.check(f"{workflow} case {case_id}: open")
        return case_id

    def fire(
        self, session: Session, case: Case, event: str, data: dict[str, Any], at: datetime
    ) -> bool:
        """Fire `event` through the service layer; whether the case is still open. A refusal is
        raised again once the read models are checked (it must leave nothing behind)."""
        workflow, case_id, version = case.workflow_key, case.id, case.version
        session.rollback()
        try:
            fired = service.fire_event(
                session,
                writer=self.writer,
                actor=self.actor,
                case_id=case_id,
                body=EventCreate(event=event, data=data, occurred_at=at, reason="generated"),
                if_match=f'"{version}"',
                idempotency_key=None,
                now=self.now,
                ttl=TTL,
            )
        except DomainError:
            session.rollback()
            self.refused[(workflow, event)] += 1
            self.check(f"{workflow} case {case_id}: {event} refused")  # it left nothing behind
            raise
        self.fired[(workflow, event)] += 1
        self.steps += 1
        return bool(fired.body["case"]["is_open"])

    # -- random walks
    def run(self, workflow: str) -> None:
        plan = PLANS[workflow]
        for _ in range(plan.journeys):
            start = self.now - timedelta(days=self.rng.uniform(*plan.start_days_ago))
            pending = [self.open(workflow, start)]
            while pending:
                self.walk(pending.pop(0), pending)

    def walk(self, case_id: int, pending: list[int]) -> None:
        with self.sessions() as session:
            case = session.get(Case, case_id)
            assert case is not None
            workflow, opened = case.workflow_key, case.opened_at
        self.walked[workflow] += 1
        plan = PLANS[workflow]
        history: list[str] = ["open"]
        last = opened
        # Some journeys stop part way, so the database holds cases in every state.
        for _ in range(self.rng.randint(2, plan.max_steps)):
            forward = last + (self.now - last) * self.rng.uniform(0.03, 0.3)
            outcome, at = self.step(case_id, forward, last, history)
            if outcome is None:
                continue
            if outcome == "final":
                break
            last = max(last, at)
            pending.extend(self.linked_from(case_id))

    def step(
        self, case_id: int, forward: datetime, last: datetime, history: list[str]
    ) -> tuple[str | None, datetime]:
        """Fire one randomly chosen event the actor may fire, at `forward` or now and then
        recorded late (behind `last`, the latest entry so far); the outcome is None when every
        try was refused."""
        at = forward
        for _ in range(ATTEMPTS_PER_STEP):
            with self.sessions() as session:
                case = session.get(Case, case_id)
                assert case is not None
                if not case.is_open:
                    return "final", at
                spec = self.spec(case.workflow_key)
                # Events whose guards refuse them without data may pass with the data given
                # (a Checklist departure with its rationale, a Fast Track accepted as eligible):
                # they are picked too, less often.
                options = [
                    a
                    for a in self.engine.allowed_events(case, self.actor, now=forward)
                    if a.allowed or not a.reasons[0].startswith("needs one of the roles")
                ]
                if not options:
                    return None, at
                weights = [self._weight(spec, case.state, a) for a in options]
                chosen = self.rng.choices(options, weights)[0]
                at = forward
                if self.rng.random() < LATE_ENTRIES:
                    # Recorded late, behind entries already there, but not before the case's
                    # previous event of the same kind (which the engine refuses).
                    same = CaseRepository(session).last_occurred_at(case_id, chosen.event)
                    earliest = max(case.opened_at, same or case.opened_at)
                    if earliest < last:
                        at = earliest + (last - earliest) * self.rng.uniform(0.05, 1.0)
                data = self.values(case.workflow_key).event_data(chosen, at, case)
                try:
                    still_open = self.fire(session, case, chosen.event, data, at)
                except DomainError:
                    continue
            self.by_walks.add((spec.key, chosen.event))
            history.append(chosen.event)
            self.check(f"{spec.key} case {case_id}: {' -> '.join(history)}")
            return ("moved" if still_open else "final"), at
        return None, at

    def _weight(self, spec: PathwaySpec, state: str, allowed: AllowedEvent) -> float:
        if allowed.dest in EXITS:
            weight = EXIT_WEIGHT
        elif allowed.dest == state:
            weight = INTERNAL_WEIGHT
        else:
            weight = FORWARD_WEIGHT
        weight *= TRIGGER_WEIGHTS.get((spec.key, allowed.event), 1.0)
        if not allowed.allowed:
            weight *= GUARDED_WEIGHT
        if (spec.key, allowed.event) not in self.by_walks:
            weight *= NOVELTY_WEIGHT  # steer towards triggers not fired yet
        return weight

    def linked_from(self, case_id: int) -> list[int]:
        """Cases an effect of the last event opened and linked to this one (to walk too)."""
        with self.sessions() as session:
            rows = session.execute(
                select(CaseLink.to_case_id, Case.workflow_key)
                .join(Case, Case.id == CaseLink.to_case_id)
                .where(CaseLink.from_case_id == case_id)
            ).all()
        new = [(target, workflow) for target, workflow in rows if target not in self.cases]
        for target, workflow in new:
            self.cases.append(target)
            self.fired[(workflow, "open")] += 1
        return [target for target, _ in new]

    # -- deliberate journeys
    def drive(self, script: Script) -> None:
        """Fire the script's events in order, spread evenly up to now; each must be accepted."""
        start = self.now - timedelta(days=script.days_ago)
        gap = (self.now - timedelta(hours=1) - start) / max(len(script.steps), 1)
        case_id = self.open(script.workflow, start, self._resolve(script.open, start))
        history = ["open"]
        for n, (event, data) in enumerate(script.steps, start=1):
            at = start + gap * n
            if event in (SEND_REFERRAL, MOVE_REFERRAL):
                self.referral_step(case_id, event, data)
                history.append(event)
                self.check(f"{script.workflow} case {case_id} (scripted): {' -> '.join(history)}")
                continue
            with self.sessions() as session:
                case = session.get(Case, case_id)
                assert case is not None
                try:
                    self.fire(session, case, event, self._resolve(data, at), at)
                except DomainError as exc:
                    raise AssertionError(
                        f"scripted {script.workflow} journey {' -> '.join(history)} refused "
                        f"{event}: {exc} {getattr(exc, 'extra', '')}"
                    ) from exc
            history.append(event)
            self.check(f"{script.workflow} case {case_id} (scripted): {' -> '.join(history)}")
            self.linked_from(case_id)  # counted, not walked
        self.scripted += 1

    def referral_step(self, case_id: int, step: str, data: dict[str, Any]) -> None:
        """A referral from the case to a partner, or the partner moving it (app/referrals):
        the referral records its status on the case (`referral_update`) in the same change.
        Referrals carry no clinical time of their own, so these steps come last in a script."""
        partners = partners_for(PROJECT_ROOT / "pathways" / "config")
        with self.sessions() as session:
            if step == SEND_REFERRAL:
                sent = referrals.send(
                    session,
                    writer=self.writer,
                    partners=partners,
                    actor=self.actor,
                    case_id=case_id,
                    body=referrals.ReferralCreate(**data),
                    now=self.now,
                )
                self.referral_tasks[data["organisation"]] = sent.id
                self.fired[("referral", "open")] += 1
            else:
                organisation = data["organisation"]
                referrals.move(
                    session,
                    writer=self.writer,
                    partners=partners,
                    actor=self.partner_actor(organisation),
                    task_id=self.referral_tasks[organisation],
                    body=referrals.ReferralEvent(event=data["event"], data=data.get("data", {})),
                    now=self.now,
                )
        self.fired[("discharge", "referral_update")] += 1
        self.steps += 1

    def partner_actor(self, organisation: str) -> Actor:
        found = self.partner_actors.get(organisation)
        if found is None:
            roles = ["discharge_team", "provider"]
            with self.sessions() as session:
                user = add_user(
                    session,
                    username=f"partner-{organisation.lower()}",
                    display_name=organisation,
                    organisation=organisation,
                    roles=roles,
                )
                found = Actor(user.id, user.username, organisation, frozenset(roles))
            self.partner_actors[organisation] = found
        return found

    def _resolve(self, data: dict[str, Value], at: datetime) -> dict[str, Any]:
        return {k: v(self, at) if callable(v) else v for k, v in data.items()}

    def code(self, codelist: str, at: datetime, n: int = 0) -> str:
        return str(self.codes.current(codelist, _london_day(at)).codes[n].code)

    def service(self, model: str, n: int = 0) -> int:
        return self.services[model][n]


def _ago(hours: float) -> Value:
    """A datetime value `hours` before the step's clinical time."""
    return lambda _run, at: (at - timedelta(hours=hours)).isoformat()


def _day(days: int = 0) -> Value:
    """A date value `days` after the step's London date."""
    return lambda _run, at: (_london_day(at) + timedelta(days=days)).isoformat()


def _code(codelist: str, n: int = 0) -> Value:
    return lambda run, at: run.code(codelist, at, n)


def _service(model: str, n: int = 0) -> Value:
    return lambda run, _at: run.service(model, n)


DELAYS, DESTINATIONS = "delay-reasons-acute", "ukcore-discharge-destination"
# Script steps that are not events of the case: a referral sent from it, and moved by its partner.
SEND_REFERRAL, MOVE_REFERRAL = "(send referral)", "(partner moves referral)"
CHECKLIST = [f"checklist_{d.key}" for d in CHC_CFG.tools.checklist.domains]
DST = [f"dst_{d.key}" for d in CHC_CFG.tools.dst.domains]
PLAN = {"transition_plan": "Visits reducing over 3 weeks", "contingency_plan": "Ring the SPA"}
OVER = {"capacity_override_reason": "agreed with the unit manager"}
SPELL = {"hospital_system": "LUHFT", "ward": "Ward 7", "admitted_at": _ago(3)}
STEP_UP = {"direction": "step_up", "referrer": "gp"}
CHC_PERSON = {"person_name": "A Person", "referral_date": _day(-10), "setting": "community"}


def scripts() -> list[Script]:
    """Journeys that together fire every trigger of every pathway, each accepted as scripted."""
    referred = {"checklist_date": _day()}
    return [
        Script(
            "discharge",
            20,
            {**SPELL, "mh_known_to_services": True},
            [
                ("accept", {"pathway": "P1", "responsible_person": "R Lee"}),
                ("update_details", {"ward": "Ward 9", "carer_involved": True}),
                ("set_pathway", {"pathway": "P2"}),
                ("record_ic_offer", {"ic_offer_response": "accepted"}),
                ("record_mh_involvement", {"mh_involvement_role": "care_coordinator"}),
                ("not_meeting_ctr", {}),
                ("open_delay", {"delay_code": _code(DELAYS, 0), "support_area": "p1_home_care"}),
                ("open_delay", {"delay_code": _code(DELAYS, 1)}),
                ("set_primary_delay", {"delay_code": _code(DELAYS, 1)}),
                ("end_delay", {"delay_code": _code(DELAYS, 0)}),
                ("raise_escalation", {"escalation_reason": "long wait"}),
                ("clear_escalation", {"escalation_outcome": "package found"}),
                ("raise_funding_question", {"funding_question": "who funds the package?"}),
                ("resolve_funding_question", {}),
                ("end_delay", {"delay_code": _code(DELAYS, 1)}),
                ("meets_ctr_again", {"ctr_note": "unwell again"}),
                ("not_meeting_ctr", {}),
                ("discharge", {"discharge_pathway": "P1", "destination_code": _code(DESTINATIONS)}),
                ("start_post_discharge_assessment", {}),
                ("start_follow_up", {}),
                ("close", {"welfare_check_outcome": "settled"}),
            ],
        ),
        # Left on the Ready-for-Discharge list, delayed and escalated.
        Script(
            "discharge",
            8,
            SPELL,
            [
                ("not_meeting_ctr", {}),
                ("open_delay", {"delay_code": _code(DELAYS, 3), "delay_primary": True}),
                ("raise_escalation", {"escalation_reason": "no package in sight"}),
            ],
        ),
        Script("discharge", 6, SPELL, [("cancel", {"cancel_reason": "duplicate referral"})]),
        # Actions and a milestone (pathway version 5): steps about a day apart, so the
        # milestone (due four hours after the patient became ready) is late at the next one.
        Script(
            "discharge",
            7,
            {**SPELL, "pathway": "P1"},
            [
                ("not_meeting_ctr", {}),  # seq 2: the hub referral milestone starts
                ("add_action", {"action_title": "Book transport", "action_due": _ago(-2)}),
                ("update_action", {"action_ref": "A3", "action_owner_role": "ward_clinician"}),
                (
                    "explain_late_action",
                    {"action_ref": "hub_referral_sent", "action_late_reason": "patient_unwell"},
                ),
                ("complete_action", {"action_ref": "hub_referral_sent"}),
                ("add_action", {"action_title": "Key safe code", "action_due": _ago(-30)}),
                ("cancel_action", {"action_ref": "A7", "action_note": "family have a key"}),
                (
                    "complete_action",
                    {"action_ref": "A3", "action_late_reason": "awaiting_transport"},
                ),
                # A referral to the hub, accepted: the hub milestones are done and the P1 ones
                # start (recorded now, after the steps above).
                (SEND_REFERRAL, {"organisation": "LIV-CTH", "kind": "hub"}),
                (MOVE_REFERRAL, {"organisation": "LIV-CTH", "event": "accept"}),
            ],
        ),
        Script(
            "discharge",
            9,
            SPELL,
            [
                ("not_meeting_ctr", {}),
                ("open_delay", {"delay_code": _code(DELAYS, 2)}),
                ("died", {}),
            ],
        ),
        Script("discharge", 4, SPELL, [("transfer", {"transferred_to": "Walton Centre"})]),
        Script(
            "chc",
            60,
            CHC_PERSON,
            [
                ("allocate", {"allocated_to": "CSU team A", "assessment_route": "csu_assessor"}),
                ("start_screening", {}),
                (
                    "record_checklist",
                    {**dict.fromkeys(CHECKLIST, "C"), **referred, "checklist_breathing": "A"},
                ),
                ("start_full_assessment", {}),
                (
                    "record_dst",
                    {
                        **dict.fromkeys(DST, "low"),
                        "dst_breathing": "priority",
                        "dst_setting": "community",
                    },
                ),
                ("refer_to_panel", {}),
                ("record_panel_recommendation", {"panel_recommendation": "chc_eligible"}),
                ("adjourn", {"adjourn_reason": "papers missing"}),
                ("decide", {"decision_outcome": "chc_eligible"}),
                ("transition_funding", {"funding_effective_date": _day(), "funder": "ICB"}),
                ("start_brokerage", {"placement_requested_date": _day()}),
                ("record_eoi", {"eoi_home": "Rose House"}),
                ("record_choice", {"chosen_home": "Rose House", "options_shown": "three homes"}),
                ("place", {"placement_start_date": _day()}),
                ("complete_review", {"review_outcome": "eligibility_continues"}),
                ("dispute", {"dispute_reason": "family disagree"}),
                ("refer_to_irp", {}),
                (
                    "resolve_dispute",
                    {"dispute_result": "decision_upheld", "decision_outcome": "chc_eligible"},
                ),
                ("update_details", {"deteriorating": True}),
                ("close", {"closure_reason": "package stable"}),
            ],
        ),
        Script(
            "chc",
            30,
            CHC_PERSON,
            [
                ("defer", {"deferral_reason": "no assessor free"}),
                ("allocate", {"allocated_to": "CSU team B"}),
                (
                    "fast_track",
                    {
                        "fast_track_clinician": "Dr Shah",
                        "fast_track_clinician_profession": "registered_medical_practitioner",
                        "fast_track_reason": "end of life",
                    },
                ),
                ("accept_fast_track", {"decision_outcome": "chc_eligible"}),
                ("transition_funding", {"funding_effective_date": _day()}),
                ("schedule_review", {}),
                ("record_death", {"date_of_death": _day()}),
            ],
        ),
        Script(
            "chc",
            25,
            CHC_PERSON,
            [
                ("allocate", {"allocated_to": "LA trusted assessor"}),
                ("start_screening", {}),
                ("record_checklist", {**dict.fromkeys(CHECKLIST, "C"), **referred}),
                ("screen_out", {"decision_outcome": "not_eligible"}),
                ("withdraw", {"withdrawal_reason": "moved away"}),
            ],
        ),
        # Left on the working list.
        Script("chc", 15, CHC_PERSON, [("allocate", {"allocated_to": "CSU team C"})]),
        Script(
            "intermediate_care",
            100,
            {
                "direction": "step_down",
                "referrer": "hospital",
                "hospital_discharge_at": _ago(1),
            },
            [
                ("record_first_contact", {}),
                ("triage", {"priority": "routine", "planned_model": "reablement"}),
                ("assess", {"personal_goals": "Walk to the shop", "scope_discussed": True}),
                ("await_capacity", {"priority": "high"}),
                ("start_reablement", {"service_id": _service("reablement"), **OVER}),
                ("record_rehab_offer", {"rehab_offer_response": "accepted"}),
                ("record_transition_plan", PLAN),
                ("end_episode", {"outcome": "independent"}),
                ("record_still_at_home", {"still_at_home_91d": "at_home"}),
            ],
        ),
        Script(
            "intermediate_care",
            30,
            STEP_UP,
            [
                ("flag_urgent_response", {"ucr_condition": "reduced_function"}),
                ("start_crisis_response", {"service_id": _service("crisis_response"), **OVER}),
                (
                    "move_to_home_based_ic",
                    {"service_id": _service("home_based_ic"), "move_reason": "stable", **OVER},
                ),
                (
                    "change_service",
                    {
                        "service_id": _service("home_based_ic", 1),
                        "move_reason": "nearer home",
                        **OVER,
                    },
                ),
                (
                    "move_to_bed_based_ic",
                    {"service_id": _service("bed_based_ic"), "move_reason": "needs a bed", **OVER},
                ),
                (
                    "move_to_reablement",
                    {"service_id": _service("reablement"), "move_reason": "home again", **OVER},
                ),
                (
                    "move_to_crisis_response",
                    {"service_id": _service("crisis_response"), "move_reason": "crisis", **OVER},
                ),
                ("assess", {"personal_goals": "Manage at home"}),
                ("update_details", {"priority": "urgent", "mh_flag": False}),
                ("record_transition_plan", PLAN),
                ("await_ongoing_package", {"awaited_package": "home_care"}),
                ("end_episode", {"outcome": "ongoing_package"}),
                ("re_refer", {"re_referrer": "gp"}),
                ("close", {}),
            ],
        ),
        # Left holding a place.
        Script(
            "intermediate_care",
            12,
            STEP_UP,
            [
                ("triage", {"priority": "urgent", "planned_model": "home_based_ic"}),
                ("start_home_based_ic", {"service_id": _service("home_based_ic"), **OVER}),
            ],
        ),
        Script(
            "intermediate_care",
            10,
            STEP_UP,
            [
                ("triage", {"priority": "high", "planned_model": "bed_based_ic"}),
                ("start_bed_based_ic", {"service_id": _service("bed_based_ic"), **OVER}),
            ],
        ),
        Script("intermediate_care", 3, STEP_UP, [("cancel", {"cancel_reason": "duplicate"})]),
        Script(
            "sample-referral",
            5,
            {"priority": "urgent"},
            [
                ("triage", {"triage_note": "seen"}),
                ("accept", {"named_clinician": "Dr Lee"}),
                ("hold", {"hold_reason": "patient_request"}),
                ("resume", {}),
                ("complete", {"outcome": "goals_met"}),
            ],
        ),
        Script(
            "sample-referral",
            4,
            {"priority": "routine"},
            [
                ("triage", {}),
                ("decline", {"triage_note": "not eligible"}),
            ],
        ),
        Script("sample-referral", 2, {"priority": "routine"}, [("withdraw", {})]),
    ]


def _services(sessions: sessionmaker[Session], admin: Actor, now: datetime) -> dict[str, list[int]]:
    """Two services per IC model: one roomy, one with a single place (so capacity refusals and
    overrides happen)."""
    out: dict[str, list[int]] = {}
    with sessions() as session:
        for model in ("crisis_response", "home_based_ic", "reablement", "bed_based_ic"):
            for n, capacity in enumerate((40, 1)):
                created = create_service(
                    session,
                    actor=admin,
                    body=ServiceCreate(
                        code=f"RM-{model[:4].upper()}-{n}",
                        name=f"{model} {n}",
                        site=SITES[n],
                        model=model,  # type: ignore[arg-type]
                        capacity=capacity,
                        reason="generated journeys",
                    ),
                    now=now,
                )
                out.setdefault(model, []).append(created.id)
    return out


def _user(sessions: sessionmaker[Session], name: str, roles: list[str]) -> Actor:
    with sessions() as session:
        # Every role the pathways name, the PAS feed's `interface` included: the walks fire
        # every trigger, the feed's branches too.
        user = add_user(
            session,
            username=name,
            display_name=name,
            organisation=ORG,
            roles=sorted(roles),
            allow_internal_roles=True,
        )
        return Actor(user.id, name, ORG, frozenset(roles))


@pytest.fixture(scope="module")
def journeys(
    own_sessions: sessionmaker[Session],
    backend: str,
    catalogue: PathwayCatalogue,
    codes: CodeSetRegistry,
) -> Journeys:
    # Built here, once per backend, as the `engine` and `writer` fixtures build them (those are
    # per test, and `writer` would bring up the shared database for nothing).
    writer = writer_for(Engine(catalogue, code_check=code_checker(codes)))
    engine = writer.engine
    roles = {
        r for loaded in engine.catalogue.all() for t in loaded.spec.transitions for r in t.roles
    }
    roles |= {r for loaded in engine.catalogue.all() for r in loaded.spec.open_roles}
    now = datetime.now(UTC)
    actor = _user(own_sessions, "rm_walker", sorted(roles))
    admin = _user(own_sessions, "rm_admin", ["manager"])
    run = Journeys(
        sessions=own_sessions,
        writer=writer,
        codes=codes,
        actor=actor,
        now=now,
        rng=random.Random(SEED),
        services=_services(own_sessions, admin, now),
    )
    began = time.monotonic()
    try:
        for workflow in sorted(PLANS):
            run.run(workflow)
        for script in scripts():
            run.drive(script)
    except AssertionError as exc:  # a read model disagreed (or a scripted step was refused)
        run.failure = str(exc)
    took = time.monotonic() - began
    print(  # noqa: T201 - the size of the run, for the closing note
        f"\n[{backend}] seed {SEED}: {len(run.cases)} cases, {run.steps} changes "
        f"({dict(Counter(w for w, _ in run.fired.elements()))}), "
        f"{sum(run.refused.values())} refused, {run.checks} checks, "
        f"{run.scripted} scripted journeys, {took:.1f}s"
    )
    return run


# -- the tests -----------------------------------------------------------------------------------
def test_every_change_of_every_workflow_keeps_every_read_model_equal_to_the_derivation(
    journeys: Journeys,
) -> None:
    # The journeys asserted `check() == []` for every read model after every change they made
    # and after every change refused; the first disagreement stopped them.
    assert journeys.failure is None, journeys.failure
    assert journeys.checks == journeys.steps + sum(journeys.refused.values())
    assert sorted(journeys.read_models.names()) == sorted(ROWS_OF)
    by_workflow = Counter(w for w, _ in journeys.fired.elements())
    for workflow, plan in PLANS.items():
        assert journeys.walked[workflow] >= plan.journeys, workflow
        assert by_workflow[workflow] >= 3 * plan.journeys, (workflow, by_workflow)
    assert sum(journeys.refused.values()) > 0, "refusals happen (and must leave nothing behind)"
    # Discharges on P1/P2 opened step-down episodes, walked like the others.
    assert journeys.walked["intermediate_care"] > PLANS["intermediate_care"].journeys
    # The rows compared were not trivial ones.
    with journeys.sessions() as session:
        rows = _rows(session)
    spells, periods = rows["discharge_spells"], rows["discharge_delay_periods"]
    assert periods
    assert any(r.drd_day is not None for r in spells)
    assert any(r.discharged_at is not None for r in spells)
    assert any(r.escalated for r in spells)
    placements = rows["ic_placements"]
    assert {r.occupying for r in placements} == {True, False}
    assert len({r.model for r in placements}) >= 4
    items = rows["chc_work_items"]
    assert len({r.computed_rag for r in items}) >= 2
    assert len({r.cohort for r in items}) >= 2
    assert any(r.retired_at is None for r in items), "open CHC cases keep live items"
    assert any(r.retired_at is not None for r in items), "closed CHC cases retire theirs"


def test_the_journeys_fire_every_trigger_of_every_pathway(journeys: Journeys) -> None:
    assert journeys.failure is None, journeys.failure
    report, short = [], []
    for workflow in PLANS:
        triggers = len({t.trigger for t in journeys.spec(workflow).transitions})
        missed = journeys.never_fired(workflow, journeys.by_walks)
        report.append(
            f"{workflow}: random walks fired {triggers - len(missed)}/{triggers} triggers"
            + (f" (never {', '.join(missed)}: scripted journeys fired them)" if missed else "")
        )
        if (triggers - len(missed)) / triggers < MIN_TRIGGER_COVERAGE:
            short.append(workflow)
    print("\n" + "\n".join(report))  # noqa: T201 - the coverage, for the closing note
    assert not short, f"random walks fired too few triggers (seed {SEED}): " + "; ".join(report)
    # With the scripted journeys, every trigger of every pathway fired.
    assert {w: journeys.never_fired(w) for w in PLANS} == {w: [] for w in PLANS}


def test_a_rebuild_gives_the_rows_the_projectors_kept(journeys: Journeys) -> None:
    registry = journeys.read_models
    with journeys.sessions() as session:
        kept = _rows(session)
        written = {
            name: registry.get(name).rebuild(session, now=journeys.now) for name in registry.names()
        }
        session.commit()
    with journeys.sessions() as session:
        for name in registry.names():
            found = registry.get(name).check(session, now=journeys.now)
            assert found == [], f"{name} after a rebuild (seed {SEED}): {found}"
        rebuilt = _rows(session)
    for table, rows in kept.items():
        assert rows, table
        assert rebuilt[table] == rows, f"{table} differs after a rebuild (seed {SEED})"
    assert written["discharge_spells"] == len(kept["discharge_spells"])
    assert written["ic_placements"] == len(kept["ic_placements"])
    open_items = sum(1 for r in kept["chc_work_items"] if r.retired_at is None)
    assert written["chc_work_items"] == open_items


def test_check_names_a_corrupted_row_and_a_rebuild_mends_it(journeys: Journeys) -> None:
    """The negative control: a plain UPDATE behind the projectors' back is found and mended."""
    registry = journeys.read_models
    with journeys.sessions() as session:
        kept = _rows(session)
        spell = (
            session.execute(
                select(DischargeSpell)
                .where(DischargeSpell.drd_day.is_not(None))
                .order_by(DischargeSpell.case_id)
            )
            .scalars()
            .first()
        )
        placement = (
            session.execute(select(IcPlacement).order_by(IcPlacement.case_id)).scalars().first()
        )
        item = (
            session.execute(
                select(ChcWorkItem)
                .join(Case, Case.id == ChcWorkItem.case_id)
                .where(Case.is_open.is_(True), ChcWorkItem.override_rag.is_(None))
                .order_by(ChcWorkItem.case_id)
            )
            .scalars()
            .first()
        )
        assert spell is not None
        assert placement is not None
        assert item is not None
        corrupted = {
            "discharge_spells": (spell.case_id, "drd_day"),
            "ic_placements": (placement.case_id, "occupying"),
            "chc_work_items": (item.case_id, "computed_rag"),
        }
        wrong_rag = "green" if item.computed_rag != "green" else "red"
        session.execute(
            update(DischargeSpell)
            .where(DischargeSpell.case_id == spell.case_id)
            .values(drd_day=spell.drd_day + 1)
        )
        session.execute(
            update(IcPlacement)
            .where(IcPlacement.case_id == placement.case_id)
            .values(occupying=not placement.occupying)
        )
        session.execute(
            update(ChcWorkItem)
            .where(ChcWorkItem.case_id == item.case_id)
            .values(computed_rag=wrong_rag)
        )
        session.commit()
    with journeys.sessions() as session:
        found = {name: registry.get(name).check(session, now=journeys.now) for name in ROWS_OF}
    for name, (case_id, column) in corrupted.items():
        assert found[name], f"{name}: check missed the corrupted {column} of case {case_id}"
        assert all(f" {case_id}:" in line for line in found[name]), found[name]
        assert any(column in line for line in found[name]), found[name]
    with journeys.sessions() as session:
        for name in registry.names():
            registry.get(name).rebuild(session, now=journeys.now)
        session.commit()
    with journeys.sessions() as session:
        for name in registry.names():
            assert registry.get(name).check(session, now=journeys.now) == [], name
        assert _rows(session) == kept


# -- the rows of the read models ----------------------------------------------------------------
CHC_RATING = (
    "case_id",
    "cohort",
    "responsible_body",
    "waiting_since",
    "computed_rag",
    "rag",
    "rule_ids",
    "ruleset_version",
    "retired_at",
)
# A rebuild numbers the rows again: every column but the id.
ACTION_COLUMNS = tuple(c.name for c in CaseAction.__table__.columns if c.name != "id")
# Each read model's tables: (table, columns compared (None: all), key order).
ROWS_OF: dict[str, list[tuple[Table, tuple[str, ...] | None, tuple[str, ...]]]] = {
    "discharge_spells": [
        (DischargeSpell.__table__, None, ("case_id",)),  # type: ignore[list-item]
        (DischargeDelayPeriod.__table__, None, ("case_id", "ordinal")),  # type: ignore[list-item]
    ],
    "chc_work_items": [(ChcWorkItem.__table__, CHC_RATING, ("case_id",))],  # type: ignore[list-item]
    "ic_placements": [(IcPlacement.__table__, None, ("case_id",))],  # type: ignore[list-item]
    # A queue of the days late entries may have changed, not a derivation: its check finds
    # nothing and a rebuild leaves its rows as the projector wrote them.
    "restatement_marks": [(RestatementMark.__table__, None, ("id",))],  # type: ignore[list-item]
    "case_actions": [
        (CaseAction.__table__, ACTION_COLUMNS, ("case_id", "ref")),  # type: ignore[list-item]
    ],
}


def _rows(session: Session) -> dict[str, list[Any]]:
    """Every row of every read model's tables, by table name, in key order."""
    out: dict[str, list[Any]] = {}
    for tables in ROWS_OF.values():
        for table, columns, key in tables:
            cols = [table.c[c] for c in columns] if columns else list(table.c)
            stmt = select(*cols).order_by(*(table.c[k] for k in key))
            out[table.name] = list(session.execute(stmt).all())
    session.rollback()
    return out
