"""SQL for the CHC working list. No commits here: each service use case owns its Unit of Work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.bulk import insert_rows
from app.models import (
    Case,
    ChcImport,
    ChcImportChunk,
    ChcImportRejection,
    ChcImportReportPart,
    ChcRagRating,
    ChcReconciliationItem,
    ChcSourceRecord,
    ChcWorkItem,
    User,
)

# Lookups of a batch's record ids and people go to the database this many at a time.
LOOKUP_CHUNK = 500

CHC = "chc"


class ChcRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)
        self.session.flush()

    @property
    def is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def lock_organisation(self, organisation: str, purpose: str) -> None:
        """Serialise one kind of writer per organisation (imports, so two lists naming the same
        new person cannot both open a case). SQLite's single writer lock already does this."""
        if self.is_postgres:
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"chc:{purpose}:{organisation}"},
            )

    def lock_user(self, user_id: int) -> None:
        """One claim at a time per assessor (a double click cannot beat the claim limit)."""
        self.session.execute(select(User.id).where(User.id == user_id).with_for_update())

    # -- imports and provenance -------------------------------------------------------------
    def find_import(self, organisation: str, source: str, sha256: str) -> ChcImport | None:
        stmt = select(ChcImport).where(
            ChcImport.organisation == organisation,
            ChcImport.source_list == source,
            ChcImport.sha256 == sha256,
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def try_add_import(self, row: ChcImport) -> bool:
        """False when the same file for the same source was recorded by a concurrent import."""
        try:
            with self.session.begin_nested():
                self.add(row)
        except IntegrityError:
            return False
        return True

    def get_import(self, import_id: int, organisation: str) -> ChcImport | None:
        stmt = select(ChcImport).where(
            ChcImport.id == import_id, ChcImport.organisation == organisation
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def list_imports(self, organisation: str, limit: int) -> list[ChcImport]:
        stmt = (
            select(ChcImport)
            .where(ChcImport.organisation == organisation)
            .order_by(ChcImport.id.desc())
            .limit(limit)
        )
        return list(self.session.execute(stmt).scalars())

    def find_source_record(
        self, organisation: str, source: str, record_id: str
    ) -> ChcSourceRecord | None:
        stmt = select(ChcSourceRecord).where(
            ChcSourceRecord.organisation == organisation,
            ChcSourceRecord.source_list == source,
            ChcSourceRecord.source_record_id == record_id,
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def source_records_by_id(
        self, organisation: str, source: str, record_ids: Sequence[str]
    ) -> dict[str, ChcSourceRecord]:
        """Rows of this source list imported before, by record id (a batch's worth at once)."""
        out: dict[str, ChcSourceRecord] = {}
        for part in _parts(sorted(set(record_ids))):
            stmt = select(ChcSourceRecord).where(
                ChcSourceRecord.organisation == organisation,
                ChcSourceRecord.source_list == source,
                ChcSourceRecord.source_record_id.in_(part),
            )
            out |= {r.source_record_id: r for r in self.session.execute(stmt).scalars()}
        return out

    def open_cases_by_nhs_numbers(
        self, organisation: str, numbers: Iterable[str]
    ) -> dict[str, Case]:
        """The oldest open CHC case of each NHS number (as `open_case_by_nhs_number`, in bulk)."""
        out: dict[str, Case] = {}
        for part in _parts(sorted(set(numbers))):
            stmt = (
                select(Case)
                .where(
                    Case.workflow_key == CHC,
                    Case.organisation == organisation,
                    Case.patient_ref.in_(part),
                    Case.is_open.is_(True),
                )
                .order_by(Case.id.desc())
            )
            out |= {c.patient_ref: c for c in self.session.execute(stmt).scalars() if c.patient_ref}
        return out

    def open_cases_by_match_keys(self, organisation: str, keys: Iterable[str]) -> dict[str, Case]:
        """The oldest open case each match key names (as `open_case_by_match_key`, in bulk)."""
        out: dict[str, Case] = {}
        for part in _parts(sorted(set(keys))):
            stmt = (
                select(ChcSourceRecord.match_key, Case)
                .join(Case, ChcSourceRecord.case_id == Case.id)
                .where(
                    ChcSourceRecord.organisation == organisation,
                    ChcSourceRecord.match_key.in_(part),
                    Case.is_open.is_(True),
                )
                .order_by(Case.id.desc())
            )
            out |= {k: c for k, c in self.session.execute(stmt).tuples() if k}
        return out

    def refresh_statistics(self) -> None:
        """Let PostgreSQL's planner see what an import has added so far.

        Autovacuum analyzes a table a minute or more after it has grown; until then the
        planner takes a table that has grown from nothing to tens of thousands of rows in one
        import for a tiny one, and a batch's look-ups (an NHS number or record id in a list of
        hundreds) scan every row of the organisation instead of using their index. A batch
        grows as the table grows, so the import slows as it goes."""
        if self.is_postgres:
            self.session.execute(text("ANALYZE cases, chc_source_records"))

    def add_source_records(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self.session, cast(Table, ChcSourceRecord.__table__), rows)

    def add_rejections(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self.session, cast(Table, ChcImportRejection.__table__), rows)

    # -- import jobs ------------------------------------------------------------------------------
    def add_chunk(self, import_id: int, seq: int, data: bytes) -> None:
        self.session.execute(_insert_chunk(), {"import_id": import_id, "seq": seq, "data": data})

    def chunk(self, import_id: int, seq: int) -> bytes | None:
        stmt = select(ChcImportChunk.data).where(
            ChcImportChunk.import_id == import_id, ChcImportChunk.seq == seq
        )
        data = self.session.execute(stmt).scalar_one_or_none()
        return bytes(data) if data is not None else None

    def delete_chunks(self, import_id: int) -> None:
        self.session.execute(delete(ChcImportChunk).where(ChcImportChunk.import_id == import_id))

    def claim_job(self, now: datetime, *, only: int | None = None) -> ChcImport | None:
        """The oldest job to run: queued, or running under a lease that has run out. Locked for
        this transaction; a job another runner is claiming or working on is skipped (SQLite:
        its single writer lock serialises claims instead)."""
        stmt = (
            select(ChcImport)
            .where(
                ChcImport.state.in_(("queued", "running")),
                or_(ChcImport.lease_expires_at.is_(None), ChcImport.lease_expires_at <= now),
            )
            .order_by(ChcImport.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if only is not None:
            stmt = stmt.where(ChcImport.id == only)
        return self.session.execute(stmt).scalar_one_or_none()

    def lock_job(self, import_id: int) -> ChcImport | None:
        stmt = (
            select(ChcImport)
            .where(ChcImport.id == import_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def refresh_job(self, import_id: int) -> ChcImport | None:
        stmt = (
            select(ChcImport)
            .where(ChcImport.id == import_id)
            .execution_options(populate_existing=True)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def add_report_parts(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self.session, cast(Table, ChcImportReportPart.__table__), rows)

    def report_parts(
        self, import_id: int, kind: str, *, after_row: int, limit: int
    ) -> list[tuple[int, list[Any]]]:
        """(first row, entries) of one list of an import's report, in row order, a page at a
        time (keyset on the first row)."""
        parts = ChcImportReportPart
        stmt = (
            select(parts.first_row, parts.entries)
            .where(parts.import_id == import_id, parts.kind == kind, parts.first_row > after_row)
            .order_by(parts.first_row)
            .limit(limit)
        )
        return [(int(r), list(e)) for r, e in self.session.execute(stmt).tuples()]

    def has_report_parts(self, import_id: int) -> bool:
        stmt = select(func.count()).where(ChcImportReportPart.import_id == import_id)
        return bool(self.session.execute(stmt).scalar_one())

    def user(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def source_records_for_case(self, case_id: int) -> list[ChcSourceRecord]:
        stmt = (
            select(ChcSourceRecord)
            .where(ChcSourceRecord.case_id == case_id)
            .order_by(ChcSourceRecord.id)
        )
        return list(self.session.execute(stmt).scalars())

    def rejections_for_import(self, import_id: int) -> list[ChcImportRejection]:
        stmt = (
            select(ChcImportRejection)
            .where(ChcImportRejection.import_id == import_id)
            .order_by(ChcImportRejection.row_number)
        )
        return list(self.session.execute(stmt).scalars())

    def open_case_by_nhs_number(self, organisation: str, nhs_number: str) -> Case | None:
        stmt = (
            select(Case)
            .where(
                Case.workflow_key == CHC,
                Case.organisation == organisation,
                Case.patient_ref == nhs_number,
                Case.is_open.is_(True),
            )
            .order_by(Case.id)
            .limit(1)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def open_case_by_match_key(self, organisation: str, match_key: str) -> Case | None:
        stmt = (
            select(Case)
            .join(ChcSourceRecord, ChcSourceRecord.case_id == Case.id)
            .where(
                ChcSourceRecord.organisation == organisation,
                ChcSourceRecord.match_key == match_key,
                Case.is_open.is_(True),
            )
            .order_by(Case.id)
            .limit(1)
        )
        return self.session.execute(stmt).scalars().first()

    # -- reconciliation -------------------------------------------------------------------------
    def reconciliation_items(
        self, organisation: str, status: str | None, case_id: int | None, limit: int
    ) -> list[ChcReconciliationItem]:
        stmt = select(ChcReconciliationItem).where(
            ChcReconciliationItem.organisation == organisation
        )
        if status is not None:
            stmt = stmt.where(ChcReconciliationItem.status == status)
        if case_id is not None:
            stmt = stmt.where(ChcReconciliationItem.case_id == case_id)
        stmt = stmt.order_by(ChcReconciliationItem.id).limit(limit)
        return list(self.session.execute(stmt).scalars())

    def reconciliation_item(
        self, item_id: int, organisation: str, *, for_update: bool = False
    ) -> ChcReconciliationItem | None:
        stmt = select(ChcReconciliationItem).where(
            ChcReconciliationItem.id == item_id,
            ChcReconciliationItem.organisation == organisation,
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def source_record(self, pk: int) -> ChcSourceRecord | None:
        return self.session.get(ChcSourceRecord, pk)

    # -- work items -------------------------------------------------------------------------------
    def chc_cases_for_refresh(
        self,
        organisation: str | None,
        case_ids: Iterable[int] | None,
        *,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[tuple[Case, ChcWorkItem | None]]:
        """Open CHC cases with their work items, in id order (`after`/`limit`: one chunk)."""
        on = ChcWorkItem.case_id == Case.id
        if after is not None:  # said of both sides, so a merge join starts at the chunk
            on = and_(on, ChcWorkItem.case_id > after)
        stmt = (
            select(Case, ChcWorkItem)
            .outerjoin(ChcWorkItem, on)
            .where(Case.workflow_key == CHC, Case.is_open.is_(True))
            .order_by(Case.id)
        )
        if organisation is not None:
            stmt = stmt.where(Case.organisation == organisation)
        if case_ids is not None:
            stmt = stmt.where(Case.id.in_(list(case_ids)))
        if after is not None:
            stmt = stmt.where(Case.id > after)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [(c, w) for c, w in self.session.execute(stmt).tuples()]

    def retire_closed(self, organisation: str | None) -> int:
        """Retire the work items of closed cases that are not retired yet.

        The trigger of migration 0007 retires an item when its case closes; this catches an item
        first written by a refresh that read its case open just before it closed.
        """
        closed = select(Case.id).where(Case.workflow_key == CHC, Case.is_open.is_(False))
        stmt = update(ChcWorkItem).where(
            ChcWorkItem.retired_at.is_(None), ChcWorkItem.case_id.in_(closed)
        )
        if organisation is not None:
            stmt = stmt.where(ChcWorkItem.organisation == organisation)
        closed_at = select(Case.updated_at).where(Case.id == ChcWorkItem.case_id)
        stmt = stmt.values(retired_at=closed_at.scalar_subquery()).execution_options(
            synchronize_session=False
        )
        return int(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def try_add_work_item(self, item: ChcWorkItem) -> bool:
        try:
            with self.session.begin_nested():
                self.add(item)
        except IntegrityError:
            return False
        return True

    def add_work_items(self, items: list[dict[str, Any]], ratings: list[dict[str, Any]]) -> None:
        """First work items of cases just opened, and their first ratings (one statement each)."""
        insert_rows(self.session, cast(Table, ChcWorkItem.__table__), items)
        insert_rows(self.session, cast(Table, ChcRagRating.__table__), ratings)

    def update_rating(self, case_id: int, seen_seq: int, values: dict[str, Any]) -> bool:
        """Compare-and-set on `rating_seq`: False when another refresh got there first."""
        stmt = (
            update(ChcWorkItem)
            .where(ChcWorkItem.case_id == case_id, ChcWorkItem.rating_seq == seen_seq)
            .values(rating_seq=seen_seq + 1, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def rating_of(self, case_id: int) -> Any:
        """The rating columns of a case's work item, as a plain row (None when it has none)."""
        return self.session.execute(_rating_of(), {"case_id": case_id}).first()

    def work_item(self, case_id: int, *, for_update: bool = False) -> ChcWorkItem | None:
        stmt = select(ChcWorkItem).where(ChcWorkItem.case_id == case_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def queue(
        self,
        organisation: str,
        states: Sequence[str],
        *,
        cohort: str | None = None,
        rag: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[ChcWorkItem, Case]]:
        stmt = self._queue_select(organisation, states)
        if cohort is not None:
            stmt = stmt.where(ChcWorkItem.cohort == cohort)
        if rag is not None:
            stmt = stmt.where(ChcWorkItem.rag == rag)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [(w, c) for w, c in self.session.execute(stmt).tuples()]

    def next_claimable(
        self, organisation: str, states: Sequence[str], now: datetime
    ) -> tuple[ChcWorkItem, Case] | None:
        """The first unclaimed (or lapsed) item in queue order, locked for this transaction.

        PostgreSQL: `FOR UPDATE OF chc_work_items SKIP LOCKED`, so concurrent claimers each get a
        different row without waiting. SQLite ignores the clause; its single writer lock
        (BEGIN IMMEDIATE) makes the read-then-update atomic instead.

        Read through `ix_chc_work_items_queue` (items of open cases, in exactly this order): the
        scan passes only live claims and rows other claimers hold, never the closed history.
        """
        params = {"organisation": organisation, "states": list(states), "now": now}
        row = self.session.execute(_next_claimable(), params).tuples().first()
        return (row[0], row[1]) if row else None

    def active_claims(self, organisation: str, user_id: int, now: datetime) -> list[ChcWorkItem]:
        params = {"organisation": organisation, "user_id": user_id, "now": now}
        return list(self.session.execute(_active_claims(), params).scalars())

    def _queue_select(self, organisation: str, states: Sequence[str]) -> Any:
        return _queue_select(organisation, list(states))

    def user_in(self, organisation: str, username: str) -> User | None:
        """The organisation's user of that name (usernames are unique per organisation)."""
        stmt = select(User).where(User.organisation == organisation, User.username == username)
        return self.session.execute(stmt).scalar_one_or_none()


def _parts(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


@cache
def _insert_chunk() -> Any:
    chunks = cast(Table, ChcImportChunk.__table__)
    return chunks.insert().values(
        import_id=bindparam("import_id"), seq=bindparam("seq"), data=bindparam("data")
    )


def _queue_select(organisation: Any, states: Any) -> Any:
    return (
        select(ChcWorkItem, Case)
        .join(Case, Case.id == ChcWorkItem.case_id)
        .where(
            ChcWorkItem.organisation == organisation,
            # Retired items belong to closed cases (the join says so too); this term lets the
            # partial index ix_chc_work_items_queue serve the order.
            ChcWorkItem.retired_at.is_(None),
            Case.workflow_key == CHC,
            Case.is_open.is_(True),
            Case.state.in_(states),
        )
        .order_by(ChcWorkItem.rag_rank, ChcWorkItem.waiting_since, ChcWorkItem.case_id)
    )


# The claim's two reads are built once (bound parameters), not per request.
@cache
def _next_claimable() -> Any:
    return (
        _queue_select(bindparam("organisation"), bindparam("states", expanding=True))
        .where(
            or_(
                ChcWorkItem.claimed_by_id.is_(None),
                ChcWorkItem.claim_expires_at <= bindparam("now"),
            )
        )
        .limit(1)
        .with_for_update(skip_locked=True, of=ChcWorkItem)
    )


@cache
def _active_claims() -> Any:
    return (
        select(ChcWorkItem)
        .join(Case, Case.id == ChcWorkItem.case_id)
        .where(
            ChcWorkItem.organisation == bindparam("organisation"),
            ChcWorkItem.claimed_by_id == bindparam("user_id"),
            ChcWorkItem.retired_at.is_(None),  # ix_chc_work_items_live_claims
            ChcWorkItem.claim_expires_at > bindparam("now"),
            Case.is_open.is_(True),
        )
        .order_by(ChcWorkItem.case_id)
    )


@cache
def _rating_of() -> Any:
    """Built once: what `worklist.rate_one` compares, by case id."""
    items = ChcWorkItem.__table__.c
    return select(
        items.case_id,
        items.cohort,
        items.responsible_body,
        items.waiting_since,
        items.computed_rag,
        items.rule_ids,
        items.reasons,
        items.ruleset_version,
        items.rated_at,
        items.rating_seq,
        items.override_rag,
    ).where(items.case_id == bindparam("case_id"))
