"""What leaves the service for one email or webhook delivery: the kind, the case's id, a link
and a summary, never patient data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.notifications.kinds import TITLES


class DeliveryFailed(Exception):
    """An attempt failed; the message says why in words safe to store and log (no secret,
    no address)."""


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    notification_id: int
    kind: str
    case_id: int | None
    link: str  # absolute: the service's public address and the notification's link
    summary: str
    created_at: datetime
    channel: str
    address: str
    secret: str | None

    @property
    def title(self) -> str:
        return TITLES.get(self.kind, self.kind)

    def body(self) -> bytes:
        """The webhook's JSON body (compact, keys sorted: the bytes that are signed)."""
        payload = {
            "delivery_id": self.delivery_id,
            "notification_id": self.notification_id,
            "kind": self.kind,
            "case_id": self.case_id,
            "link": self.link,
            "summary": self.summary,
            "created_at": self.created_at.isoformat(),
        }
        return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class Sender(Protocol):
    def send(self, message: Outgoing) -> None:
        """Deliver `message` or raise `DeliveryFailed`."""
