"""One run of the notifications job (`homefirst worker`, app/worker.py): fan the outbox out to
deliveries, then send the email and webhook deliveries that are due."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from app.auth.access import AccessPolicy, load_access
from app.config import Settings
from app.notifications.delivery import RetryPolicy, SendReport, send_due
from app.notifications.email import SmtpSender
from app.notifications.fanout import fan_out
from app.notifications.message import Sender
from app.notifications.webhook import WebhookSender

log = logging.getLogger("homefirst.notifications")


@dataclass(frozen=True)
class NotificationJob:
    sessions: sessionmaker[Session]
    policy: AccessPolicy
    senders: dict[str, Sender]
    retry: RetryPolicy
    public_base_url: str

    @classmethod
    def of(cls, settings: Settings, sessions: sessionmaker[Session]) -> NotificationJob:
        return cls(
            sessions,
            load_access(settings.pathways_dir / "config"),
            {
                "email": SmtpSender(settings),
                "webhook": WebhookSender(timeout=settings.notification_webhook_timeout_seconds),
            },
            RetryPolicy.of(settings),
            settings.public_base_url,
        )

    def run(self, now: datetime) -> tuple[int, SendReport]:
        """The deliveries written by the fan-out, and what the sending did."""
        fanned = fan_out(self.sessions, policy=self.policy, now=now)
        sent = send_due(
            self.sessions,
            self.senders,
            retry=self.retry,
            public_base_url=self.public_base_url,
            now=now,
        )
        if fanned or sent.sent or sent.retried or sent.dead:
            log.info(
                "notifications",
                extra={
                    "event": "notifications",
                    "deliveries": fanned,
                    "sent": sent.sent,
                    "retried": sent.retried,
                    "dead": sent.dead,
                },
            )
        return fanned, sent
