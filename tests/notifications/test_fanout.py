"""Fan-out: each subscriber who may see the case gets one delivery, whoever else subscribes,
however often the job runs; nobody hears of a case their organisation may not see."""

from __future__ import annotations

from sqlalchemy import select, update

from app.models import Notification, NotificationDelivery
from app.notifications.fanout import fan_out
from app.notifications.outbox import notify
from app.timeutil import utcnow
from tests.discharge.helpers import NHS
from tests.notifications.conftest import World
from tests.notifications.helpers import (
    TEAM,
    clear,
    deliveries_to,
    delivery_count,
    escalate,
    escalated_case,
    share,
    subscribe,
)


def _fan_out(world: World) -> int:
    return fan_out(world.sessions, policy=world.policy, now=utcnow())


def test_another_organisation_hears_of_a_case_only_once_it_is_shared(world: World) -> None:
    owner = world.user(*TEAM)
    colleague = world.user("discharge_team", org=owner.org)
    outsider = world.user("discharge_team", "social_worker")  # another organisation
    for user in (colleague, outsider):
        subscribe(world, user, kind="case_escalated", channel="in_app")
    case_id = escalated_case(world, owner, NHS[2])
    _fan_out(world)
    assert [d.channel for d in deliveries_to(world.sessions, colleague.actor.user_id)] == ["in_app"]
    assert deliveries_to(world.sessions, outsider.actor.user_id) == []
    inbox = world.client.get("/api/v1/notifications", headers=outsider.headers).json()
    assert inbox["items"] == []

    share(world, owner, case_id, outsider.org)
    clear(world, owner, case_id)
    escalate(world, owner, case_id)
    _fan_out(world)
    [told] = deliveries_to(world.sessions, outsider.actor.user_id)
    assert told.status == "sent"
    assert told.organisation == outsider.org
    assert len(deliveries_to(world.sessions, colleague.actor.user_id)) == 2
    inbox = world.client.get("/api/v1/notifications", headers=outsider.headers).json()
    assert [i["case_id"] for i in inbox["items"]] == [case_id]

    r = world.client.delete(f"/api/v1/cases/{case_id}/shares/{outsider.org}", headers=owner.headers)
    assert r.status_code == 204, r.text
    inbox = world.client.get("/api/v1/notifications", headers=outsider.headers).json()
    assert inbox["items"] == []  # no longer theirs to see


def test_a_role_without_the_case_read_hears_nothing(world: World) -> None:
    owner = world.user(*TEAM)
    analyst = world.user("analyst", org=owner.org)  # no cases.read
    provider = world.user("provider", org=owner.org)  # cases.read shared_only: not own cases
    for user in (analyst, provider):
        subscribe(world, user, kind="case_escalated", channel="in_app")
    escalated_case(world, owner, NHS[3])
    _fan_out(world)
    assert deliveries_to(world.sessions, analyst.actor.user_id) == []
    assert deliveries_to(world.sessions, provider.actor.user_id) == []


def test_a_second_fan_out_delivers_nothing_twice(world: World) -> None:
    owner = world.user(*TEAM)
    subscribe(world, owner, kind="case_escalated", channel="in_app")
    case_id = escalated_case(world, owner, NHS[4])
    _fan_out(world)
    before = delivery_count(world.sessions)
    with world.sessions() as session:  # as if a worker died after delivering, before marking
        session.execute(
            update(Notification).where(Notification.case_id == case_id).values(fanned_out_at=None)
        )
        session.commit()
    assert _fan_out(world) == 1  # it wrote its row again: the unique key kept the first
    assert delivery_count(world.sessions) == before
    assert len(deliveries_to(world.sessions, owner.actor.user_id)) == 1


def test_targets_narrow_the_audience(world: World) -> None:
    owner = world.user(*TEAM)
    chosen = world.user("discharge_team", org=owner.org)
    other = world.user("discharge_team", org=owner.org)
    for user in (chosen, other):
        subscribe(world, user, kind="action_assigned", channel="in_app")
    case_id = escalated_case(world, owner, NHS[5])
    with world.sessions() as session:
        notify(
            session,
            kind="action_assigned",
            case_id=case_id,
            link=f"/tracker/cases/{case_id}",
            summary="Book transport",
            now=utcnow(),
            people=[chosen.actor.user_id],
        )
        session.commit()
    _fan_out(world)
    assert [d.channel for d in deliveries_to(world.sessions, chosen.actor.user_id)] == ["in_app"]
    assert deliveries_to(world.sessions, other.actor.user_id) == []


def test_a_team_hears_only_if_its_role_may_read_the_case(world: World) -> None:
    admin = world.user("admin", *TEAM)
    for role in ("broker", "analyst"):  # analysts read figures, never a case
        subscribe(
            world,
            admin,
            kind="case_escalated",
            channel="webhook",
            scope="team",
            role=role,
            address="https://hub.example.test/hook",
        )
    case_id = escalated_case(world, admin, NHS[6])
    _fan_out(world)
    with world.sessions() as session:
        recipients = session.scalars(
            select(NotificationDelivery.recipient)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .where(Notification.case_id == case_id)
        ).all()
    assert recipients == [f"team:{admin.org}:broker"]
