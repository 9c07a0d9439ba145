"""Notifications (README "Notifications"): who wants to hear of what, the outbox an event is
written to in the transaction that caused it, and one delivery record per recipient and channel.

- `notification_subscriptions`: a person (`user_id`), a team (an organisation's holders of
  `role`) or a whole organisation subscribed to one kind on one channel. A webhook's secret is
  kept to sign each delivery and never shown again after creation.
- `notifications`: the outbox. One row per event, written with the change that caused it;
  `fanned_out_at` is set once the delivery job has written its deliveries. It carries a case id,
  a link and a summary without patient data, never the record.
- `notification_deliveries`: one per (notification, recipient, channel), unique, so a fan-out
  that runs twice delivers nothing twice. In-app deliveries are the recipient's inbox; email and
  webhook deliveries are sent by the job with retries and end `sent` or `dead` (dead letters).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK


class NotificationSubscription(Base):
    __tablename__ = "notification_subscriptions"
    # One subscription per subject, kind and channel: `subject` is "user:<id>",
    # "team:<organisation>:<role>" or "org:<organisation>" (the delivery's recipient too).
    __table_args__ = (UniqueConstraint("subject", "kind", "channel"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    # in_app | email | webhook
    channel: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    role: Mapped[str | None] = mapped_column(String(32))
    # The email address or the webhook URL; None in the app.
    address: Mapped[str | None] = mapped_column(String(500))
    # HMAC-SHA256 key of a webhook; shown once, when the subscription is made.
    secret: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class Notification(Base):
    __tablename__ = "notifications"
    # The delivery job's claim: the rows not fanned out yet, oldest first.
    __table_args__ = (Index("ix_notifications_pending", "fanned_out_at", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    link: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(String(500))
    # Whom the caller addressed ({"organisations": [...], "teams": [[org, role]], "people":
    # [...]}); empty: every subscriber of the kind who may see the case.
    targets: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    fanned_out_at: Mapped[datetime | None]


class NotificationDelivery(Base):
    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "recipient", "channel"),
        # The sender's claim: pending deliveries whose next attempt is due.
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("notifications.id", ondelete="RESTRICT")
    )
    subscription_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("notification_subscriptions.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(16))
    # The recipient's organisation (an administrator sees its own dead letters) and, for a
    # person, their user id (their inbox).
    organisation: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # pending | sent | dead (in_app deliveries are `sent` when written)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
