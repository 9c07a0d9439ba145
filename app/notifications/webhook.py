"""Signed webhooks over httpx.

Each request carries `X-HomeFirst-Timestamp` (Unix seconds), `X-HomeFirst-Signature`
(`sha256=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` keyed with the subscription's
secret) and `X-HomeFirst-Delivery` (the delivery's id: the same on every retry, so a receiver
can ignore one it already has). Any 2xx answer is success; anything else is tried again later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from app.notifications.message import DeliveryFailed, Outgoing

TIMESTAMP, SIGNATURE, DELIVERY, EVENT = (
    "X-HomeFirst-Timestamp",
    "X-HomeFirst-Signature",
    "X-HomeFirst-Delivery",
    "X-HomeFirst-Event",
)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"{timestamp}.{body}"` (what a receiver recomputes)."""
    signed = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, *, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        self.timeout = timeout
        self.transport = transport

    def send(self, message: Outgoing) -> None:
        if not message.secret:
            raise DeliveryFailed("the webhook has no secret")
        body = message.body()
        # The real clock, whatever time the job was told it is: receivers compare it with theirs.
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP: timestamp,
            SIGNATURE: f"sha256={signature(message.secret, timestamp, body)}",
            DELIVERY: str(message.delivery_id),
            EVENT: message.kind,
        }
        try:
            with httpx.Client(
                timeout=self.timeout, follow_redirects=False, transport=self.transport
            ) as client:
                response = client.post(message.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook: {type(exc).__name__}") from None
        if not response.is_success:
            raise DeliveryFailed(f"webhook: HTTP {response.status_code}")
