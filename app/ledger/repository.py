"""SQL for the ledger's partner statements."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import LedgerStatement


class StatementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def versions(self, organisation: str, responsible: str, month: str) -> list[LedgerStatement]:
        stmt = (
            select(LedgerStatement)
            .where(
                LedgerStatement.organisation == organisation,
                LedgerStatement.responsible == responsible,
                LedgerStatement.month == month,
            )
            .order_by(LedgerStatement.version)
        )
        return list(self.session.execute(stmt).scalars())

    def visible(
        self, reader: str, month: str | None, responsible: str | None, limit: int
    ) -> list[LedgerStatement]:
        """Every version of the statements `reader` published or is responsible in, newest
        month first (at most `limit` rows)."""
        stmt = select(LedgerStatement).where(
            or_(LedgerStatement.organisation == reader, LedgerStatement.responsible == reader)
        )
        if month is not None:
            stmt = stmt.where(LedgerStatement.month == month)
        if responsible is not None:
            stmt = stmt.where(LedgerStatement.responsible == responsible)
        stmt = stmt.order_by(
            LedgerStatement.month.desc(),
            LedgerStatement.organisation,
            LedgerStatement.responsible,
            LedgerStatement.version,
        ).limit(limit)
        return list(self.session.execute(stmt).scalars())

    def add(self, row: LedgerStatement) -> None:
        self.session.add(row)
        self.session.flush()

    def every(self) -> list[LedgerStatement]:
        """Every version of every statement, grouped by statement, oldest version first."""
        stmt = select(LedgerStatement).order_by(
            LedgerStatement.organisation,
            LedgerStatement.responsible,
            LedgerStatement.month,
            LedgerStatement.version,
        )
        return list(self.session.execute(stmt).scalars())
