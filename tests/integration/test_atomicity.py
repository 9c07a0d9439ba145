"""A failure anywhere in a transition leaves neither the new state nor the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.cases import service
from app.cases.repository import CaseRepository
from app.cases.schemas import CaseCreate, EventCreate
from app.clocks.repository import ClockRepository
from app.clocks.service import ClockService
from app.engine.engine import Engine
from app.models import Case
from tests.helpers import writer_for

TTL = timedelta(hours=1)


class Boom(RuntimeError):
    pass


def _open(session: Session, engine: Engine, actor) -> int:
    created = service.create_case(
        session,
        writer=writer_for(engine),
        actor=actor,
        body=CaseCreate(workflow="sample-referral", data={"priority": "routine"}),
        idempotency_key=None,
        now=datetime.now(UTC),
        ttl=TTL,
    )
    return int(created.body["id"])


def _snapshot(sessions: sessionmaker[Session], case_id: int) -> tuple:
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        events = [(e.seq, e.event) for e in CaseRepository(session).events(case_id)]
        clocks = [(c.name, c.state) for c in ClockRepository(session).for_case(case_id)]
        return case.state, case.version, events, clocks


def test_failure_after_event_is_written_rolls_everything_back(
    sessions: sessionmaker[Session], engine: Engine, make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = make_user("discharge_team", "ic_coordinator").actor
    with sessions() as session:
        case_id = _open(session, engine, actor)
    before = _snapshot(sessions, case_id)

    def exploding_apply(self, case, actions, *, at, seq):  # noqa: ANN001
        raise Boom("clock store unavailable")

    # The clock step runs after the event row has been flushed: the worst moment to fail.
    monkeypatch.setattr(ClockService, "apply", exploding_apply)
    with sessions() as session, pytest.raises(Boom):
        service.fire_event(
            session,
            writer=writer_for(engine),
            actor=actor,
            case_id=case_id,
            body=EventCreate(event="triage"),
            if_match='"1"',
            idempotency_key="atomic-1",
            now=datetime.now(UTC),
            ttl=TTL,
        )
    assert (
        _snapshot(sessions, case_id)
        == before
        == ("received", 1, [(1, "open")], [("response", "running")])
    )

    # The same request, retried once the fault is gone, is applied (its key was not kept).
    monkeypatch.undo()
    with sessions() as session:
        service.fire_event(
            session,
            writer=writer_for(engine),
            actor=actor,
            case_id=case_id,
            body=EventCreate(event="triage"),
            if_match='"1"',
            idempotency_key="atomic-1",
            now=datetime.now(UTC),
            ttl=TTL,
        )
    assert _snapshot(sessions, case_id) == (
        "triaged",
        2,
        [(1, "open"), (2, "triage")],
        [("response", "stopped")],
    )


def test_failing_create_leaves_no_half_written_case(
    sessions: sessionmaker[Session], engine: Engine, make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user("discharge_team")

    def exploding_apply(self, case, actions, *, at, seq):  # noqa: ANN001
        raise Boom("after the case and its open event were flushed")

    monkeypatch.setattr(ClockService, "apply", exploding_apply)
    with sessions() as session, pytest.raises(Boom):
        _open(session, engine, user.actor)
    with sessions() as session:
        from app.cases.repository import CaseFilter

        found = CaseRepository(session).search(
            CaseFilter(organisation=user.org), before_id=None, limit=10
        )
        assert found == []
