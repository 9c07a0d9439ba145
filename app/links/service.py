"""The linked-case API use case and reading a case's links."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.repository import CaseRepository
from app.cases.schemas import LinkRead
from app.cases.service import API_PREFIX, case_response, refuse_referral_workflow
from app.cases.transition import CaseWriter
from app.cases.views import link_read
from app.db import UnitOfWork
from app.errors import NotFound
from app.idempotency.repository import IdempotencyRepository
from app.idempotency.service import IdempotencyGuard, StoredResponse, fingerprint
from app.links.repository import LinkRepository
from app.links.schemas import LinkedCaseCreate


def create_linked_case(
    session: Session,
    *,
    writer: CaseWriter,
    actor: Actor,
    case_id: int,
    body: LinkedCaseCreate,
    idempotency_key: str | None,
    now: datetime,
    ttl: timedelta,
) -> StoredResponse:
    refuse_referral_workflow(body.workflow)
    with UnitOfWork(session):
        guard = IdempotencyGuard(
            IdempotencyRepository(session),
            actor_id=actor.user_id,
            key=idempotency_key,
            fingerprint=fingerprint(
                "POST", f"{API_PREFIX}/cases/{case_id}/links", body.model_dump(mode="json")
            ),
            now=now,
            ttl=ttl,
        )
        if (replay := guard.claim()) is not None:
            return replay
        source = CaseRepository(session).get(case_id, for_update=True)
        if source is None:
            raise NotFound(f"case {case_id} not found")
        target = writer.open_linked(
            session,
            actor=actor,
            source=source,
            workflow=body.workflow,
            link_type=body.link_type,
            site=body.site,
            data=body.data,
            occurred_at=body.occurred_at,
            reason=body.reason,
            now=now,
        )
        response = case_response(session, writer.engine, target, actor, now, status=201)
        guard.remember(response)
    return response


def links_for(session: Session, case_id: int, organisation: str) -> list[LinkRead]:
    if CaseRepository(session).get(case_id) is None:
        raise NotFound(f"case {case_id} not found")
    return [
        link_read(case_id, link, other)
        for link, other in LinkRepository(session).for_case(case_id, visible_to_org=organisation)
    ]
