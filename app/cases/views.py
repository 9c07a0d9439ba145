"""Turning ORM rows into response shapes."""

from __future__ import annotations

from datetime import datetime

from app.cases.schemas import (
    ActorRead,
    AllowedEventRead,
    CaseRead,
    CaseSummary,
    ClockRead,
    EventRead,
    LinkRead,
)
from app.engine.engine import AllowedEvent
from app.models import Case, CaseEvent, CaseLink, Clock


def event_read(e: CaseEvent) -> EventRead:
    return EventRead(
        seq=e.seq,
        event=e.event,
        from_state=e.from_state,
        to_state=e.to_state,
        actor=ActorRead(
            id=e.actor_id, username=e.actor_username, role=e.actor_role, organisation=e.actor_org
        ),
        reason=e.reason,
        data=e.data,
        occurred_at=e.occurred_at,
        recorded_at=e.recorded_at,
        backdated=e.backdated,
        pathway_version=e.pathway_version,
    )


def clock_read(c: Clock, now: datetime) -> ClockRead:
    # "Overdue" comes from the stored budget, not from the sweeper, so it is right even when
    # the sweeper is late.
    overdue = c.breached_at is not None or (
        c.state == "running" and c.due_at is not None and c.due_at <= now
    )
    return ClockRead(
        name=c.name,
        cycle=c.cycle,
        state=c.state,
        started_at=c.started_at,
        due_at=c.due_at,
        warn_at=c.warn_at,
        consumed_seconds=c.consumed_seconds,
        budget_seconds=c.budget_seconds,
        overdue=overdue,
        warned_at=c.warned_at,
        breached_at=c.breached_at,
    )


def case_summary(c: Case) -> CaseSummary:
    return CaseSummary(
        id=c.id,
        workflow=c.workflow_key,
        workflow_version=c.workflow_version,
        state=c.state,
        queue=c.queue,
        is_open=c.is_open,
        version=c.version,
        patient_ref=c.patient_ref,
        organisation=c.organisation,
        site=c.site,
        opened_at=c.opened_at,
        updated_at=c.updated_at,
    )


def link_read(case_id: int, link: CaseLink, other: Case) -> LinkRead:
    outcome = other.attributes.get("outcome")
    return LinkRead(
        link_type=link.link_type,
        direction="outgoing" if link.from_case_id == case_id else "incoming",
        case_id=other.id,
        workflow=other.workflow_key,
        state=other.state,
        is_open=other.is_open,
        created_at=link.created_at,
        created_by=link.created_by,
        outcome=outcome if isinstance(outcome, str) else None,
    )


def case_read(
    c: Case,
    *,
    clocks: list[Clock],
    allowed: list[AllowedEvent],
    links: list[tuple[CaseLink, Case]],
    now: datetime,
) -> CaseRead:
    return CaseRead(
        **case_summary(c).model_dump(),
        created_at=c.created_at,
        closed_at=c.closed_at,
        attributes=c.attributes,
        clocks=[clock_read(k, now) for k in clocks],
        links=[link_read(c.id, link, other) for link, other in links],
        allowed_events=[AllowedEventRead(**a.__dict__) for a in allowed],
    )
