"""The assessor work queue (issue 4 §7): ordered by RAG, then waiting time; atomic claims.

Ordering: the queue colour (a manual override replaces the computed colour) red, amber, green;
then the longest wait since the referral; then the case number. Claims are leases that lapse
after the configured time (`pathways/config/chc-local.yaml`); a lapsed claim is free to take.
Every claim, release, reassignment and lapse is written to the append-only claim log.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.chc.config import ChcConfig
from app.chc.errors import (
    ASSESSOR_ROLES,
    READ_ROLES,
    ClaimLimitReached,
    NotChcCase,
    NotClaimed,
    NotClaimHolder,
    QueueEmpty,
    require_role,
)
from app.chc.repository import ChcRepository
from app.chc.schemas import ClaimRead, OverrideRead, QueueItem, QueueRead, RagReasonRead
from app.chc.worklist import refresh, worklist_states
from app.db import UnitOfWork
from app.engine.engine import Engine
from app.errors import ValidationFailed
from app.models import Case, ChcClaimLog, ChcWorkItem
from app.timeutil import LONDON

ORDERING = (
    "Red before Amber before Green (a manual override, with its reason, replaces the computed "
    "colour); within a colour the longest wait since referral first; then the lower case number."
)


def queue_item(item: ChcWorkItem, case: Case, now: datetime, position: int | None) -> QueueItem:
    referral = item.waiting_since.astimezone(LONDON).date()
    waiting = (now.astimezone(LONDON).date() - referral).days
    override = (
        OverrideRead(
            rag=item.override_rag,
            reason=item.override_reason or "",
            by=item.override_by or "",
            at=item.override_at,
        )
        if item.override_rag and item.override_at
        else None
    )
    claim = None
    if item.claimed_by and item.claimed_at and item.claim_expires_at:
        claim = ClaimRead(
            assessor=item.claimed_by,
            claimed_at=item.claimed_at,
            expires_at=item.claim_expires_at,
            expired=item.claim_expires_at <= now,
        )
    colour = item.rag.capitalize()
    why = (
        f"{colour} (overridden from {item.computed_rag.capitalize()} by {override.by}: "
        f"{override.reason})"
        if override
        else f"{colour} ({'; '.join(r['text'] for r in item.reasons)})"
    )
    place = f"#{position}: " if position is not None else ""
    return QueueItem(
        position=position,
        case_id=case.id,
        state=case.state,
        patient_ref=case.patient_ref,
        person_name=case.attributes.get("person_name"),
        cohort=item.cohort,
        responsible_body=item.responsible_body,
        rag=item.rag,
        computed_rag=item.computed_rag,
        reasons=[RagReasonRead(**r) for r in item.reasons],
        override=override,
        ruleset_version=item.ruleset_version,
        referral_date=referral,
        waiting_days=waiting,
        claim=claim,
        ordering=f"{place}{why}; then {waiting} days waiting since referral on {referral}; "
        f"then case {case.id}",
    )


def list_queue(
    session: Session,
    *,
    engine: Engine,
    actor: Actor,
    now: datetime,
    cohort: str | None,
    rag: str | None,
    unclaimed_only: bool,
    limit: int,
) -> QueueRead:
    require_role(actor, READ_ROLES, "reading the CHC queue")
    states = worklist_states(engine)
    repo = ChcRepository(session)
    with UnitOfWork(session):
        rows = repo.queue(actor.organisation, states, cohort=cohort, rag=rag)
    items = [
        (w, c) for w, c in rows if not unclaimed_only or w.claimed_by_id is None or _lapsed(w, now)
    ]
    out = [queue_item(w, c, now, n) for n, (w, c) in enumerate(items[:limit], start=1)]
    return QueueRead(ordering=ORDERING, states=list(states), count=len(items), items=out)


def my_claims(session: Session, *, actor: Actor, now: datetime) -> list[QueueItem]:
    """The caller's live claims (lapsed ones are free to take, so they are not listed)."""
    require_role(actor, READ_ROLES, "reading the CHC queue")
    repo = ChcRepository(session)
    with UnitOfWork(session):
        held = repo.active_claims(actor.organisation, actor.user_id, now)
        cases = {c.id: c for c in (session.get(Case, h.case_id) for h in held) if c is not None}
        return [queue_item(h, cases[h.case_id], now, None) for h in held if h.case_id in cases]


def claim_next(
    session: Session, *, engine: Engine, cfg: ChcConfig, actor: Actor, now: datetime
) -> QueueItem:
    """Hand the caller the next unclaimed case, atomically (never one case to two people)."""
    require_role(actor, ASSESSOR_ROLES, "claiming from the CHC queue")
    states = worklist_states(engine)
    repo = ChcRepository(session)
    with UnitOfWork(session):
        # Commits by itself when it re-rated; otherwise the claim goes on in the same transaction.
        rate_for_the_day(repo, cfg, organisation=actor.organisation, now=now)
        repo.lock_user(actor.user_id)
        held = repo.active_claims(actor.organisation, actor.user_id, now)
        limit = cfg.local.claims.max_active_per_assessor
        if len(held) >= limit:
            raise ClaimLimitReached(
                f"you already hold {len(held)} claim(s) (limit {limit}); "
                "release one or finish the work first",
                held_case_ids=[h.case_id for h in held],
            )
        found = None
        for _attempt in range(3):  # a row claimed since this statement's snapshot is skipped
            found = repo.next_claimable(actor.organisation, states, now)
            if found is not None:
                break
        if found is None:
            raise QueueEmpty("no unclaimed case is waiting in your organisation's CHC queue")
        item, case = found
        if item.claimed_by_id is not None:
            _log(repo, item, "expired", item.claimed_by_id, item.claimed_by, "system", now)
        _take(item, actor.user_id, actor.username, now, now + cfg.local.claims.ttl_delta)
        _log(repo, item, "claimed", actor.user_id, actor.username, actor.username, now)
        result = queue_item(item, case, now, None)
    return result


# -- the day's re-rating before a claim ---------------------------------------------------------
# Every change to a case's facts re-rates its work item in the same transaction (the read model
# in `app.chc.readmodel`). A rating also depends on the London date (days waiting): the scheduler
# re-rates every open case once a day, and so does the first claim of a London date (and rule
# set) in each process, in case the scheduler has not run yet. Reads never re-rate.


@dataclass(frozen=True)
class _Rated:
    day: date
    rules: tuple[str, str]


_RATED: weakref.WeakKeyDictionary[Any, dict[str, _Rated]] = weakref.WeakKeyDictionary()
_RATED_LOCK = threading.Lock()
_FULL_LOCKS: weakref.WeakKeyDictionary[Any, dict[str, threading.Lock]] = weakref.WeakKeyDictionary()


def rate_for_the_day(
    repo: ChcRepository, cfg: ChcConfig, *, organisation: str, now: datetime
) -> None:
    """Re-rate the organisation's open cases once per London date and rule set per process.

    Commits when it re-rated, so a claim that then fails keeps the new ratings."""
    bind = repo.session.get_bind()
    mark = _Rated(now.astimezone(LONDON).date(), (cfg.rag.version, cfg.local.version))
    if _mark(bind, organisation) == mark:
        return
    # One re-rating at a time per organisation: concurrent claimers wait for it.
    with _full_lock(bind, organisation):
        if _mark(bind, organisation) != mark:
            refresh(repo, cfg, organisation=organisation, now=now)
            repo.session.commit()
            _set_mark(bind, organisation, mark)


def _mark(bind: Any, organisation: str) -> _Rated | None:
    with _RATED_LOCK:
        return _RATED.get(bind, {}).get(organisation)


def _set_mark(bind: Any, organisation: str, mark: _Rated) -> None:
    with _RATED_LOCK:
        _RATED.setdefault(bind, {})[organisation] = mark


def _full_lock(bind: Any, organisation: str) -> threading.Lock:
    with _RATED_LOCK:
        return _FULL_LOCKS.setdefault(bind, {}).setdefault(organisation, threading.Lock())


def release(
    session: Session, *, actor: Actor, case_id: int, reason: str | None, now: datetime
) -> QueueItem:
    require_role(actor, ASSESSOR_ROLES, "releasing a claim")
    repo = ChcRepository(session)
    with UnitOfWork(session):
        item, case = _locked(repo, actor, case_id)
        if item.claimed_by_id is None or _lapsed(item, now):
            raise NotClaimed(f"case {case_id} is not claimed")
        if item.claimed_by_id != actor.user_id and "admin" not in actor.roles:
            raise NotClaimHolder(f"case {case_id} is claimed by {item.claimed_by}")
        _log(
            repo, item, "released", item.claimed_by_id, item.claimed_by, actor.username, now, reason
        )
        item.claimed_by_id = item.claimed_by = item.claimed_at = item.claim_expires_at = None
        result = queue_item(item, case, now, None)
    return result


def reassign(
    session: Session,
    *,
    cfg: ChcConfig,
    actor: Actor,
    case_id: int,
    to: str,
    reason: str,
    now: datetime,
) -> QueueItem:
    """Give the case to another assessor of the same organisation, with a reason."""
    require_role(actor, (*ASSESSOR_ROLES, "admin"), "reassigning a claim")
    repo = ChcRepository(session)
    with UnitOfWork(session):
        item, case = _locked(repo, actor, case_id)
        live = item.claimed_by_id is not None and not _lapsed(item, now)
        if live and item.claimed_by_id != actor.user_id and "admin" not in actor.roles:
            raise NotClaimHolder(
                f"case {case_id} is claimed by {item.claimed_by}; only they (or an admin) may "
                "reassign it"
            )
        target = repo.user_in(actor.organisation, to)
        if target is None or not target.active or "chc_assessor" not in target.role_list:
            raise ValidationFailed(
                f"{to!r} is not an active CHC assessor in {actor.organisation}",
                errors=[{"field": "to", "problem": "not an active chc_assessor here"}],
            )
        _take(item, target.id, target.username, now, now + cfg.local.claims.ttl_delta)
        _log(repo, item, "reassigned", target.id, target.username, actor.username, now, reason)
        result = queue_item(item, case, now, None)
    return result


def _locked(repo: ChcRepository, actor: Actor, case_id: int) -> tuple[ChcWorkItem, Case]:
    item = repo.work_item(case_id, for_update=True)
    case = repo.session.get(Case, case_id)
    if item is None or case is None or case.organisation != actor.organisation:
        raise NotChcCase(f"case {case_id} is not on your organisation's CHC working list")
    return item, case


def _lapsed(item: ChcWorkItem, now: datetime) -> bool:
    return item.claim_expires_at is not None and item.claim_expires_at <= now


def _take(item: ChcWorkItem, user_id: int, username: str, now: datetime, until: datetime) -> None:
    item.claimed_by_id, item.claimed_by = user_id, username
    item.claimed_at, item.claim_expires_at = now, until


def _log(
    repo: ChcRepository,
    item: ChcWorkItem,
    action: str,
    assessor_id: int | None,
    assessor: str | None,
    by: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    repo.session.add(  # flushed with the work item at commit: one flush per claim
        ChcClaimLog(
            case_id=item.case_id,
            organisation=item.organisation,
            action=action,
            assessor_id=assessor_id,
            assessor=assessor,
            by_username=by,
            reason=reason,
            expires_at=item.claim_expires_at if action != "released" else None,
            at=now,
        )
    )
