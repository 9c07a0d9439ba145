"""CHC case reads, indicative Checklist/DST results, and the audited RAG override."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.chc.checklist import ChecklistIncomplete, ChecklistOutcome, evaluate_checklist
from app.chc.config import COLOUR_RANK, ChcConfig
from app.chc.dst import DstIncomplete, DstOutcome, evaluate_dst
from app.chc.errors import ASSESSOR_ROLES, READ_ROLES, NotChcCase, require_role
from app.chc.queue import queue_item
from app.chc.read_repository import ChcReadRepository
from app.chc.reconciliation import item_read
from app.chc.repository import ChcRepository
from app.chc.schemas import (
    ChcCaseRead,
    ClaimLogRead,
    FiredRuleRead,
    IndicativeRead,
    OverrideAuditRead,
    OverrideRequest,
    QueueItem,
    RagHistoryRead,
    RagReasonRead,
    RatingRead,
    SourceRecordRead,
)
from app.chc.worklist import refresh
from app.db import UnitOfWork
from app.errors import ValidationFailed
from app.models import Case, ChcRagOverride


def checklist_read(outcome: ChecklistOutcome, cfg: ChcConfig) -> IndicativeRead:
    return IndicativeRead(
        tool="checklist",
        result=outcome.result,
        summary=outcome.summary,
        fired=[FiredRuleRead(id=f.id, text=f.text) for f in outcome.fired],
        table_version=cfg.tools.version,
        provisional=cfg.tools.status == "provisional",
    )


def dst_read(outcome: DstOutcome, cfg: ChcConfig) -> IndicativeRead:
    return IndicativeRead(
        tool="dst",
        result=outcome.result,
        summary=outcome.summary,
        fired=[FiredRuleRead(id=f.id, text=f.text) for f in outcome.fired],
        table_version=cfg.tools.version,
        provisional=cfg.tools.status == "provisional",
    )


def indicative_checklist(scores: dict[str, str | None], cfg: ChcConfig) -> IndicativeRead:
    try:
        return checklist_read(evaluate_checklist(scores, cfg.tools.checklist), cfg)
    except ChecklistIncomplete as exc:
        raise ValidationFailed(
            "the Checklist is incomplete",
            errors=[{"field": "scores", "problem": p} for p in exc.problems],
        ) from None


def indicative_dst(levels: dict[str, str | None], cfg: ChcConfig) -> IndicativeRead:
    try:
        return dst_read(evaluate_dst(levels, cfg.tools.dst), cfg)
    except DstIncomplete as exc:
        raise ValidationFailed(
            "the DST is incomplete",
            errors=[{"field": "levels", "problem": p} for p in exc.problems],
        ) from None


def case_indicatives(
    attributes: dict[str, Any], cfg: ChcConfig
) -> tuple[IndicativeRead | None, IndicativeRead | None]:
    """The case's Checklist and DST indicative results, when every domain is recorded."""
    fact: Callable[[str], Any] = attributes.get
    checklist = dst = None
    scores = {d.key: fact(f"checklist_{d.key}") for d in cfg.tools.checklist.domains}
    if all(scores.values()):
        checklist = checklist_read(evaluate_checklist(scores, cfg.tools.checklist), cfg)
    levels = {d.key: fact(f"dst_{d.key}") for d in cfg.tools.dst.domains}
    if all(levels.values()):
        dst = dst_read(evaluate_dst(levels, cfg.tools.dst), cfg)
    return checklist, dst


def _chc_case(repo: ChcRepository, actor: Actor, case_id: int) -> Case:
    case = repo.session.get(Case, case_id)
    if case is None or case.workflow_key != "chc" or case.organisation != actor.organisation:
        raise NotChcCase(f"CHC case {case_id} not found in {actor.organisation}")
    return case


def get_case(
    session: Session, *, cfg: ChcConfig, actor: Actor, case_id: int, now: datetime
) -> ChcCaseRead:
    require_role(actor, READ_ROLES, "reading a CHC case")
    repo = ChcRepository(session)
    with UnitOfWork(session):
        case = _chc_case(repo, actor, case_id)
        item = repo.work_item(case_id)
        checklist, dst = case_indicatives(case.attributes, cfg)
        read = ChcCaseRead(
            case_id=case.id,
            state=case.state,
            version=case.version,
            patient_ref=case.patient_ref,
            organisation=case.organisation,
            attributes=case.attributes,
            work_item=queue_item(item, case, now, None) if item else None,
            checklist=checklist,
            dst=dst,
            provenance=[
                SourceRecordRead(
                    source_list=r.source_list,
                    source_record_id=r.source_record_id,
                    row_number=r.row_number,
                    import_id=r.import_id,
                    match_rule=r.match_rule,
                    values=r.values,
                    recorded_at=r.recorded_at,
                )
                for r in repo.source_records_for_case(case_id)
            ],
            reconciliation=[
                item_read(repo, i)
                for i in repo.reconciliation_items(actor.organisation, None, case_id, 500)
            ],
        )
    return read


def override_rag(
    session: Session,
    *,
    cfg: ChcConfig,
    actor: Actor,
    case_id: int,
    body: OverrideRequest,
    now: datetime,
) -> QueueItem:
    """Set (or clear, with `rag: null`) a manual colour. Always with a reason; always audited."""
    role = require_role(actor, ASSESSOR_ROLES, "overriding a RAG rating")
    repo = ChcRepository(session)
    with UnitOfWork(session):
        case = _chc_case(repo, actor, case_id)
        refresh(repo, cfg, organisation=actor.organisation, now=now, case_ids=[case_id])
        item = repo.work_item(case_id, for_update=True)
        if item is None or not case.is_open:
            raise NotChcCase(f"case {case_id} is not on the open working list")
        repo.add(
            ChcRagOverride(
                case_id=case_id,
                rag=body.rag,
                previous_rag=item.rag,
                computed_rag=item.computed_rag,
                reason=body.reason,
                actor_id=actor.user_id,
                actor_username=actor.username,
                actor_role=role,
                recorded_at=now,
            )
        )
        effective = body.rag or item.computed_rag
        item.override_rag = body.rag
        item.override_reason = body.reason if body.rag else None
        item.override_by = actor.username if body.rag else None
        item.override_at = now if body.rag else None
        item.rag, item.rag_rank = effective, COLOUR_RANK[effective]
        item.rating_seq += 1  # a refresh that read the old row must not overwrite `rag`
        result = queue_item(item, case, now, None)
    return result


def rag_history(session: Session, *, actor: Actor, case_id: int) -> RagHistoryRead:
    require_role(actor, READ_ROLES, "reading RAG history")
    repo = ChcRepository(session)
    reads = ChcReadRepository(session)
    with UnitOfWork(session):
        _chc_case(repo, actor, case_id)
        return RagHistoryRead(
            case_id=case_id,
            ratings=[
                RatingRead(
                    rag=r.rag,
                    reasons=[RagReasonRead(**x) for x in r.reasons],
                    ruleset_version=r.ruleset_version,
                    cohort=r.cohort,
                    rated_at=r.rated_at,
                )
                for r in reads.ratings(case_id)
            ],
            overrides=[
                OverrideAuditRead(
                    rag=o.rag,
                    previous_rag=o.previous_rag,
                    computed_rag=o.computed_rag,
                    reason=o.reason,
                    by=o.actor_username,
                    role=o.actor_role,
                    at=o.recorded_at,
                )
                for o in reads.overrides(case_id)
            ],
            claims=[
                ClaimLogRead(
                    action=c.action,
                    assessor=c.assessor,
                    by=c.by_username,
                    reason=c.reason,
                    expires_at=c.expires_at,
                    at=c.at,
                )
                for c in reads.claim_log(case_id)
            ],
        )
