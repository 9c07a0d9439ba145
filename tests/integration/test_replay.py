"""Replaying each case's events reproduces its stored state, over many generated journeys."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.cases import service
from app.cases.repository import CaseRepository
from app.cases.schemas import CaseCreate, EventCreate
from app.engine.engine import Engine
from app.engine.replay import replay
from app.errors import DomainError
from app.models import Case
from tests.helpers import writer_for

TTL = timedelta(hours=1)
DATA = {
    "triage": [{}, {"triage_note": "seen"}],
    "accept": [{}, {"named_clinician": "Dr Lee"}],
    "decline": [{"triage_note": "not eligible"}],
    "hold": [{"hold_reason": "patient_request"}],
    "complete": [{}, {"outcome": "goals_met"}, {"outcome": "not_met"}],
}


def test_replay_matches_stored_state_for_generated_cases(
    sessions: sessionmaker[Session], engine: Engine, make_user
) -> None:
    rng = random.Random(20261123)  # fixed seed: a failure is reproducible
    user = make_user("discharge_team", "ic_coordinator")
    actor: Actor = user.actor
    start = datetime.now(UTC) - timedelta(days=30)
    case_ids: list[int] = []
    attempts = refused = 0
    with sessions() as session:
        for n in range(120):
            at = start + timedelta(hours=n)
            body = CaseCreate(
                workflow="sample-referral",
                site=rng.choice(["AINTREE", "SOUTHPORT"]),
                data={"priority": rng.choice(["routine", "urgent"])},
                occurred_at=at,
                reason="generated",
            )
            created = service.create_case(
                session,
                writer=writer_for(engine),
                actor=actor,
                body=body,
                idempotency_key=None,
                now=datetime.now(UTC),
                ttl=TTL,
            )
            case_id, version = created.body["id"], 1
            case_ids.append(case_id)
            for step in range(rng.randint(0, 8)):
                case = CaseRepository(session).get(case_id)
                session.rollback()
                assert case is not None
                options = [a.event for a in engine.allowed_events(case, actor, now=at)] + ["accept"]
                event = rng.choice(options)
                data = rng.choice(DATA.get(event, [{}]))
                attempts += 1
                try:
                    fired = service.fire_event(
                        session,
                        writer=writer_for(engine),
                        actor=actor,
                        case_id=case_id,
                        body=EventCreate(
                            event=event,
                            data=data,
                            reason="generated",
                            occurred_at=at + timedelta(minutes=10 * (step + 1)),
                        ),
                        if_match=f'"{version}"',
                        idempotency_key=None,
                        now=datetime.now(UTC),
                        ttl=TTL,
                    )
                    version = fired.body["case"]["version"]
                except DomainError:
                    refused += 1  # guard refusals and invalid picks must leave no trace
        cases = session.execute(select(Case).where(Case.id.in_(case_ids))).scalars().all()
        assert len(cases) == 120
        for case in cases:
            events = CaseRepository(session).events(case.id)
            projection = replay(engine.catalogue, events)
            assert projection.problems == []
            assert (
                projection.state,
                projection.version,
                projection.queue,
                projection.is_open,
                projection.closed_at,
                projection.attributes,
            ) == (
                case.state,
                case.version,
                case.queue,
                case.is_open,
                case.closed_at,
                case.attributes,
            ), f"case {case.id}"
    assert attempts > 300
    assert 0 < refused < attempts
    states = {c.state for c in cases}
    assert {"received", "completed", "withdrawn"} <= states
