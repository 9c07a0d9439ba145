"""SQL for restated days: the queue of marked days, stored originals and their restatements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import Case, CaseShare
from app.models.snapshot import MetricRestatement, MetricSnapshot, RestatementMark


class RestatementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim_marks(self, limit: int = 10_000) -> list[RestatementMark]:
        """The waiting marks, locked until the transaction ends; marks another worker holds
        are skipped (SKIP LOCKED on PostgreSQL; SQLite has one writer at a time)."""
        stmt = (
            select(RestatementMark)
            .order_by(RestatementMark.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.execute(stmt).scalars())

    def delete_marks(self, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), 1000):
            chunk = list(ids[start : start + 1000])
            self.session.execute(delete(RestatementMark).where(RestatementMark.id.in_(chunk)))

    def organisations_seeing(self, case_ids: Sequence[int]) -> dict[int, set[str]]:
        """Each case's owning organisation and those it is shared with: whose figures it is in."""
        out: dict[int, set[str]] = {}
        ids = sorted(set(case_ids))
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            owners = select(Case.id, Case.organisation).where(Case.id.in_(chunk))
            shares = select(CaseShare.case_id, CaseShare.organisation).where(
                CaseShare.case_id.in_(chunk)
            )
            for case_id, organisation in [
                *self.session.execute(owners),
                *self.session.execute(shares),
            ]:
                out.setdefault(case_id, set()).add(organisation)
        return out

    def snapshots_between(self, first: date, last: date, organisation: str) -> list[MetricSnapshot]:
        stmt = (
            select(MetricSnapshot)
            .where(
                MetricSnapshot.day >= first,
                MetricSnapshot.day <= last,
                MetricSnapshot.organisation == organisation,
            )
            .order_by(
                MetricSnapshot.day,
                MetricSnapshot.organisation,
                MetricSnapshot.site,
                MetricSnapshot.ward,
            )
        )
        return list(self.session.execute(stmt).scalars())

    def latest(self, snapshot: MetricSnapshot) -> MetricRestatement | None:
        """The newest restatement of the stored figures, if any."""
        stmt = (
            select(MetricRestatement)
            .where(
                MetricRestatement.day == snapshot.day,
                MetricRestatement.site == snapshot.site,
                MetricRestatement.ward == snapshot.ward,
                MetricRestatement.organisation == snapshot.organisation,
            )
            .order_by(MetricRestatement.id.desc())
            .limit(1)
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def latest_by_day(
        self, first: date, last: date, site: str, ward: str, organisation: str
    ) -> dict[date, MetricRestatement]:
        """The newest restatement of each day of a range (for series and exports)."""
        stmt = (
            select(MetricRestatement)
            .where(
                MetricRestatement.day >= first,
                MetricRestatement.day <= last,
                MetricRestatement.site == site,
                MetricRestatement.ward == ward,
                MetricRestatement.organisation == organisation,
            )
            .order_by(MetricRestatement.id)
        )
        return {r.day: r for r in self.session.execute(stmt).scalars()}

    def add(self, row: MetricRestatement) -> None:
        self.session.add(row)
        self.session.flush()
