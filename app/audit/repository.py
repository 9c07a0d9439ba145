"""SQL for access records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models.access import AccessRecord, AccessRecordCase


class AccessRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: AccessRecord, case_ids: Sequence[int]) -> None:
        self.session.add(record)
        self.session.flush()
        if case_ids:
            self.session.execute(
                insert(AccessRecordCase),
                [{"record_id": record.id, "case_id": cid} for cid in case_ids],
            )

    def search(
        self,
        *,
        organisation: str,
        user: str | None,
        case_id: int | None,
        since: datetime | None,
        before_id: int | None,
        limit: int,
    ) -> list[AccessRecord]:
        """Reads by the organisation's users, newest first."""
        stmt = (
            select(AccessRecord)
            .where(AccessRecord.organisation == organisation)
            .order_by(AccessRecord.id.desc())
            .limit(limit)
        )
        if user is not None:
            stmt = stmt.where(AccessRecord.username == user)
        if case_id is not None:
            stmt = stmt.where(
                AccessRecord.id.in_(
                    select(AccessRecordCase.record_id).where(AccessRecordCase.case_id == case_id)
                )
            )
        if since is not None:
            stmt = stmt.where(AccessRecord.at >= since)
        if before_id is not None:
            stmt = stmt.where(AccessRecord.id < before_id)
        return list(self.session.execute(stmt).scalars())

    def case_ids(self, record_ids: Sequence[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {rid: [] for rid in record_ids}
        if not record_ids:
            return out
        stmt = (
            select(AccessRecordCase.record_id, AccessRecordCase.case_id)
            .where(AccessRecordCase.record_id.in_(list(record_ids)))
            .order_by(AccessRecordCase.id)
        )
        for rid, cid in self.session.execute(stmt).tuples():
            out[rid].append(cid)
        return out
