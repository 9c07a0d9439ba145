"""CHC backlog import, provenance, reconciliation, RAG and the assessor work queue.

Append-only (ORM hooks here, database triggers in migration 0003): source-row provenance,
rejected rows, RAG rating history, RAG override audit and the claim log. The work item is a
projection of the case and those logs, rebuilt whenever it is refreshed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, JSONType
from app.models.event import refuse_change

CASE_FK = "cases.id"


# An import job still to run (or to resume): what the runners' claim scans.
_PENDING = "state IN ('queued', 'running')"


class ChcImport(Base):
    """One uploaded source list, and the job that imports it (queued -> running -> done or
    failed). The same file for the same source is imported only once."""

    __tablename__ = "chc_imports"
    __table_args__ = (
        UniqueConstraint("organisation", "source_list", "sha256"),
        Index(
            "ix_chc_imports_pending",
            "id",
            postgresql_where=text(_PENDING),
            sqlite_where=text(_PENDING),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(64))
    source_list: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(32))
    rows_total: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    merged: Mapped[int] = mapped_column(Integer)
    conflicts: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    imported_by_id: Mapped[int] = mapped_column(BigInteger)
    imported_by: Mapped[str] = mapped_column(String(64))
    # When the file was uploaded; its London date is the "today" every row is checked against,
    # so a job resumed on another day reads its rows exactly as the first run did.
    imported_at: Mapped[datetime]
    # -- the job (migration 0011; imports before it are `done`) -----------------------------
    state: Mapped[str] = mapped_column(String(16), server_default="done")
    # The checkpoint: the spreadsheet row the next batch starts at, committed with the batch.
    next_row: Mapped[int] = mapped_column(Integer, server_default="2")
    rows_read: Mapped[int] = mapped_column(Integer, server_default="0")
    # Which runner holds the job, until when (a runner that dies loses it when this passes).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(1000))


class ChcImportChunk(Base):
    """The uploaded file, spooled in pieces until its job is done (then deleted)."""

    __tablename__ = "chc_import_chunks"

    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chc_imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ChcImportReportPart(Base):
    """One batch's entries of one list of an import's report (accepted, merged, conflicts,
    rejected, unchanged, warnings, blank rows), in row order: the report is read back in
    parts, never held whole."""

    __tablename__ = "chc_import_report_parts"
    __table_args__ = (Index("ix_chc_import_report_parts_read", "import_id", "kind", "first_row"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chc_imports.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(16))
    first_row: Mapped[int] = mapped_column(Integer)
    entries: Mapped[list[Any]] = mapped_column(JSONType, default=list)


class ChcSourceRecord(Base):
    """Provenance: one accepted source row, linked to the working-list case it belongs to."""

    __tablename__ = "chc_source_records"
    __table_args__ = (UniqueConstraint("organisation", "source_list", "source_record_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chc_imports.id", ondelete="RESTRICT"), index=True
    )
    organisation: Mapped[str] = mapped_column(String(64))
    source_list: Mapped[str] = mapped_column(String(64))
    source_record_id: Mapped[str] = mapped_column(String(100))
    row_number: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(CASE_FK, ondelete="RESTRICT"), index=True
    )
    # How the row joined its case: new_case, nhs_number or name_dob_postcode.
    match_rule: Mapped[str] = mapped_column(String(32))
    nhs_number: Mapped[str | None] = mapped_column(String(10), index=True)
    match_key: Mapped[str | None] = mapped_column(String(300), index=True)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recorded_at: Mapped[datetime]


class ChcImportRejection(Base):
    """A row that could not be accepted, kept whole with every reason (nothing is dropped)."""

    __tablename__ = "chc_import_rejections"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chc_imports.id", ondelete="RESTRICT"), index=True
    )
    row_number: Mapped[int] = mapped_column(Integer)
    source_record_id: Mapped[str | None] = mapped_column(String(100))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    recorded_at: Mapped[datetime]


class ChcReconciliationItem(Base):
    """A value on which a source row and the working-list case disagree, for a person to settle."""

    __tablename__ = "chc_reconciliation_items"
    __table_args__ = (Index("ix_chc_reconciliation_items_org_status", "organisation", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(CASE_FK, ondelete="RESTRICT"), index=True
    )
    source_record_pk: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chc_source_records.id", ondelete="RESTRICT")
    )
    field: Mapped[str] = mapped_column(String(64))
    current_value: Mapped[str | None] = mapped_column(String(500))
    incoming_value: Mapped[str] = mapped_column(String(500))
    # open | resolved
    status: Mapped[str] = mapped_column(String(16))
    # keep_current | use_incoming
    resolution: Mapped[str | None] = mapped_column(String(32))
    resolution_note: Mapped[str | None] = mapped_column(String(2000))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


# A work item whose case has closed is retired (`retired_at`, set by a trigger on `cases` in
# migration 0007): it keeps its last rating and claim for the record, but drops out of the two
# indexes the claim path reads, so they hold only open cases however long the history grows.
_LIVE = "retired_at IS NULL"
_LIVE_CLAIM = "claimed_by_id IS NOT NULL AND retired_at IS NULL"


class ChcWorkItem(Base):
    """The case's place on the single working list: cohort, current RAG, override, claim."""

    __tablename__ = "chc_work_items"
    __table_args__ = (
        Index("ix_chc_work_items_order", "organisation", "rag_rank", "waiting_since"),
        # The claim scan: items of open cases in exact queue order (case_id breaks ties, so
        # LIMIT 1 reads the first row instead of sorting a day's worth of equal waits).
        Index(
            "ix_chc_work_items_queue",
            "organisation",
            "rag_rank",
            "waiting_since",
            "case_id",
            postgresql_where=text(_LIVE),
            sqlite_where=text(_LIVE),
        ),
        # An assessor's claims on cases still open: the claim limit check.
        Index(
            "ix_chc_work_items_live_claims",
            "claimed_by_id",
            postgresql_where=text(_LIVE_CLAIM),
            sqlite_where=text(_LIVE_CLAIM),
        ),
    )

    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(CASE_FK, ondelete="RESTRICT"), primary_key=True
    )
    organisation: Mapped[str] = mapped_column(String(64))
    cohort: Mapped[str] = mapped_column(String(32))
    responsible_body: Mapped[str | None] = mapped_column(String(100))
    waiting_since: Mapped[datetime]
    computed_rag: Mapped[str] = mapped_column(String(8))
    rule_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    ruleset_version: Mapped[str] = mapped_column(String(64))
    rated_at: Mapped[datetime]
    # Bumped by every change of rating; an UPDATE names the value it read (optimistic lock).
    rating_seq: Mapped[int] = mapped_column(Integer)
    override_rag: Mapped[str | None] = mapped_column(String(8))
    override_reason: Mapped[str | None] = mapped_column(String(2000))
    override_by: Mapped[str | None] = mapped_column(String(64))
    override_at: Mapped[datetime | None]
    # The colour the queue uses (the override when set) and its sort rank (red 0 ... green 2).
    rag: Mapped[str] = mapped_column(String(8))
    rag_rank: Mapped[int] = mapped_column(Integer)
    claimed_by_id: Mapped[int | None] = mapped_column(BigInteger)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    claim_expires_at: Mapped[datetime | None]
    # When the case closed (its `updated_at` then); NULL while it is open. Kept by the database:
    # a trigger on `cases` sets it when `is_open` turns false and clears it if it turns true
    # (a whole-list `refresh` also retires any item of a closed case it finds not retired).
    retired_at: Mapped[datetime | None]


class ChcRagRating(Base):
    """Rating history: a row each time a case's computed colour or fired rules change."""

    __tablename__ = "chc_rag_ratings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(CASE_FK, ondelete="RESTRICT"), index=True
    )
    rag: Mapped[str] = mapped_column(String(8))
    rule_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    ruleset_version: Mapped[str] = mapped_column(String(64))
    cohort: Mapped[str] = mapped_column(String(32))
    rated_at: Mapped[datetime]


class ChcRagOverride(Base):
    """Override audit: who set (or cleared, `rag` NULL) a manual colour, when and why."""

    __tablename__ = "chc_rag_overrides"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(CASE_FK, ondelete="RESTRICT"), index=True
    )
    rag: Mapped[str | None] = mapped_column(String(8))
    previous_rag: Mapped[str] = mapped_column(String(8))
    computed_rag: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(2000))
    actor_id: Mapped[int] = mapped_column(BigInteger)
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class ChcClaimLog(Base):
    """Claim audit: claimed, released, reassigned and expired, in order."""

    __tablename__ = "chc_claim_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey(CASE_FK, ondelete="RESTRICT"), index=True
    )
    organisation: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    assessor_id: Mapped[int | None] = mapped_column(BigInteger)
    assessor: Mapped[str | None] = mapped_column(String(64))
    by_username: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(2000))
    expires_at: Mapped[datetime | None]
    at: Mapped[datetime]


APPEND_ONLY = (ChcSourceRecord, ChcImportRejection, ChcRagRating, ChcRagOverride, ChcClaimLog)
for _model in APPEND_ONLY:
    event.listen(_model, "before_update", refuse_change("update"))
    event.listen(_model, "before_delete", refuse_change("delete"))
