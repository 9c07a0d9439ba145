"""SQL for the FHIR interface: a page of a source's rows under a search's conditions, their
count, one row by id, and the events the resources are built from. Filtering and paging happen
in the database: no search loads every case."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import Session

from app.fhir.paging import Cursor
from app.fhir.sources import Source
from app.models import Case, CaseEvent


class FhirRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def page(
        self,
        source: Source,
        conditions: Sequence[ColumnElement[bool]],
        cursor: Cursor | None,
        size: int,
    ) -> tuple[list[Row[Any]], bool, bool]:
        """Up to `size` rows in case-id order, from the cursor's position (the start without
        one), and whether more match before them and after them."""
        statement = source.statement.where(*conditions)
        if cursor is not None and cursor.direction == "before":
            rows = list(
                self.session.execute(
                    statement.where(Case.id < cursor.case_id)
                    .order_by(Case.id.desc())
                    .limit(size + 1)
                )
            )
            more_before = len(rows) > size
            rows = list(reversed(rows[:size]))
            return rows, more_before, self._any(statement.where(Case.id >= cursor.case_id))
        after = cursor.case_id if cursor is not None else 0
        rows = list(
            self.session.execute(
                statement.where(Case.id > after).order_by(Case.id.asc()).limit(size + 1)
            )
        )
        more_after = len(rows) > size
        rows = rows[:size]
        first = rows[0][0].id if rows else after + 1
        more_before = self._any(statement.where(Case.id < first)) if after else False
        return rows, more_before, more_after

    def count(self, source: Source, conditions: Sequence[ColumnElement[bool]]) -> int:
        matching = source.statement.where(*conditions).with_only_columns(Case.id).subquery()
        return int(self.session.execute(select(func.count()).select_from(matching)).scalar_one())

    def one(self, source: Source, conditions: Sequence[ColumnElement[bool]]) -> Row[Any] | None:
        return self.session.execute(source.statement.where(*conditions).limit(1)).first()

    def _any(self, statement: Any) -> bool:
        return self.session.execute(statement.limit(1)).first() is not None

    def events(self, case_ids: Iterable[int], names: Iterable[str]) -> dict[int, list[CaseEvent]]:
        """The named events of the cases, grouped by case, in the order they were recorded."""
        grouped: dict[int, list[CaseEvent]] = defaultdict(list)
        ids = sorted(set(case_ids))
        if not ids:
            return grouped
        statement = (
            select(CaseEvent)
            .where(CaseEvent.case_id.in_(ids), CaseEvent.event.in_(sorted(set(names))))
            .order_by(CaseEvent.case_id, CaseEvent.seq)
        )
        for event in self.session.execute(statement).scalars():
            grouped[event.case_id].append(event)
        return grouped
