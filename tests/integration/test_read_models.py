"""Every read model against the plain derivation, over generated journeys of every workflow.

Random walks through each registered pathway go through the service layer (`create_case`,
`fire_event`) and so through the one transition entry point (`CaseWriter`). At each step the walk
fires a randomly chosen event the actor may fire now (`Engine.allowed_events`), with generated
valid data. After every accepted state change, each registered read model's `check` (its stored
rows against the plain derivation from the events) must report nothing; at the end a `rebuild` of
each must report nothing either and give exactly the rows the projectors kept. A negative control
corrupts one row of each read model and expects `check` to name the case, and a rebuild to mend
it, so the comparison cannot pass vacuously.

The journeys run in a database of their own per backend: `check` and `rebuild` cover every case
in the database, so other tests' cases would neither slow nor disturb them.

A failure prints its seed; reproduce it with HOMEFIRST_READ_MODEL_SEED=<seed>.
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
from app.cases.schemas import CaseCreate, EventCreate
from app.cases.transition import CaseWriter
from app.chc.config import ChcConfig, load_chc_config
from app.chc.panels import next_panel_for_referral
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.config import PROJECT_ROOT
from app.db import make_engine, make_sessionmaker
from app.engine.engine import AllowedEvent, Engine
from app.engine.readmodels import ReadModelRegistry
from app.engine.spec import FieldSpec, PathwaySpec
from app.errors import DomainError
from app.ic import episode
from app.ic.schemas import ServiceCreate
from app.ic.service import create_service
from app.migrations_state import upgrade_to_head
from app.models import Case, CaseLink, ChcWorkItem, IcPlacement
from app.models.spell import DischargeDelayPeriod, DischargeSpell
from app.timeutil import LONDON
from tests.conftest import fresh_database_url
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
    "sample-referral": Plan(journeys=8, max_steps=10, start_days_ago=(1, 10)),
    "discharge": Plan(journeys=16, max_steps=24, start_days_ago=(3, 25)),
    "chc": Plan(journeys=18, max_steps=30, start_days_ago=(20, 80)),
    # Long enough ago for the 91-day still-at-home follow-up to fall due.
    "intermediate_care": Plan(journeys=16, max_steps=24, start_days_ago=(95, 130)),
}
# Walks should go deep: endings that cut a journey short are picked rarely.
EXITS = frozenset({"cancelled", "died", "transferred", "withdrawn"})
EXIT_WEIGHT, INTERNAL_WEIGHT, FORWARD_WEIGHT = 0.08, 0.5, 1.0
ATTEMPTS_PER_STEP = 4
# The share of each pathway's distinct triggers the journeys must have fired.
MIN_TRIGGER_COVERAGE = 0.8


def _london_day(at: datetime) -> date:
    return at.astimezone(LONDON).date()


# -- the database of this module ------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_sessions(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[sessionmaker[Session]]:
    """A fresh database (per backend) that holds only these journeys."""
    url = fresh_database_url(backend, Path(tmp_path_factory.mktemp("readmodels")), request)
    upgrade_to_head(url)
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
        names = list(allowed.requires) + [n for n in allowed.accepts if self.rng.random() < 0.5]
        return self._fill(names, allowed.event, at, case)

    def open_data(self, at: datetime) -> dict[str, Any]:
        spec = self.spec
        names = list(spec.open_requires) + [
            n for n in spec.open_accepts if self.rng.random() < 0.5
        ]
        return self._fill(names, "open", at, None)

    def _fill(
        self, names: list[str], trigger: str, at: datetime, case: Case | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in dict.fromkeys(names):
            value = self.pick(name, self.spec.fields[name], trigger, at, case)
            if value is not None:
                out[name] = value
        return out

    def pick(
        self, name: str, f: FieldSpec, trigger: str, at: datetime, case: Case | None
    ) -> Any:
        rng = self.rng
        on = _london_day(at)
        attributes = dict(case.attributes) if case is not None else {}
        open_delays = [d["code"] if isinstance(d, dict) else d for d in attributes.get("open_delays") or []]
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
            return rng.choice(["2020-04-20", "2020-07-15", "2021-03-01", (on - timedelta(days=3)).isoformat()])
        if name == "date_of_birth":
            return date(rng.randint(1925, 1975), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
        if name == "package_end_date":
            return (on + timedelta(days=rng.randint(-30, 60))).isoformat()
        if name == "interim_nhs_funded":
            return rng.random() < 0.6
        return self.value(name, f, at, case)  # type: ignore[arg-type]

    def _codes(self, f: FieldSpec, on: date) -> list[Any]:
        try:
            return list(self.codes.current(str(f.codelist), on).codes)
        except CodeSetNotFound:
            return []


# -- the journeys ---------------------------------------------------------------------------------
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
    steps: int = 0
    checks: int = 0
    cases: list[int] = field(default_factory=list)
    walked: Counter[str] = field(default_factory=Counter)
    last_step: str = ""

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

    # -- checking
    def check(self, after: str) -> None:
        """Every read model agrees with the plain derivation (read in a fresh session)."""
        self.last_step = after
        with self.sessions() as session:
            for name in self.read_models.names():
                found = self.read_models.get(name).check(session, now=self.now)
                assert found == [], f"{name} disagrees after {after} (seed {SEED}): {found}"
        self.checks += 1

    # -- opening and walking
    def run(self, workflow: str) -> None:
        plan = PLANS[workflow]
        for _ in range(plan.journeys):
            start = self.now - timedelta(days=self.rng.uniform(*plan.start_days_ago))
            case_id = self.open(workflow, start)
            pending = [case_id]
            while pending:
                self.walk(pending.pop(0), pending)

    def open(self, workflow: str, at: datetime) -> int:
        spec = self.spec(workflow)
        with self.sessions() as session:
            created = service.create_case(
                session,
                writer=self.writer,
                actor=self.actor,
                body=CaseCreate(
                    workflow=workflow,
                    site=self.rng.choice(SITES),
                    patient_ref=nhs_number(self.rng),
                    data=self.values(workflow).open_data(at),
                    occurred_at=at,
                    reason="generated",
                ),
                idempotency_key=None,
                now=self.now,
                ttl=TTL,
            )
        case_id = int(created.body["id"])
        self.cases.append(case_id)
        self.fired[(spec.key, "open")] += 1
        self.steps += 1
        self.check(f"{workflow} case {case_id}: open")
        return case_id

    def walk(self, case_id: int, pending: list[int]) -> None:
        with self.sessions() as session:
            case = session.get(Case, case_id)
            assert case is not None
            workflow, last = case.workflow_key, case.opened_at
        self.walked[workflow] += 1
        plan = PLANS[workflow]
        history: list[str] = ["open"]
        for _ in range(plan.max_steps):
            at = last + (self.now - last) * self.rng.uniform(0.03, 0.3)
            if self.rng.random() < 0.12:
                # Recorded late, behind entries already there (legal unless it precedes the
                # case's previous event of the same kind, which the engine refuses).
                at = last - (last - case.opened_at) * self.rng.uniform(0.0, 0.6)
            outcome = self.step(case_id, at, history)
            if outcome is None:
                continue
            if outcome == "final":
                break
            last = max(last, at)
            pending.extend(self.linked_from(case_id))

    def step(self, case_id: int, at: datetime, history: list[str]) -> str | None:
        """Fire one randomly chosen allowed event at `at`; None when every try was refused."""
        for _ in range(ATTEMPTS_PER_STEP):
            with self.sessions() as session:
                case = session.get(Case, case_id)
                assert case is not None
                if not case.is_open:
                    return "final"
                spec = self.spec(case.workflow_key)
                options = [
                    a for a in self.engine.allowed_events(case, self.actor, now=at) if a.allowed
                ]
                if not options:
                    return None
                weights = [self._weight(spec, case.state, a) for a in options]
                chosen = self.rng.choices(options, weights)[0]
                data = self.values(case.workflow_key).event_data(chosen, at, case)
                version, workflow = case.version, case.workflow_key
                session.rollback()
                try:
                    fired = service.fire_event(
                        session,
                        writer=self.writer,
                        actor=self.actor,
                        case_id=case_id,
                        body=EventCreate(
                            event=chosen.event, data=data, occurred_at=at, reason="generated"
                        ),
                        if_match=str(version),
                        idempotency_key=None,
                        now=self.now,
                        ttl=TTL,
                    )
                except DomainError:
                    session.rollback()
                    self.refused[(workflow, chosen.event)] += 1
                    continue
            self.fired[(workflow, chosen.event)] += 1
            self.steps += 1
            history.append(chosen.event)
            self.check(f"{workflow} case {case_id}: {' -> '.join(history)}")
            return "final" if not fired.body["case"]["is_open"] else "moved"
        return None

    @staticmethod
    def _weight(spec: PathwaySpec, state: str, allowed: AllowedEvent) -> float:
        if allowed.dest in EXITS:
            return EXIT_WEIGHT
        if allowed.dest == state:
            return INTERNAL_WEIGHT
        return FORWARD_WEIGHT

    def linked_from(self, case_id: int) -> list[int]:
        """Cases an effect of the last event opened and linked to this one (to walk too)."""
        with self.sessions() as session:
            targets = session.execute(
                select(CaseLink.to_case_id).where(CaseLink.from_case_id == case_id)
            ).scalars()
            new = [t for t in targets if t not in self.cases]
        for target in new:
            self.cases.append(target)
            with self.sessions() as session:
                opened = session.get(Case, target)
                assert opened is not None
                self.fired[(opened.workflow_key, "open")] += 1
        return new


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
        user = add_user(
            session, username=name, display_name=name, organisation=ORG, roles=sorted(roles)
        )
        return Actor(user.id, name, ORG, frozenset(roles))


@pytest.fixture(scope="module")
def journeys(own_sessions: sessionmaker[Session], backend: str) -> Journeys:
    # The fixtures `engine` and `writer` are per test and bound to the shared database's
    # settings; the read models need only the code lists and configuration, built here once.
    from app.codelists.checks import code_checker
    from app.composition import build_catalogue, workflows

    codes = CodeSetRegistry.from_directory(PROJECT_ROOT / "pathways" / "codelists")
    engine = Engine(
        build_catalogue(workflows(), PROJECT_ROOT / "pathways"), code_check=code_checker(codes)
    )
    writer = writer_for(engine)
    roles = {r for loaded in engine.catalogue.all() for t in loaded.spec.transitions for r in t.roles}
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
    for workflow in sorted(PLANS):
        run.run(workflow)
    took = time.monotonic() - began
    print(
        f"\n[{backend}] seed {SEED}: {len(run.cases)} cases, {run.steps} changes, "
        f"{sum(run.refused.values())} refused, {run.checks} checks, {took:.1f}s"
    )
    return run


# -- the tests -----------------------------------------------------------------------------------
def test_every_change_of_every_workflow_keeps_every_read_model_equal_to_the_derivation(
    journeys: Journeys,
) -> None:
    # The walks themselves asserted `check() == []` after every accepted change.
    assert journeys.checks == journeys.steps
    by_workflow = Counter(w for w, _ in journeys.fired.elements())
    for workflow, plan in PLANS.items():
        assert journeys.walked[workflow] >= plan.journeys, workflow
        assert by_workflow[workflow] >= 3 * plan.journeys, (workflow, by_workflow)
    assert sum(journeys.refused.values()) > 0, "refusals must occur and leave nothing behind"


def test_the_journeys_fire_the_triggers_of_every_pathway(journeys: Journeys) -> None:
    report = []
    failed = []
    for workflow in PLANS:
        triggers = {t.trigger for t in journeys.spec(workflow).transitions}
        fired = {e for (w, e) in journeys.fired if w == workflow} & triggers
        never = sorted(triggers - fired)
        share = len(fired) / len(triggers)
        report.append(f"{workflow}: {len(fired)}/{len(triggers)} never fired {never}")
        if share < MIN_TRIGGER_COVERAGE:
            failed.append(workflow)
    print("\n" + "\n".join(report))
    assert not failed, f"too few triggers fired (seed {SEED}): " + "; ".join(report)
