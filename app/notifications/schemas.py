"""What the notification routes take and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.notifications.kinds import Channel, Kind
from app.security.inputs import RequestModel

Scope = Literal["me", "team", "organisation"]


class SubscriptionCreate(RequestModel):
    """`me`: you, in the app or by email (to `address`). `team` (the holders of `role` in
    your organisation) and `organisation`: by email to a shared mailbox or by webhook to
    `address`, made by an administrator of your organisation."""

    kind: Kind
    channel: Channel
    scope: Scope = "me"
    role: str | None = Field(default=None, pattern=r"^[a-z_]{1,32}$")
    address: str | None = Field(default=None, max_length=500)


class SubscriptionRead(BaseModel):
    id: int
    kind: str
    channel: str
    scope: Scope
    organisation: str
    role: str | None
    address: str | None
    created_at: datetime
    created_by: str


class SubscriptionCreated(SubscriptionRead):
    # A webhook's signing secret, in this answer only: it is never shown again.
    secret: str | None = None


class InboxItem(BaseModel):
    id: int  # the notification's id
    kind: str
    case_id: int | None
    link: str
    summary: str
    created_at: datetime
    read_at: datetime | None


class Inbox(BaseModel):
    items: list[InboxItem]
    next_cursor: str | None


class DeadLetter(BaseModel):
    id: int  # the delivery's id
    notification_id: int
    kind: str
    case_id: int | None
    recipient: str
    channel: str
    attempts: int
    last_error: str | None
    created_at: datetime


class DeadLetters(BaseModel):
    items: list[DeadLetter]
    next_cursor: str | None
