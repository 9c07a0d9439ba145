"""The reconciliation queue: values on which two lists disagree, settled by a person (§7.10).

Keeping the current value writes no case event (the item records who chose and why); taking
the incoming value changes the case through the engine, with one `update_details` event (or
`fast_track` when a list flags Fast Track), so the case history shows the correction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.repository import CaseRepository
from app.cases.transition import CaseWriter
from app.chc.errors import (
    ASSESSOR_ROLES,
    READ_ROLES,
    AlreadyResolved,
    NotChcCase,
    require_role,
)
from app.chc.repository import ChcRepository
from app.chc.schemas import ReconciliationItemRead, ReconciliationList, ResolveRequest
from app.db import UnitOfWork
from app.engine.engine import Command
from app.errors import Conflict
from app.models import Case, ChcReconciliationItem, ChcSourceRecord


def item_read(repo: ChcRepository, item: ChcReconciliationItem) -> ReconciliationItemRead:
    record = repo.source_record(item.source_record_pk)
    assert record is not None  # noqa: S101 - a foreign key guarantees it
    return ReconciliationItemRead(
        id=item.id,
        case_id=item.case_id,
        field=item.field,
        current_value=item.current_value,
        incoming_value=item.incoming_value,
        source_list=record.source_list,
        source_record_id=record.source_record_id,
        row_number=record.row_number,
        status=item.status,
        resolution=item.resolution,
        resolution_note=item.resolution_note,
        resolved_by=item.resolved_by,
        resolved_at=item.resolved_at,
        created_at=item.created_at,
    )


def list_items(
    session: Session, *, actor: Actor, status: str | None, case_id: int | None, limit: int
) -> ReconciliationList:
    require_role(actor, READ_ROLES, "reading the reconciliation queue")
    repo = ChcRepository(session)
    with UnitOfWork(session):
        items = repo.reconciliation_items(actor.organisation, status, case_id, limit)
        out = [item_read(repo, i) for i in items]
    return ReconciliationList(count=len(out), items=out)


def resolve(
    session: Session,
    *,
    writer: CaseWriter,
    actor: Actor,
    item_id: int,
    body: ResolveRequest,
    now: datetime,
) -> ReconciliationItemRead:
    require_role(actor, ASSESSOR_ROLES, "resolving a reconciliation item")
    repo = ChcRepository(session)
    with UnitOfWork(session):
        item = repo.reconciliation_item(item_id, actor.organisation, for_update=True)
        if item is None:
            raise NotChcCase(f"reconciliation item {item_id} not found")
        if item.status != "open":
            raise AlreadyResolved(
                f"item {item_id} was resolved by {item.resolved_by} ({item.resolution})",
                resolution=item.resolution,
            )
        if body.resolution == "use_incoming":
            _apply_incoming(session, repo, writer, actor, item, body.note, now)
        item.status, item.resolution = "resolved", body.resolution
        item.resolution_note, item.resolved_by, item.resolved_at = body.note, actor.username, now
        result = item_read(repo, item)
    return result


def _apply_incoming(
    session: Session,
    repo: ChcRepository,
    writer: CaseWriter,
    actor: Actor,
    item: ChcReconciliationItem,
    note: str | None,
    now: datetime,
) -> None:
    record = repo.source_record(item.source_record_pk)
    cases = CaseRepository(session)
    case = cases.get(item.case_id, for_update=True)
    assert record is not None  # noqa: S101 - a foreign key
    assert case is not None  # noqa: S101 - a foreign key
    if not case.is_open:
        raise Conflict(f"case {case.id} is {case.state}; its facts can no longer change")
    value = record.values.get(item.field)
    why = (
        f"reconciliation item {item.id}: {item.field} from {record.source_list} "
        f"{record.source_record_id}" + (f" ({note})" if note else "")
    )
    if item.field == "fast_track":
        command = _fast_track_command(writer, case, record, value, actor, why)
        writer.fire(session, case.id, command, now=now)
        return
    data = {
        item.field: value,
        "source_list": record.source_list,
        "source_record_id": record.source_record_id,
    }
    writer.fire(session, case.id, Command("update_details", actor, data, None, why), now=now)


def _fast_track_command(
    writer: CaseWriter, case: Case, record: ChcSourceRecord, value: object, actor: Actor, why: str
) -> Command:
    """Taking a list's Fast Track value. From pathway version 2 a list's flag is not a Fast
    Track, which needs the appropriate clinician and their registration: the flag is recorded
    (and rated red) or cleared, and only a case on Fast Track itself cannot be taken off it."""
    loaded = writer.engine.catalogue.get(case.workflow_key, case.workflow_version)
    flags = loaded is not None and "fast_track_flagged" in loaded.spec.fields
    if value is not True and (case.attributes.get("fast_track") or not flags):
        raise Conflict("a Fast Track case cannot be taken off Fast Track by reconciliation")
    if flags:
        data = {
            "fast_track_flagged": value is True,
            "source_list": record.source_list,
            "source_record_id": record.source_record_id,
        }
        return Command("update_details", actor, data, None, why)
    # Pathway version 1: its Fast Track needs no clinician.
    return Command("fast_track", actor, {"fast_track_reason": why}, None, why)
