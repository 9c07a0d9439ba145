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

TTL = timedelta(hours=24)
Step = tuple[str, dict[str, Any], timedelta]


@dataclass(frozen=True)
class Plan:
    workflow: str
    site: str
    opened_ago: timedelta
    data: dict[str, Any]
    patient_ref: str | None = None
    steps: list[Step] = field(default_factory=list)


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
            reason="demo data: recorded after the fact",
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
                reason="demo data: recorded after the fact",
            ),
            if_match=f'"{version}"',
            idempotency_key=None,
            now=now,
            ttl=TTL,
        )
        version = fired.body["case"]["version"]
    return int(case_id)
