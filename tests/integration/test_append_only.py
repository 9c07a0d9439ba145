"""Events and clock evidence cannot be changed or removed: not by the ORM, not by raw SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.models import AppendOnlyViolation, CaseEvent, ClockEvent
from tests.helpers import Api


@pytest.fixture
def case_with_events(client, make_user) -> int:
    api = Api(client, make_user("discharge_team", "ic_coordinator").headers)
    case_id = api.create().json()["id"]
    api.fire(case_id, "triage")
    return int(case_id)


def test_orm_refuses_update_and_delete(
    sessions: sessionmaker[Session], case_with_events: int
) -> None:
    with sessions() as session:
        event = session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_with_events, CaseEvent.seq == 2)
        ).scalar_one()
        event.to_state = "completed"
        with pytest.raises(AppendOnlyViolation, match="append-only"):
            session.flush()
        session.rollback()
        session.delete(session.get(CaseEvent, event.id))
        with pytest.raises(AppendOnlyViolation, match="append-only"):
            session.flush()
        session.rollback()


@pytest.mark.parametrize("table", ["case_events", "clock_events"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET case_id = case_id WHERE case_id = :case_id",
        "DELETE FROM {table} WHERE case_id = :case_id",
    ],
)
def test_database_trigger_refuses_raw_sql(
    sessions: sessionmaker[Session], case_with_events: int, table: str, statement: str
) -> None:
    with sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement.format(table=table)), {"case_id": case_with_events})
        session.rollback()
        counted = (
            session.execute(
                select(CaseEvent.seq)
                .where(CaseEvent.case_id == case_with_events)
                .order_by(CaseEvent.seq)
            )
            .scalars()
            .all()
        )
        assert counted == [1, 2]
        evidence = (
            session.execute(
                select(ClockEvent.kind)
                .where(ClockEvent.case_id == case_with_events)
                .order_by(ClockEvent.id)
            )
            .scalars()
            .all()
        )
        assert evidence == ["started", "stopped"]
