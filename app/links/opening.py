"""Opening a case linked to another, inside the caller's unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.repository import CaseRepository
from app.cases.sharing import share_with_journey
from app.clocks.repository import ClockRepository
from app.clocks.service import ClockService
from app.engine.engine import Engine, OpenCommand
from app.links.repository import LinkRepository
from app.models import Case, CaseLink


def open_linked(
    session: Session,
    *,
    engine: Engine,
    actor: Actor,
    source: Case,
    workflow: str,
    link_type: str,
    site: str | None,
    data: dict[str, Any],
    occurred_at: datetime | None,
    reason: str | None,
    now: datetime,
) -> Case:
    """Open a case on `workflow` for the same patient and link it to `source` (in the caller's
    unit of work). Used by the API and by pathway effects."""
    cases = CaseRepository(session)
    target = engine.open_case(
        OpenCommand(
            workflow,
            actor,
            actor.organisation,
            site or source.site,
            source.patient_ref,
            data,
            occurred_at,
            reason,
        ),
        now=now,
        store=cases,
        clocks=ClockService(ClockRepository(session), now=now),
    )
    share_with_journey(session, source_id=source.id, target=target, now=now, by=actor.username)
    LinkRepository(session).add(
        CaseLink(
            from_case_id=source.id,
            to_case_id=target.id,
            link_type=link_type,
            created_at=now,
            created_by_id=actor.user_id,
            created_by=actor.username,
        )
    )
    return target
