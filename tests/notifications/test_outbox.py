"""The outbox: one row written in the transaction of the change that caused it, by one
explicit call (the escalation's effect, the clock sweeper), and never patient data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.cases import service
from app.cases.schemas import CaseCreate
from app.clocks.sweeper import sweep
from app.engine.engine import Command, Engine
from app.models import Notification
from app.notifications.outbox import notify
from app.timeutil import utcnow
from tests.discharge.helpers import NHS
from tests.helpers import writer_for
from tests.notifications.conftest import World
from tests.notifications.helpers import (
    REASON,
    TEAM,
    clear,
    escalate,
    escalated_case,
    notifications_of,
)


def test_an_escalation_writes_one_notification_without_patient_data(world: World) -> None:
    owner = world.user(*TEAM)
    case_id = escalated_case(world, owner, NHS[0])
    [row] = notifications_of(world.sessions, case_id)
    assert (row.kind, row.case_id, row.fanned_out_at) == ("case_escalated", case_id, None)
    assert row.link == f"/tracker/cases/{case_id}"
    assert NHS[0] not in row.summary + row.link
    assert REASON not in row.summary

    escalate(world, owner, case_id, expect=409)  # already escalated: refused, nothing written
    assert len(notifications_of(world.sessions, case_id)) == 1
    clear(world, owner, case_id)  # clearing tells nobody
    escalate(world, owner, case_id)
    assert [n.kind for n in notifications_of(world.sessions, case_id)] == ["case_escalated"] * 2


def test_the_notification_rolls_back_with_the_change(world: World, engine: Engine) -> None:
    owner = world.user(*TEAM)
    case_id = escalated_case(world, owner, NHS[1])
    clear(world, owner, case_id)
    with world.sessions() as session:
        writer_for(engine).fire(
            session,
            case_id,
            Command("raise_escalation", owner.actor, data={"escalation_reason": "no slot"}),
            now=utcnow(),
        )
        staged = [n for n in session.new if isinstance(n, Notification)]
        assert [n.kind for n in staged] == ["case_escalated"]
        session.rollback()
    assert len(notifications_of(world.sessions, case_id)) == 1  # the first escalation's only


def test_the_sweeper_writes_a_warning_and_a_breach_once_each(world: World, engine: Engine) -> None:
    actor = world.user("ic_coordinator", "discharge_team").actor
    opened = datetime.now(UTC) - timedelta(hours=3)
    with world.sessions() as session:
        created = service.create_case(
            session,
            writer=writer_for(engine),
            actor=actor,
            body=CaseCreate(
                workflow="sample-referral", data={"priority": "routine"}, occurred_at=opened
            ),
            idempotency_key=None,
            now=opened + timedelta(minutes=1),
            ttl=timedelta(hours=1),
        )
    case_id = int(created.body["id"])
    sweep(world.sessions, now=opened + timedelta(minutes=100))
    assert [n.kind for n in notifications_of(world.sessions, case_id)] == ["clock_warning"]
    for _ in range(3):
        sweep(world.sessions, now=opened + timedelta(hours=2, minutes=5))
    rows = notifications_of(world.sessions, case_id)
    assert [n.kind for n in rows] == ["clock_warning", "clock_breach"]
    assert rows[1].summary.startswith("Clock response: breach at ")


def test_notify_refuses_an_unknown_kind_and_an_nhs_number(world: World) -> None:
    with world.sessions() as session:
        with pytest.raises(ValueError, match="unknown notification kind"):
            notify(session, kind="gossip", case_id=None, link="/", summary="x", now=utcnow())
        with pytest.raises(ValueError, match="NHS number"):
            notify(
                session,
                kind="action_overdue",
                case_id=None,
                link="/",
                summary="Ring about 999 000 0018",
                now=utcnow(),
            )
        assert not session.execute(select(Notification).where(Notification.link == "/")).all()
