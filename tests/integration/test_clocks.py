"""Durable clocks: due times from budget and consumption, pauses, and exactly-once sweeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.cases import service
from app.cases.schemas import CaseCreate, EventCreate
from app.clocks.repository import ClockRepository
from app.clocks.sweeper import sweep
from app.engine.engine import Engine
from app.models import ClockEvent
from tests.helpers import writer_for

TTL = timedelta(hours=1)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _journey(
    sessions, engine: Engine, actor, steps: list[tuple[str, dict, datetime]], opened: datetime = T0
) -> int:
    # Server time is placed just after the clinical times, so nothing counts as backdated.
    with sessions() as session:
        created = service.create_case(
            session,
            writer=writer_for(engine),
            actor=actor,
            body=CaseCreate(
                workflow="sample-referral", data={"priority": "routine"}, occurred_at=opened
            ),
            idempotency_key=None,
            now=opened + timedelta(minutes=1),
            ttl=TTL,
        )
        case_id = created.body["id"]
        for version, (event, data, at) in enumerate(steps, start=1):
            service.fire_event(
                session,
                writer=writer_for(engine),
                actor=actor,
                case_id=case_id,
                body=EventCreate(event=event, data=data, occurred_at=at),
                if_match=f'"{version}"',
                idempotency_key=None,
                now=at + timedelta(minutes=1),
                ttl=TTL,
            )
    return int(case_id)


def _clocks(sessions, case_id: int) -> dict:
    with sessions() as session:
        return {c.name: c for c in ClockRepository(session).for_case(case_id)}


def _evidence(sessions, case_id: int) -> list[tuple[str, str, datetime]]:
    with sessions() as session:
        return [
            (e.kind, str(e.clock_id), e.at)
            for e in ClockRepository(session).evidence_for_case(case_id)
        ]


def test_pause_and_resume_move_the_due_time_exactly(sessions, engine: Engine, make_user) -> None:
    actor = make_user("ic_coordinator", "discharge_team").actor
    case_id = _journey(
        sessions,
        engine,
        actor,
        [
            ("triage", {}, T0 + timedelta(hours=1)),
            ("accept", {}, T0 + timedelta(days=1)),
            ("hold", {"hold_reason": "patient_in_hospital"}, T0 + timedelta(days=5)),
            ("resume", {}, T0 + timedelta(days=8)),
        ],
    )
    completion = _clocks(sessions, case_id)["completion"]
    assert completion.state == "running"
    assert completion.consumed_seconds == 4 * 86400
    # 28 days from acceptance plus the 3 days on hold.
    assert completion.due_at == T0 + timedelta(days=1 + 28 + 3)
    assert completion.warn_at == T0 + timedelta(days=1 + 21 + 3)
    response = _clocks(sessions, case_id)["response"]
    assert (response.state, response.consumed_seconds) == ("stopped", 3600)


def test_sweeper_records_warning_and_breach_once(
    sessions: sessionmaker[Session], engine: Engine, make_user
) -> None:
    actor = make_user("ic_coordinator", "discharge_team").actor
    opened = datetime.now(UTC) - timedelta(hours=3)
    case_id = _journey(sessions, engine, actor, [], opened=opened)
    clock = _clocks(sessions, case_id)["response"]
    assert clock.next_check_at == opened + timedelta(minutes=90)

    sweep(sessions, now=opened + timedelta(minutes=60))
    assert [k for k, _, _ in _evidence(sessions, case_id)] == ["started"]

    sweep(sessions, now=opened + timedelta(minutes=100))
    assert [k for k, _, _ in _evidence(sessions, case_id)] == ["started", "warning"]

    for _ in range(3):
        sweep(sessions, now=opened + timedelta(hours=2, minutes=5))
    evidence = _evidence(sessions, case_id)
    assert [k for k, _, _ in evidence] == ["started", "warning", "breach"]
    assert evidence[1][2] == opened + timedelta(minutes=90)
    assert evidence[2][2] == opened + timedelta(hours=2)
    clock = _clocks(sessions, case_id)["response"]
    assert clock.breached_at == opened + timedelta(hours=2)
    assert clock.next_check_at is None
    assert clock.state == "running"  # still open and overdue until triage stops it


def test_concurrent_sweepers_fire_each_step_exactly_once(
    sessions: sessionmaker[Session], engine: Engine, make_user
) -> None:
    actor = make_user("ic_coordinator", "discharge_team").actor
    opened = datetime.now(UTC) - timedelta(hours=5)
    case_ids = [_journey(sessions, engine, actor, [], opened=opened) for _ in range(30)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sweep(sessions, now=opened + timedelta(hours=3), batch_size=7)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as session:
        counts = dict(
            session.execute(
                select(ClockEvent.kind, func.count())
                .where(ClockEvent.case_id.in_(case_ids), ClockEvent.kind.in_(["warning", "breach"]))
                .group_by(ClockEvent.kind)
            ).all()
        )
    assert counts == {"warning": 30, "breach": 30}


def test_overdue_is_computed_without_the_sweeper(client, make_user) -> None:
    from tests.helpers import Api, ago

    api = Api(client, make_user("discharge_team").headers)
    body = api.create(occurred_at=ago(hours=3), reason="entered late").json()
    clock = body["clocks"][0]
    assert clock["overdue"] is True
    assert clock["breached_at"] is None  # nobody swept yet; the figure is still right


def test_several_warnings_fire_in_order_once_each(sessions, engine: Engine, make_user) -> None:
    """A clock with warnings at 7 and 14 days and a 21-day target, swept late and often."""
    from app.cases.repository import CaseRepository
    from app.clocks.service import ClockService
    from app.engine.ports import ClockAction
    from app.engine.spec import ClockSpec

    actor = make_user("ic_coordinator", "discharge_team").actor
    opened = datetime.now(UTC) - timedelta(days=30)
    case_id = _journey(sessions, engine, actor, [], opened=opened)
    spec = ClockSpec(
        name="long_stay", target="P21D", warnings=("P14D", "P7D"), starts_on={"events": ["open"]}
    )
    with sessions() as session:
        case = CaseRepository(session).get(case_id)
        ClockService(ClockRepository(session), now=opened).apply(
            case, [ClockAction(spec, "start")], at=opened, seq=1
        )
        session.commit()
    clock = _clocks(sessions, case_id)["long_stay"]
    assert clock.warning_seconds == [7 * 86400, 14 * 86400]
    assert clock.warn_at == opened + timedelta(days=7)

    sweep(sessions, now=opened + timedelta(days=8))
    sweep(sessions, now=opened + timedelta(days=25))
    sweep(sessions, now=opened + timedelta(days=26))
    with sessions() as session:
        rows = [
            (e.kind, e.at, e.threshold_seconds)
            for e in ClockRepository(session).evidence_for_case(case_id)
            if e.clock_id == clock.id
        ]
    assert rows == [
        ("started", opened, None),
        ("warning", opened + timedelta(days=7), 7 * 86400),
        ("warning", opened + timedelta(days=14), 14 * 86400),
        ("breach", opened + timedelta(days=21), 21 * 86400),
    ]
    clock = _clocks(sessions, case_id)["long_stay"]
    assert (clock.warnings_fired, clock.warn_at, clock.next_check_at) == (2, None, None)


def test_service_hours_clock_counts_only_opening_hours(sessions, engine: Engine, make_user) -> None:
    from app.cases.repository import CaseRepository
    from app.clocks.service import ClockService
    from app.engine.ports import ClockAction
    from app.engine.spec import ClockSpec
    from app.timeutil import LONDON

    actor = make_user("ic_coordinator", "discharge_team").actor
    referral = datetime(2026, 1, 5, 19, 30, tzinfo=LONDON).astimezone(UTC)
    case_id = _journey(sessions, engine, actor, [], opened=referral)
    spec = ClockSpec(
        name="ucr",
        target="PT2H",
        warning="PT90M",
        calendar="hours 08:00-20:00 Europe/London",
        starts_on={"events": ["open"]},
    )
    with sessions() as session:
        case = CaseRepository(session).get(case_id)
        service = ClockService(ClockRepository(session), now=referral)
        service.apply(case, [ClockAction(spec, "start")], at=referral, seq=1)
        session.commit()
    clock = _clocks(sessions, case_id)["ucr"]
    assert clock.calendar == "hours 08:00-20:00 Europe/London"
    assert clock.due_at == datetime(2026, 1, 6, 9, 30, tzinfo=LONDON)
    assert clock.warn_at == datetime(2026, 1, 6, 9, 0, tzinfo=LONDON)
    # Stopped at 08:45 the next morning: 30 + 45 minutes of service time were used.
    with sessions() as session:
        case = CaseRepository(session).get(case_id)
        stop_at = datetime(2026, 1, 6, 8, 45, tzinfo=LONDON)
        ClockService(ClockRepository(session), now=stop_at).apply(
            case, [ClockAction(spec, "stop")], at=stop_at, seq=2
        )
        session.commit()
    clock = _clocks(sessions, case_id)["ucr"]
    assert (clock.state, clock.consumed_seconds) == ("stopped", 75 * 60)
