"""SQL for subscriptions, the outbox and deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.cases.scope import visible_to
from app.models import Case, Notification, NotificationDelivery, NotificationSubscription, User

PENDING, SENT, DEAD = "pending", "sent", "dead"


class NotificationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- subscriptions ---------------------------------------------------------------------
    def add_subscription(self, subscription: NotificationSubscription) -> None:
        self.session.add(subscription)
        self.session.flush()

    def subscription(self, subscription_id: int) -> NotificationSubscription | None:
        return self.session.get(NotificationSubscription, subscription_id)

    def subject_exists(self, subject: str, kind: str, channel: str) -> bool:
        stmt = select(NotificationSubscription.id).where(
            NotificationSubscription.subject == subject,
            NotificationSubscription.kind == kind,
            NotificationSubscription.channel == channel,
        )
        return self.session.execute(stmt).first() is not None

    def subscriptions_for(
        self, *, user_id: int, organisation: str | None
    ) -> list[NotificationSubscription]:
        """The person's own subscriptions, and with `organisation` its team and organisation
        subscriptions too (for its administrators)."""
        mine = NotificationSubscription.user_id == user_id
        condition = mine
        if organisation is not None:
            condition = mine | (
                (NotificationSubscription.organisation == organisation)
                & NotificationSubscription.user_id.is_(None)
            )
        stmt = (
            select(NotificationSubscription).where(condition).order_by(NotificationSubscription.id)
        )
        return list(self.session.execute(stmt).scalars())

    def delete_subscription(self, subscription: NotificationSubscription) -> None:
        self.session.delete(subscription)
        self.session.flush()

    def subscribers(
        self, kind: str
    ) -> list[Row[tuple[NotificationSubscription, str | None, bool | None]]]:
        """Every subscription to `kind`, with its person's roles and whether they are active
        (None for a team's or an organisation's)."""
        stmt = (
            select(NotificationSubscription, User.roles, User.active)
            .outerjoin(User, User.id == NotificationSubscription.user_id)
            .where(NotificationSubscription.kind == kind)
            .order_by(NotificationSubscription.id)
        )
        return list(self.session.execute(stmt).tuples())  # type: ignore[arg-type]

    # -- the outbox --------------------------------------------------------------------------
    def claim_unfanned(self, limit: int) -> list[Notification]:
        """Notifications not fanned out yet, oldest first, locked; rows another worker holds
        are skipped. SQLite ignores the locking clause; its single writer lock serialises
        workers instead."""
        stmt = (
            select(Notification)
            .where(Notification.fanned_out_at.is_(None))
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.execute(stmt).scalars())

    def add_deliveries(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert deliveries; one that exists already (same notification, recipient and
        channel) is left as it is: nothing is delivered twice."""
        insert = (
            pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        if rows:
            # An executemany: SQLAlchemy sends it as a few multi-row INSERTs (insertmanyvalues).
            self.session.execute(
                insert(NotificationDelivery).on_conflict_do_nothing(
                    index_elements=["notification_id", "recipient", "channel"]
                ),
                list(rows),
            )

    # -- sending -----------------------------------------------------------------------------
    def claim_due(
        self, now: datetime, limit: int, lease: timedelta
    ) -> list[Row[tuple[NotificationDelivery, Notification, NotificationSubscription | None]]]:
        """Email and webhook deliveries due an attempt, locked (skipping those another sender
        holds), each counted as an attempt and leased: its next attempt moves `lease` ahead,
        so a sender that dies mid-send leaves it to be tried again then."""
        stmt = (
            select(NotificationDelivery, Notification, NotificationSubscription)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .outerjoin(
                NotificationSubscription,
                NotificationSubscription.id == NotificationDelivery.subscription_id,
            )
            .where(
                NotificationDelivery.status == PENDING, NotificationDelivery.next_attempt_at <= now
            )
            .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
            .limit(limit)
            .with_for_update(of=NotificationDelivery, skip_locked=True)
        )
        rows = list(self.session.execute(stmt).tuples())
        for delivery, _notification, _subscription in rows:
            delivery.attempts += 1
            delivery.next_attempt_at = now + lease
        return rows  # type: ignore[return-value]

    def record(
        self,
        delivery_id: int,
        *,
        attempt: int,
        status: str,
        now: datetime,
        next_attempt_at: datetime | None,
        error: str | None,
    ) -> None:
        """The outcome of attempt `attempt` (ignored if the delivery moved on meanwhile)."""
        self.session.execute(
            update(NotificationDelivery)
            .where(
                NotificationDelivery.id == delivery_id,
                NotificationDelivery.status == PENDING,
                NotificationDelivery.attempts == attempt,
            )
            .values(
                status=status,
                next_attempt_at=next_attempt_at,
                last_error=error,
                sent_at=now if status == SENT else None,
            )
        )

    # -- reading -----------------------------------------------------------------------------
    def inbox(
        self, user_id: int, organisation: str, *, before: int | None, limit: int
    ) -> list[Row[tuple[NotificationDelivery, Notification]]]:
        """The person's in-app notifications, newest first: of a case only while their
        organisation may still see it (a share withdrawn since takes it out of the inbox)."""
        visible = exists().where(Case.id == Notification.case_id, visible_to(organisation))
        stmt = (
            select(NotificationDelivery, Notification)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .where(
                NotificationDelivery.user_id == user_id,
                NotificationDelivery.channel == "in_app",
                or_(Notification.case_id.is_(None), visible),
            )
            .order_by(NotificationDelivery.notification_id.desc())
            .limit(limit)
        )
        if before is not None:
            stmt = stmt.where(NotificationDelivery.notification_id < before)
        return list(self.session.execute(stmt).tuples())  # type: ignore[arg-type]

    def inbox_item(self, user_id: int, notification_id: int) -> NotificationDelivery | None:
        stmt = select(NotificationDelivery).where(
            NotificationDelivery.user_id == user_id,
            NotificationDelivery.channel == "in_app",
            NotificationDelivery.notification_id == notification_id,
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def dead_letters(
        self, organisation: str, *, before: int | None, limit: int
    ) -> list[Row[tuple[NotificationDelivery, Notification]]]:
        stmt = (
            select(NotificationDelivery, Notification)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .where(
                NotificationDelivery.organisation == organisation,
                NotificationDelivery.status == DEAD,
            )
            .order_by(NotificationDelivery.id.desc())
            .limit(limit)
        )
        if before is not None:
            stmt = stmt.where(NotificationDelivery.id < before)
        return list(self.session.execute(stmt).tuples())  # type: ignore[arg-type]

    def delivery(self, delivery_id: int, organisation: str) -> NotificationDelivery | None:
        stmt = (
            select(NotificationDelivery)
            .where(
                NotificationDelivery.id == delivery_id,
                NotificationDelivery.organisation == organisation,
            )
            .with_for_update()
        )
        return self.session.execute(stmt).scalar_one_or_none()
