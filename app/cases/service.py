"""Case use cases. Each runs in one Unit of Work: all of it is committed, or none of it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.facts import CaseFacts
from app.cases.repository import CaseFilter, CaseRepository
from app.cases.schemas import (
    CaseCreate,
    CaseList,
    CaseRead,
    EventCreate,
    EventRead,
)
from app.cases.scope import ScopeRepository
from app.cases.transition import CaseWriter
from app.cases.views import case_dict, case_read, case_summary, event_dict, event_read
from app.clocks.repository import ClockRepository
from app.cursors import decode_cursor, encode_cursor
from app.db import UnitOfWork
from app.engine.engine import Command, Engine, OpenCommand
from app.errors import Conflict, Forbidden, IfMatchInvalid, NotFound, PreconditionRequired
from app.idempotency.repository import IdempotencyRepository
from app.idempotency.service import IdempotencyGuard, KeyRaced, StoredResponse, fingerprint
from app.links.repository import LinkRepository
from app.models import Case, CaseLink

API_PREFIX = "/api/v1"
# Referral tasks (app/referrals) are opened and moved only through the referral routes, which
# tell the referring case of every change in the same transaction.
REFERRAL_WORKFLOW = "referral"


class ReferralTaskConflict(Conflict):
    code, title = "referral_task", "A referral is worked through the referral routes"

    def __init__(self, case_id: int | None = None) -> None:
        where = (
            f"POST {API_PREFIX}/referrals/{case_id}/events"
            if case_id is not None
            else f"POST {API_PREFIX}/cases/{{case_id}}/referrals"
        )
        super().__init__(
            f"a referral is opened and moved only through the referral routes ({where}), so "
            "the case that sent it learns of every change",
            use=where,
        )


def refuse_referral_workflow(workflow: str) -> None:
    """A referral task is never opened by the generic case or link routes."""
    if workflow == REFERRAL_WORKFLOW:
        raise ReferralTaskConflict()


def create_case(
    session: Session,
    *,
    writer: CaseWriter,
    actor: Actor,
    body: CaseCreate,
    idempotency_key: str | None,
    now: datetime,
    ttl: timedelta,
) -> StoredResponse:
    organisation = body.organisation or actor.organisation
    if organisation != actor.organisation:
        raise Forbidden("a case can only be opened for your own organisation")
    refuse_referral_workflow(body.workflow)
    with UnitOfWork(session):
        guard = _guard(
            session,
            actor,
            idempotency_key,
            "POST",
            f"{API_PREFIX}/cases",
            body,
            now,
            ttl,
        )
        if (replay := guard.claim()) is not None:
            return replay
        case = writer.open(
            session,
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
        )
        response = case_response(session, writer.engine, case, actor, now, status=201)
        guard.remember(response)
    return response


def fire_event(
    session: Session,
    *,
    writer: CaseWriter,
    actor: Actor,
    case_id: int,
    body: EventCreate,
    if_match: str | None,
    idempotency_key: str | None,
    now: datetime,
    ttl: timedelta,
    visible_to: str | None = None,
) -> StoredResponse:
    """Fire an event on a case. With `visible_to` (the API passes the caller's organisation), a
    case that organisation neither owns nor has shared with it is not found (404), before
    anything else is checked, as if it did not exist."""
    guard = _guard(
        session,
        actor,
        idempotency_key,
        "POST",
        f"{API_PREFIX}/cases/{case_id}/events",
        body,
        now,
        ttl,
    )
    try:
        return _fire(session, writer, actor, case_id, body, if_match, guard, now, visible_to)
    except KeyRaced:  # a twin with the same key committed first: this one changed nothing
        session.rollback()
        with UnitOfWork(session):
            return guard.answer_after_race()


def _fire(
    session: Session,
    writer: CaseWriter,
    actor: Actor,
    case_id: int,
    body: EventCreate,
    if_match: str | None,
    guard: IdempotencyGuard,
    now: datetime,
    visible_to: str | None,
) -> StoredResponse:
    key = guard.key
    with UnitOfWork(session):
        cases = CaseRepository(session)
        # One statement locks the case, tells whether the caller may see it, and finds the
        # answer to an earlier request with the same key. The lock comes first, so a twin
        # request waits for this one and then finds its answer; a replay never outlives the
        # caller's access to the case.
        locked = cases.lock_for_event(
            case_id,
            body.event,
            visible_to=visible_to,
            idempotency=(actor.user_id, key) if key is not None else None,
        )
        if locked is None or (visible_to is not None and not locked.visible):
            raise NotFound(f"case {case_id} not found")
        if locked.case.workflow_key == REFERRAL_WORKFLOW:
            raise ReferralTaskConflict(case_id)
        expected = parse_if_match(if_match)
        if locked.stored_response_id is not None:
            replay = guard.replay_stored(locked.stored_response_id)
            if replay is not None:
                return replay
        elif key is not None and locked.case.version != expected:
            # A twin with this key may have committed while this request waited for the lock:
            # the lock statement read the keys as they were when it started, so look again.
            replay = guard.replay_committed()
            if replay is not None:
                return replay
        fired = writer.fire(
            session,
            case_id,
            Command(body.event, actor, body.data, body.occurred_at, body.reason, key),
            now=now,
            expected_version=expected,
            locked=locked,
            store=cases,
        )
        case = fired.case
        # The response is built from what the lock read and the transition changed in memory;
        # links are read again only if an effect linked the case to another.
        links = None if fired.opened_linked else fired.locked.links
        result = {
            "case": _read_dict(
                session, writer.engine, case, actor, now, clocks=fired.clocks, links=links
            ),
            "event": event_dict(fired.event),
        }
        response = StoredResponse(200, result, {"ETag": case.etag})
        guard.store(response)
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


# The ETag as `Case.etag` writes it: a strong entity tag holding the version, no leading zero.
_ETAG = re.compile(r'"(0|[1-9][0-9]{0,17})"')  # 18 digits at most: fits BIGINT


def parse_if_match(value: str | None) -> int:
    """The case version an If-Match header names. Missing: 428. Anything but exactly an ETag as
    the service sends it (`"3"`): 412 `if_match_invalid`. If-Match compares strongly (RFC 9110
    13.1.1), so a weak `W/"3"` matches nothing; nor do `3`, `"03"`, `*` or a list; taking them
    as version 3 would let a client that never read the case overwrite it."""
    if value is None:
        raise PreconditionRequired(
            "send If-Match with the case's ETag (from GET /cases/{id}) so updates never collide"
        )
    found = _ETAG.fullmatch(value.strip(" \t"))
    if found is None:
        raise IfMatchInvalid(
            f'If-Match must be exactly the case\'s ETag as sent, e.g. "3"; got {value!r}'
        )
    return int(found.group(1))


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


def _read(
    session: Session,
    engine: Engine,
    case: Case,
    actor: Actor,
    now: datetime,
    *,
    clocks: ClockRepository | None = None,
    links: list[tuple[CaseLink, Case]] | None = None,
) -> CaseRead:
    """The case as the API shows it. After a transition, `clocks` holds the case's clocks as
    read under its lock and changed since, and `links` its links, so neither is read again."""
    if links:  # only linked cases the caller's organisation may see are shown
        visible = ScopeRepository(session).visible_ids([o.id for _, o in links], actor.organisation)
        links = [(link, other) for link, other in links if other.id in visible]
    return case_read(
        case,
        clocks=(clocks or ClockRepository(session)).for_case(case.id),
        allowed=engine.allowed_events(
            case, actor, now=now, facts=CaseFacts(session, engine.catalogue.rules)
        ),
        links=links
        if links is not None
        else LinkRepository(session).for_case(case.id, visible_to_org=actor.organisation),
        now=now,
    )


def _read_dict(
    session: Session,
    engine: Engine,
    case: Case,
    actor: Actor,
    now: datetime,
    *,
    clocks: ClockRepository,
    links: list[tuple[CaseLink, Case]] | None,
) -> dict[str, Any]:
    """`_read(...).model_dump(mode="json")`, built without the pydantic models."""
    if links:  # only linked cases the caller's organisation may see are shown
        visible = ScopeRepository(session).visible_ids([o.id for _, o in links], actor.organisation)
        links = [(link, other) for link, other in links if other.id in visible]
    return case_dict(
        case,
        clocks=clocks.for_case(case.id),
        allowed=engine.allowed_events(
            case, actor, now=now, facts=CaseFacts(session, engine.catalogue.rules)
        ),
        links=links
        if links is not None
        else LinkRepository(session).for_case(case.id, visible_to_org=actor.organisation),
        now=now,
    )


def _guard(
    session: Session,
    actor: Actor,
    key: str | None,
    method: str,
    path: str,
    body: BaseModel,
    now: datetime,
    ttl: timedelta,
) -> IdempotencyGuard:
    # Without a key there is nothing to compare a retry with: skip the fingerprint.
    return IdempotencyGuard(
        IdempotencyRepository(session),
        actor_id=actor.user_id,
        key=key,
        fingerprint=fingerprint(method, path, body.model_dump(mode="json")) if key else "",
        now=now,
        ttl=ttl,
    )
