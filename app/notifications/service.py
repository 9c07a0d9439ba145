"""Subscriptions, the inbox and dead letters: each use case one transaction.

A person manages their own subscriptions (in the app, or by email to an address they give). A
team's or the organisation's (a shared mailbox, a webhook into the organisation's systems) are
its administrators' to make and remove (`ADMIN_ROLES`, as for users). A webhook's secret is
made here, returned once, and never shown or logged again.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from pydantic import HttpUrl, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from app.admin.service import ADMIN_ROLES
from app.auth.actor import INTERNAL_ROLES, KNOWN_ROLES, Actor
from app.cursors import decode_cursor, encode_cursor
from app.db import UnitOfWork
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.models import NotificationSubscription
from app.notifications.repository import DEAD, PENDING, NotificationRepository
from app.notifications.schemas import (
    DeadLetter,
    DeadLetters,
    Inbox,
    InboxItem,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)

_URL = TypeAdapter(HttpUrl)
# A deliberately loose check: the mail server is the judge of an address.
_EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _is_admin(actor: Actor) -> bool:
    return actor.role_for(ADMIN_ROLES) is not None


def read(s: NotificationSubscription) -> SubscriptionRead:
    scope = "me" if s.user_id is not None else "team" if s.role else "organisation"
    return SubscriptionRead(
        id=s.id,
        kind=s.kind,
        channel=s.channel,
        scope=scope,
        organisation=s.organisation,
        role=s.role,
        address=s.address,
        created_at=s.created_at,
        created_by=s.created_by,
    )


def list_subscriptions(session: Session, *, actor: Actor) -> list[SubscriptionRead]:
    """Yours, and for an administrator your organisation's team and organisation ones."""
    rows = NotificationRepository(session).subscriptions_for(
        user_id=actor.user_id, organisation=actor.organisation if _is_admin(actor) else None
    )
    return [read(s) for s in rows]


def subscribe(
    session: Session, *, actor: Actor, body: SubscriptionCreate, now: datetime
) -> SubscriptionCreated:
    subject, address = _check(actor, body)
    repo = NotificationRepository(session)
    with UnitOfWork(session):
        if repo.subject_exists(subject, body.kind, body.channel):
            raise Conflict(
                f"already subscribed to {body.kind} by {body.channel}",
                code_hint="already_subscribed",
            )
        secret = secrets.token_urlsafe(32) if body.channel == "webhook" else None
        row = NotificationSubscription(
            subject=subject,
            kind=body.kind,
            channel=body.channel,
            organisation=actor.organisation,
            user_id=actor.user_id if body.scope == "me" else None,
            role=body.role if body.scope == "team" else None,
            address=address,
            secret=secret,
            created_at=now,
            created_by=actor.username,
        )
        repo.add_subscription(row)
        created = SubscriptionCreated(**read(row).model_dump(), secret=secret)
    return created


def _check(actor: Actor, body: SubscriptionCreate) -> tuple[str, str | None]:
    """The subscription's subject and address, or the refusal."""
    org = actor.organisation
    if body.scope == "me":
        if body.channel == "webhook":
            raise ValidationFailed(
                "webhooks are an organisation's or a team's (scope organisation or team)",
                code_hint="webhook_needs_scope",
            )
        subject = f"user:{actor.user_id}"
    else:
        if not _is_admin(actor):
            raise Forbidden(
                f"a {body.scope}'s subscriptions are managed by an administrator",
                required_roles=list(ADMIN_ROLES),
            )
        if body.channel == "in_app":
            raise ValidationFailed(
                "in the app is for a person (scope me); a team or organisation uses email or "
                "a webhook",
                code_hint="in_app_needs_person",
            )
        if body.scope == "team":
            if body.role is None or body.role not in KNOWN_ROLES - INTERNAL_ROLES:
                raise ValidationFailed("a team subscription names a known role", field="role")
            subject = f"team:{org}:{body.role}"
        else:
            subject = f"org:{org}"
    return subject, _address(body)


def _address(body: SubscriptionCreate) -> str | None:
    if body.channel == "in_app":
        return None
    text = (body.address or "").strip()
    if body.channel == "email":
        if not re.match(_EMAIL_SHAPE, text):
            raise ValidationFailed("email needs an email address", field="address")
        return text
    try:
        url = _URL.validate_python(text)
    except ValidationError:
        raise ValidationFailed("a webhook needs an http(s) URL", field="address") from None
    return str(url)


def unsubscribe(session: Session, *, actor: Actor, subscription_id: int) -> None:
    repo = NotificationRepository(session)
    with UnitOfWork(session):
        row = repo.subscription(subscription_id)
        mine = row is not None and row.user_id == actor.user_id
        managed = (
            row is not None
            and row.user_id is None
            and row.organisation == actor.organisation
            and _is_admin(actor)
        )
        if row is None or not (mine or managed):
            raise NotFound(f"subscription {subscription_id} not found")
        repo.delete_subscription(row)


def inbox(session: Session, *, actor: Actor, cursor: str | None, limit: int) -> Inbox:
    rows = NotificationRepository(session).inbox(
        actor.user_id,
        actor.organisation,
        before=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    page = rows[:limit]
    return Inbox(
        items=[
            InboxItem(
                id=n.id,
                kind=n.kind,
                case_id=n.case_id,
                link=n.link,
                summary=n.summary,
                created_at=n.created_at,
                read_at=d.read_at,
            )
            for d, n in page
        ],
        next_cursor=encode_cursor(page[-1][1].id) if len(rows) > limit else None,
    )


def mark_read(session: Session, *, actor: Actor, notification_id: int, now: datetime) -> None:
    with UnitOfWork(session):
        item = NotificationRepository(session).inbox_item(actor.user_id, notification_id)
        if item is None:
            raise NotFound(f"notification {notification_id} not found")
        if item.read_at is None:
            item.read_at = now


def dead_letters(session: Session, *, actor: Actor, cursor: str | None, limit: int) -> DeadLetters:
    """Your organisation's deliveries that ran out of attempts, newest first."""
    rows = NotificationRepository(session).dead_letters(
        actor.organisation, before=decode_cursor(cursor) if cursor else None, limit=limit + 1
    )
    page = rows[:limit]
    return DeadLetters(
        items=[
            DeadLetter(
                id=d.id,
                notification_id=n.id,
                kind=n.kind,
                case_id=n.case_id,
                recipient=d.recipient,
                channel=d.channel,
                attempts=d.attempts,
                last_error=d.last_error,
                created_at=d.created_at,
            )
            for d, n in page
        ],
        next_cursor=encode_cursor(page[-1][0].id) if len(rows) > limit else None,
    )


def retry_dead_letter(session: Session, *, actor: Actor, delivery_id: int, now: datetime) -> None:
    """Send a dead letter again: its attempts start afresh, due at once."""
    with UnitOfWork(session):
        delivery = NotificationRepository(session).delivery(delivery_id, actor.organisation)
        if delivery is None or delivery.status != DEAD:
            raise NotFound(f"dead letter {delivery_id} not found")
        delivery.status = PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = now
