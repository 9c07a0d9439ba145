"""Building cases and reading the notification tables in the notification tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.models import Notification, NotificationDelivery
from tests.conftest import TestUser
from tests.discharge.helpers import fire, open_case
from tests.helpers import Api
from tests.notifications.conftest import World

TEAM = ("discharge_team", "huddle_chair")
REASON = "Daughter cannot manage the stairs at 14 Acacia Avenue"  # free text: never sent


def escalated_case(world: World, owner: TestUser, nhs: str) -> int:
    """A discharge case of `owner`'s organisation, escalated (one case_escalated notification)."""
    api = Api(world.client, owner.headers)
    case_id = int(open_case(api, nhs, site="RQ601")["id"])
    escalate(world, owner, case_id)
    return case_id


def escalate(world: World, user: TestUser, case_id: int, expect: int = 200) -> None:
    fire(
        Api(world.client, user.headers),
        case_id,
        "raise_escalation",
        data={"escalation_reason": REASON},
        expect=expect,
    )


def clear(world: World, user: TestUser, case_id: int) -> None:
    fire(Api(world.client, user.headers), case_id, "clear_escalation")


def subscribe(world: World, user: TestUser, expect: int = 201, **body: Any) -> dict[str, Any]:
    r = world.client.post("/api/v1/notifications/subscriptions", json=body, headers=user.headers)
    assert r.status_code == expect, r.text
    return dict(r.json())


def share(world: World, owner: TestUser, case_id: int, org: str) -> None:
    r = world.client.post(
        f"/api/v1/cases/{case_id}/shares",
        json={"organisation": org, "reason": "works the case"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text


def notifications_of(sessions: sessionmaker[Session], case_id: int) -> list[Notification]:
    with sessions() as session:
        stmt = select(Notification).where(Notification.case_id == case_id).order_by(Notification.id)
        return list(session.execute(stmt).scalars())


def deliveries_to(sessions: sessionmaker[Session], user_id: int) -> list[NotificationDelivery]:
    with sessions() as session:
        stmt = (
            select(NotificationDelivery)
            .where(NotificationDelivery.user_id == user_id)
            .order_by(NotificationDelivery.id)
        )
        return list(session.execute(stmt).scalars())


def delivery_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(NotificationDelivery)) or 0)
