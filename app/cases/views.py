"""Turning ORM rows into response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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


# -- the same shapes as JSON-ready dicts, for the transition hot path ------------------------------
# `TransitionResult(...).model_dump(mode="json")` validates every field and walks the models
# twice; a transition's answer is built straight from the rows instead. Each function returns
# exactly what the pydantic model above would dump (tests/api/test_views_json.py holds them
# to it, field by field).
def iso(value: datetime | None) -> str | None:
    """A date-time as pydantic writes it in JSON: ISO 8601, a zero UTC offset written `Z`."""
    if value is None:
        return None
    text = value.isoformat()
    offset = value.utcoffset()
    if offset is not None and not offset:
        return text[:-6] + "Z"
    return text


def event_dict(e: CaseEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "event": e.event,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "actor": {
            "id": e.actor_id,
            "username": e.actor_username,
            "role": e.actor_role,
            "organisation": e.actor_org,
        },
        "reason": e.reason,
        "data": _json_copy(e.data),
        "occurred_at": iso(e.occurred_at),
        "recorded_at": iso(e.recorded_at),
        "backdated": e.backdated,
        "pathway_version": e.pathway_version,
    }


def clock_dict(c: Clock, now: datetime) -> dict[str, Any]:
    overdue = c.breached_at is not None or (
        c.state == "running" and c.due_at is not None and c.due_at <= now
    )
    return {
        "name": c.name,
        "cycle": c.cycle,
        "state": c.state,
        "started_at": iso(c.started_at),
        "due_at": iso(c.due_at),
        "warn_at": iso(c.warn_at),
        "consumed_seconds": float(c.consumed_seconds),
        "budget_seconds": c.budget_seconds,
        "overdue": overdue,
        "warned_at": iso(c.warned_at),
        "breached_at": iso(c.breached_at),
    }


def link_dict(case_id: int, link: CaseLink, other: Case) -> dict[str, Any]:
    outcome = other.attributes.get("outcome")
    return {
        "link_type": link.link_type,
        "direction": "outgoing" if link.from_case_id == case_id else "incoming",
        "case_id": other.id,
        "workflow": other.workflow_key,
        "state": other.state,
        "is_open": other.is_open,
        "created_at": iso(link.created_at),
        "created_by": link.created_by,
        "outcome": outcome if isinstance(outcome, str) else None,
    }


def case_dict(
    c: Case,
    *,
    clocks: list[Clock],
    allowed: list[AllowedEvent],
    links: list[tuple[CaseLink, Case]],
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": c.id,
        "workflow": c.workflow_key,
        "workflow_version": c.workflow_version,
        "state": c.state,
        "queue": c.queue,
        "is_open": c.is_open,
        "version": c.version,
        "patient_ref": c.patient_ref,
        "organisation": c.organisation,
        "site": c.site,
        "opened_at": iso(c.opened_at),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "closed_at": iso(c.closed_at),
        "attributes": _json_copy(c.attributes),
        "clocks": [clock_dict(k, now) for k in clocks],
        "links": [link_dict(c.id, link, other) for link, other in links],
        "allowed_events": [
            {
                "event": a.event,
                "dest": a.dest,
                "allowed": a.allowed,
                "reasons": list(a.reasons),
                "requires": list(a.requires),
                "accepts": list(a.accepts),
            }
            for a in allowed
        ],
    }


def _json_copy(value: Any) -> Any:
    """A copy of a JSON document (what the model's `dict[str, Any]` dump gives), so the answer
    never shares a list or dict with the row it came from."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_copy(v) for v in value]
    return value
