"""Sending email and webhook deliveries, outside any case's transaction.

Each run claims the deliveries due an attempt (`SKIP LOCKED` on PostgreSQL, so several workers
never send the same one at once), commits the claim, sends, and records each outcome in a
transaction of its own. A failure is tried again after an exponential backoff with jitter; once
the attempts run out the delivery is dead (a dead letter an administrator can retry). A sender
that dies mid-send leaves its claim to lapse (the lease), and the delivery is tried again: the
receiver tells a repeat by its delivery id.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import UnitOfWork
from app.models import Notification, NotificationDelivery, NotificationSubscription
from app.notifications.message import DeliveryFailed, Outgoing, Sender
from app.notifications.repository import DEAD, PENDING, SENT, NotificationRepository

log = logging.getLogger("homefirst.notifications")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float
    lease: timedelta

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.notification_max_attempts,
            settings.notification_retry_base_seconds,
            settings.notification_retry_max_seconds,
            timedelta(seconds=settings.notification_lease_seconds),
        )

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """After failed attempt `attempt` (1-based): base * 2^(attempt-1), capped, less up to
        half at random (so many failures at once do not all come back together)."""
        full = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return timedelta(seconds=full * (0.5 + rng.random() / 2))


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def send_due(
    sessions: sessionmaker[Session],
    senders: dict[str, Sender],
    *,
    retry: RetryPolicy,
    public_base_url: str,
    now: datetime,
    batch_size: int = 50,
    rng: random.Random | None = None,
) -> SendReport:
    """Attempt every email and webhook delivery due at `now`, one batch at a time."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
    report = SendReport()
    while True:
        with sessions() as session, UnitOfWork(session):
            claimed = [
                (outgoing(d, n, s, public_base_url), d.attempts)
                for d, n, s in NotificationRepository(session).claim_due(
                    now, batch_size, retry.lease
                )
            ]
        for message, attempt in claimed:
            _attempt(
                sessions, senders, message, attempt, retry=retry, now=now, rng=rng, report=report
            )
        if len(claimed) < batch_size:
            return report


def outgoing(
    delivery: NotificationDelivery,
    notification: Notification,
    subscription: NotificationSubscription | None,
    public_base_url: str,
) -> Outgoing:
    return Outgoing(
        delivery_id=delivery.id,
        notification_id=notification.id,
        kind=notification.kind,
        case_id=notification.case_id,
        link=public_base_url.rstrip("/") + notification.link,
        summary=notification.summary,
        created_at=notification.created_at,
        channel=delivery.channel,
        address=(subscription.address if subscription else None) or "",
        secret=subscription.secret if subscription else None,
    )


def _attempt(
    sessions: sessionmaker[Session],
    senders: dict[str, Sender],
    message: Outgoing,
    attempt: int,
    *,
    retry: RetryPolicy,
    now: datetime,
    rng: random.Random,
    report: SendReport,
) -> None:
    error: str | None = None
    try:
        sender = senders.get(message.channel)
        if sender is None:
            raise DeliveryFailed(f"no sender for channel {message.channel}")
        if not message.address:
            raise DeliveryFailed("the subscription is gone")
        sender.send(message)
    except DeliveryFailed as exc:
        error = str(exc)
    if error is None:
        status, next_at = SENT, None
        report.sent += 1
    elif attempt >= retry.max_attempts:
        status, next_at = DEAD, None
        report.dead += 1
    else:
        status, next_at = PENDING, now + retry.delay(attempt, rng)
        report.retried += 1
    with sessions() as session, UnitOfWork(session):
        NotificationRepository(session).record(
            message.delivery_id,
            attempt=attempt,
            status=status,
            now=now,
            next_attempt_at=next_at,
            error=error,
        )
    log.info(
        "notification delivery",
        extra={
            "event": "notification_delivery",
            "delivery_id": message.delivery_id,
            "channel": message.channel,
            "kind": message.kind,
            "attempt": attempt,
            "outcome": status,
            "error": error,
        },
    )
