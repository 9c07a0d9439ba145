"""Demo data: users and cases made through the real engine, so every history is legal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.auth.repository import AuthRepository
from app.auth.service import IssuedToken, add_user, create_token
from app.cases import service as cases
from app.cases.schemas import CaseCreate, EventCreate
from app.engine.engine import Engine
from app.timeutil import utcnow

DEMO_USER = "demo"
DEMO_ORG = "SEFTON-CTH"  # the care transfer hub, which works across both hospital systems
DEMO_ROLES = [
    "discharge_team",
    "ward_clinician",
    "huddle_chair",
    "ic_coordinator",
    "chc_assessor",
    "mh_liaison",
    "manager",
]
TTL = timedelta(hours=24)


@dataclass(frozen=True)
class DemoResult:
    token: IssuedToken
    cases_created: int


def load_demo(
    sessions: sessionmaker[Session], engine: Engine, *, now: datetime | None = None
) -> DemoResult:
    """Create the demo user and cases once; issue a fresh demo token every time."""
    now = now or utcnow()
    created = 0
    with sessions() as session:
        user = AuthRepository(session).user_by_username(DEMO_USER)
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
            created = _sample_referrals(session, engine, actor, now)
        token = create_token(
            session, username=DEMO_USER, label="demo", expires_in=timedelta(days=30)
        )
    return DemoResult(token, created)


def _sample_referrals(session: Session, engine: Engine, actor: Actor, now: datetime) -> int:
    plans: list[tuple[str, str, int, list[tuple[str, dict[str, Any], int]]]] = [
        # (site, priority, hours ago opened, [(event, data, hours ago)])
        ("AINTREE", "urgent", 1, []),
        ("SOUTHPORT", "routine", 30, [("triage", {"triage_note": "Needs reablement"}, 29)]),
        (
            "SOUTHPORT",
            "urgent",
            50,
            [
                ("triage", {}, 49),
                ("accept", {"named_clinician": "Dr A Patel"}, 48),
            ],
        ),
        (
            "AINTREE",
            "routine",
            24 * 20,
            [
                ("triage", {}, 24 * 20 - 1),
                ("accept", {}, 24 * 19),
                ("hold", {"hold_reason": "patient_in_hospital"}, 24 * 10),
            ],
        ),
        (
            "SOUTHPORT",
            "routine",
            24 * 12,
            [
                ("triage", {}, 24 * 12 - 1),
                ("accept", {}, 24 * 11),
                ("complete", {"outcome": "goals_met"}, 24 * 2),
            ],
        ),
    ]
    for site, priority, opened_ago, steps in plans:
        response = cases.create_case(
            session,
            engine=engine,
            actor=actor,
            body=CaseCreate(
                workflow="sample-referral",
                site=site,
                data={"priority": priority},
                occurred_at=now - timedelta(hours=opened_ago),
                reason="demo data: referral received earlier",
            ),
            idempotency_key=None,
            now=now,
            ttl=TTL,
        )
        case_id, version = response.body["id"], response.body["version"]
        for event, data, ago in steps:
            response = cases.fire_event(
                session,
                engine=engine,
                actor=actor,
                case_id=case_id,
                body=EventCreate(
                    event=event,
                    data=data,
                    occurred_at=now - timedelta(hours=ago),
                    reason="demo data: recorded after the fact",
                ),
                if_match=str(version),
                idempotency_key=None,
                now=now,
                ttl=TTL,
            )
            version = response.body["case"]["version"]
    return len(plans)
