"""Running a demo journey through the real service layer, with backdated clinical times."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases import service as cases
from app.cases.schemas import CaseCreate, EventCreate
from app.cases.transition import CaseWriter
from app.db import UnitOfWork
from app.engine.engine import Command, OpenCommand

TTL = timedelta(hours=24)
REASON = "demo data: recorded after the fact"
Step = tuple[str, dict[str, Any], timedelta]


@dataclass(frozen=True)
class Plan:
    workflow: str
    site: str | None  # None: a case of no site (a CHC referral)
    opened_ago: timedelta
    data: dict[str, Any]
    patient_ref: str | None = None
    steps: list[Step] = field(default_factory=list)
    # Fired on every case an effect of a step opens and links to this one (by `run_history`).
    linked_steps: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class History:
    """A queue's past for the demo: many journeys, run together by `run_history`."""

    plans: list[Plan]


def run_plan(session: Session, writer: CaseWriter, actor: Actor, plan: Plan, now: datetime) -> int:
    created = cases.create_case(
        session,
        writer=writer,
        actor=actor,
        body=CaseCreate(
            workflow=plan.workflow,
            site=plan.site,
            patient_ref=plan.patient_ref,
            data=plan.data,
            occurred_at=now - plan.opened_ago,
            reason=REASON,
        ),
        idempotency_key=None,
        now=now,
        ttl=TTL,
    )
    case_id, version = created.body["id"], created.body["version"]
    for event, data, ago in plan.steps:
        fired = cases.fire_event(
            session,
            writer=writer,
            actor=actor,
            case_id=case_id,
            body=EventCreate(
                event=event,
                data=data,
                occurred_at=now - ago,
                reason=REASON,
            ),
            if_match=f'"{version}"',
            idempotency_key=None,
            now=now,
            ttl=TTL,
        )
        version = fired.body["case"]["version"]
    return int(case_id)


def run_history(
    session: Session,
    writer: CaseWriter,
    actor: Actor,
    plans: list[Plan],
    now: datetime,
) -> list[int]:
    """Many journeys (a demo queue's past: hundreds of cases) in one transaction, through the
    case writer: the same engine checks, effects and read models as `run_plan`, without a
    response and a commit per event, which would make the demo slow to load."""
    ids = []
    with UnitOfWork(session):
        for plan in plans:
            case = writer.open(
                session,
                OpenCommand(
                    plan.workflow,
                    actor,
                    actor.organisation,
                    plan.site,
                    plan.patient_ref,
                    plan.data,
                    now - plan.opened_ago,
                    REASON,
                ),
                now=now,
            )
            for event, data, ago in plan.steps:
                cmd = Command(event, actor, data, now - ago, REASON)
                fired = writer.fire(session, case.id, cmd, now=now)
                for linked in fired.opened_linked:
                    for then, more, later in plan.linked_steps:
                        cmd = Command(then, actor, more, now - later, REASON)
                        writer.fire(session, linked, cmd, now=now)
            ids.append(case.id)
    return ids
