"""Demo data: users and cases made through the real engine, so every history is legal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.auth.passwords import issue_password, new_password
from app.auth.repository import AuthRepository
from app.auth.service import IssuedToken, add_user, create_token
from app.cases.transition import CaseWriter
from app.chc.config import ChcConfig
from app.demo.chc import load_chc_backlog
from app.demo.chc_history import load_chc_history
from app.demo.plans import History, run_history, run_plan
from app.timeutil import utcnow
from app.workflows.contract import DemoContext, WorkflowSet

DEMO_USER = "demo"
DEMO_ORG = "SEFTON-CTH"  # the care transfer hub, which works across both hospital systems
DEMO_ROLES = [
    "discharge_team",
    "ward_clinician",
    "huddle_chair",
    "ic_coordinator",
    "chc_assessor",
    "chc_decision_maker",  # the CHC history's panel decisions (app/demo/chc_history.py)
    "mh_liaison",
    "manager",
]


# People to sign in as, one for each kind of work, all in the demo organisation: (username,
# name, roles). Their passwords are new at every load and printed once.
DEMO_PEOPLE = (
    ("discharge", "Discharge team member", ["discharge_team", "ward_clinician"]),
    ("huddle", "Huddle chair", ["huddle_chair", "discharge_team"]),
    ("assessor", "CHC assessor", ["chc_assessor"]),
    ("ic", "IC coordinator", ["ic_coordinator", "ic_triager"]),
    ("manager", "Manager", ["manager"]),
    ("admin", "Administrator", ["admin"]),
)

# People of the partner organisations a demo case may send a referral to (the partner directory,
# pathways/config/partners.yaml): (organisation, username, name, roles).
DEMO_PARTNERS = (
    ("LIV-CTH", "hub", "Liverpool hub team member", ["discharge_team"]),
    ("SEFTON-COUNCIL", "council", "Council social worker", ["social_worker"]),
    ("MERSEY-REABLE", "provider", "Reablement provider", ["provider"]),
)


@dataclass(frozen=True)
class DemoSignIn:
    username: str
    roles: list[str]
    password: str = field(repr=False)  # shown once, by the command that loaded the demo
    organisation: str = DEMO_ORG


@dataclass(frozen=True)
class DemoResult:
    token: IssuedToken
    cases_created: int
    organisation: str = DEMO_ORG
    people: list[DemoSignIn] = field(default_factory=list)


def load_demo(
    sessions: sessionmaker[Session],
    writer: CaseWriter,
    workflows: WorkflowSet,
    *,
    chc_cfg: ChcConfig | None = None,
    now: datetime | None = None,
) -> DemoResult:
    """Create the demo user and cases once (with `chc_cfg`, the CHC backlog lists imported
    too); issue a fresh demo token every time."""
    now = now or utcnow()
    created = 0
    with sessions() as session:
        user = AuthRepository(session).user_in(DEMO_ORG, DEMO_USER)
        session.rollback()
        if user is None:
            user = add_user(
                session,
                username=DEMO_USER,
                display_name="Demo user",
                organisation=DEMO_ORG,
                roles=DEMO_ROLES,
            )
            actor = Actor(user.id, user.username, user.organisation, frozenset(user.role_list))
            created = _demo_cases(session, writer, workflows, actor, now)
            if chc_cfg is not None:
                load_chc_backlog(sessions, writer, chc_cfg, actor, now)
                # The backlog's past: cases referred over the last weeks that left it.
                created += load_chc_history(session, writer, chc_cfg, actor, now)
        token = create_token(
            session,
            username=DEMO_USER,
            organisation=DEMO_ORG,
            label="demo",
            expires_in=timedelta(days=30),
        )
        people = [
            _demo_person(session, username, name, roles, now)
            for username, name, roles in DEMO_PEOPLE
        ] + [
            _demo_person(session, username, name, roles, now, organisation=org)
            for org, username, name, roles in DEMO_PARTNERS
        ]
    return DemoResult(token, created, DEMO_ORG, people)


def _demo_person(
    session: Session,
    username: str,
    name: str,
    roles: list[str],
    now: datetime,
    *,
    organisation: str = DEMO_ORG,
) -> DemoSignIn:
    """The demo person (made once) with a fresh password, which need not be changed."""
    if AuthRepository(session).user_in(organisation, username) is None:
        session.rollback()
        add_user(
            session, username=username, display_name=name, organisation=organisation, roles=roles
        )
    session.rollback()
    issued = issue_password(
        session,
        organisation=organisation,
        username=username,
        set_by=None,
        now=now,
        password=new_password(),
    )
    return DemoSignIn(username, roles, issued.password, organisation)


def _demo_cases(
    session: Session, writer: CaseWriter, workflows: WorkflowSet, actor: Actor, now: datetime
) -> int:
    """Every registered workflow's demo journeys, in registration order (a queue's history, many
    journeys, in one transaction)."""
    ctx = DemoContext(session, actor, now)
    plans = [plan for w in workflows if w.demo is not None for plan in w.demo(ctx)]
    created = 0
    for plan in plans:
        if isinstance(plan, History):
            created += len(run_history(session, writer, actor, plan.plans, now))
        else:
            run_plan(session, writer, actor, plan, now)
            created += 1
    return created
