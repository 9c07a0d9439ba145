"""Case use cases. Each runs in one Unit of Work: all of it is committed, or none of it."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.effects import CaseEffectPorts
from app.cases.facts import CaseFacts
from app.cases.repository import CaseFilter, CaseRepository
from app.cases.schemas import (
    CaseCreate,
    CaseList,
    CaseRead,
    EventCreate,
    EventRead,
    TransitionResult,
)
from app.cases.views import case_read, case_summary, event_read
from app.clocks.repository import ClockRepository
from app.clocks.service import ClockService
from app.db import UnitOfWork
from app.engine.engine import Command, Engine, OpenCommand
from app.errors import Forbidden, NotFound, PreconditionRequired, StaleCase, ValidationFailed
from app.idempotency.repository import IdempotencyRepository
from app.idempotency.service import IdempotencyGuard, StoredResponse, fingerprint
from app.links.repository import LinkRepository
from app.models import Case

API_PREFIX = "/api/v1"


def create_case(
    session: Session,
    *,
    engine: Engine,
    actor: Actor,
    body: CaseCreate,
    idempotency_key: str | None,
    now: datetime,
    ttl: timedelta,
) -> StoredResponse:
    organisation = body.organisation or actor.organisation
    if organisation != actor.organisation:
        raise Forbidden("a case can only be opened for your own organisation")
    with UnitOfWork(session):
        guard = _guard(
            session,
            actor,
            idempotency_key,
            "POST",
            f"{API_PREFIX}/cases",
            body.model_dump(mode="json"),
            now,
            ttl,
        )
        if (replay := guard.claim()) is not None:
            return replay
        cases = CaseRepository(session)
        clocks = ClockRepository(session)
        case = engine.open_case(
            OpenCommand(
                body.workflow,
                actor,
                organisation,
                body.site,
                body.patient_ref,
                body.data,
                body.occurred_at,
                body.reason,
                idempotency_key,
            ),
            now=now,
            store=cases,
            clocks=ClockService(clocks, now=now),
        )
        response = case_response(session, engine, case, actor, now, status=201)
        guard.remember(response)
    return response


def fire_event(
    session: Session,
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    body: EventCreate,
    if_match: str | None,
    idempotency_key: str | None,
    now: datetime,
    ttl: timedelta,
) -> StoredResponse:
    expected = parse_if_match(if_match)
    with UnitOfWork(session):
        guard = _guard(
            session,
            actor,
            idempotency_key,
            "POST",
            f"{API_PREFIX}/cases/{case_id}/events",
            body.model_dump(mode="json"),
            now,
            ttl,
        )
        if (replay := guard.claim()) is not None:
            return replay
        cases = CaseRepository(session)
        case = cases.get(case_id, for_update=True)
        if case is None:
            raise NotFound(f"case {case_id} not found")
        if case.version != expected:
            raise StaleCase(
                f"the case is at version {case.version}, not {expected}; reload and retry",
                current_version=case.version,
                etag=case.etag,
            )
        clocks = ClockRepository(session)
        event = engine.fire(
            case,
            Command(body.event, actor, body.data, body.occurred_at, body.reason, idempotency_key),
            now=now,
            store=cases,
            clocks=ClockService(clocks, now=now),
            effects=CaseEffectPorts(session, engine, actor, now),
            facts=CaseFacts(session, engine.catalogue.rules),
        )
        result = TransitionResult(
            case=_read(session, engine, case, actor, now), event=event_read(event)
        )
        response = StoredResponse(200, result.model_dump(mode="json"), {"ETag": case.etag})
        guard.remember(response)
    return response


def get_case(
    session: Session, *, engine: Engine, actor: Actor, case_id: int, now: datetime
) -> tuple[CaseRead, str]:
    case = CaseRepository(session).get(case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return _read(session, engine, case, actor, now), case.etag


def list_cases(session: Session, *, flt: CaseFilter, cursor: str | None, limit: int) -> CaseList:
    before_id = decode_cursor(cursor) if cursor else None
    rows = CaseRepository(session).search(flt, before_id=before_id, limit=limit + 1)
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
    return CaseList(items=[case_summary(c) for c in page], next_cursor=next_cursor, limit=limit)


def history(session: Session, *, case_id: int) -> list[EventRead]:
    cases = CaseRepository(session)
    if cases.get(case_id) is None:
        raise NotFound(f"case {case_id} not found")
    return [event_read(e) for e in cases.events(case_id)]


def parse_if_match(value: str | None) -> int:
    if value is None:
        raise PreconditionRequired(
            "send If-Match with the case's ETag (from GET /cases/{id}) so updates never collide"
        )
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise PreconditionRequired(f'If-Match must carry the case\'s ETag, e.g. "3"; got {value!r}')
    return int(text)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "id" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "cursor is not one this service issued", code_hint="bad_cursor"
        ) from None


def case_response(
    session: Session, engine: Engine, case: Case, actor: Actor, now: datetime, *, status: int
) -> StoredResponse:
    """The case as returned after a create: body, ETag and Location."""
    read = _read(session, engine, case, actor, now)
    return StoredResponse(
        status,
        read.model_dump(mode="json"),
        {"ETag": case.etag, "Location": f"{API_PREFIX}/cases/{case.id}"},
    )


def _read(session: Session, engine: Engine, case: Case, actor: Actor, now: datetime) -> CaseRead:
    return case_read(
        case,
        clocks=ClockRepository(session).for_case(case.id),
        allowed=engine.allowed_events(
            case, actor, now=now, facts=CaseFacts(session, engine.catalogue.rules)
        ),
        links=LinkRepository(session).for_case(case.id),
        now=now,
    )


def _guard(
    session: Session,
    actor: Actor,
    key: str | None,
    method: str,
    path: str,
    body: dict[str, Any],
    now: datetime,
    ttl: timedelta,
) -> IdempotencyGuard:
    return IdempotencyGuard(
        IdempotencyRepository(session),
        actor_id=actor.user_id,
        key=key,
        fingerprint=fingerprint(method, path, body),
        now=now,
        ttl=ttl,
    )
