"""/notifications: your inbox, your subscriptions, and your organisation's dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.admin.service import ADMIN_ROLES
from app.auth.needs import ANY_USER, needs_role
from app.deps import CurrentActor, SessionDep, SettingsDep
from app.notifications import service
from app.notifications.schemas import (
    DeadLetters,
    Inbox,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)
from app.security.inputs import MAX_ID
from app.timeutil import utcnow

router = APIRouter(prefix="/notifications", tags=["notifications"])
MANAGES = needs_role(ADMIN_ROLES, "managing notification dead letters")
Cursor = Annotated[str | None, Query(max_length=100)]
Limit = Annotated[int, Query(ge=1)]


def _problems(answers: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"description": text, "content": {"application/problem+json": {}}}
        for code, text in answers.items()
    }


@router.get("", response_model=Inbox, openapi_extra=ANY_USER)
def my_inbox(
    actor: CurrentActor,
    db: SessionDep,
    settings: SettingsDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Inbox:
    """Your notifications in the app, newest first (a link and a summary; open the case for
    more, as your access allows)."""
    return service.inbox(db, actor=actor, cursor=cursor, limit=min(limit, settings.max_page_size))


@router.post(
    "/{notification_id}/read",
    status_code=204,
    responses=_problems({404: "Not a notification of yours"}),
    openapi_extra=ANY_USER,
)
def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=MAX_ID)], actor: CurrentActor, db: SessionDep
) -> None:
    """Mark one of your notifications read."""
    service.mark_read(db, actor=actor, notification_id=notification_id, now=utcnow())


@router.get("/subscriptions", response_model=list[SubscriptionRead], openapi_extra=ANY_USER)
def list_subscriptions(actor: CurrentActor, db: SessionDep) -> list[SubscriptionRead]:
    """Your subscriptions; for an administrator, also the organisation's and its teams'."""
    return service.list_subscriptions(db, actor=actor)


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=_problems(
        {
            403: "A team's or organisation's subscription needs the admin role",
            409: "`already_subscribed`: that subject already has this kind on this channel",
            422: "Invalid data (a webhook for a person, an unknown role, a bad address)",
        }
    ),
    openapi_extra=ANY_USER,
)
def subscribe(body: SubscriptionCreate, actor: CurrentActor, db: SessionDep) -> SubscriptionCreated:
    """Subscribe yourself (in the app, or by email), or as an administrator a team or your
    organisation (email to a shared mailbox, or a signed webhook). A webhook's `secret` is in
    this answer only: keep it to verify the signatures."""
    return service.subscribe(db, actor=actor, body=body, now=utcnow())


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    responses=_problems({404: "Not a subscription you manage"}),
    openapi_extra=ANY_USER,
)
def unsubscribe(
    subscription_id: Annotated[int, Path(ge=1, le=MAX_ID)], actor: CurrentActor, db: SessionDep
) -> None:
    """Remove one of your subscriptions (an administrator: also the organisation's)."""
    service.unsubscribe(db, actor=actor, subscription_id=subscription_id)


@router.get(
    "/dead-letters",
    response_model=DeadLetters,
    responses=_problems({403: "Needs the admin role"}),
    dependencies=[MANAGES],
)
def dead_letters(
    actor: CurrentActor,
    db: SessionDep,
    settings: SettingsDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DeadLetters:
    """Your organisation's email and webhook deliveries that ran out of attempts."""
    return service.dead_letters(
        db, actor=actor, cursor=cursor, limit=min(limit, settings.max_page_size)
    )


@router.post(
    "/dead-letters/{delivery_id}/retry",
    status_code=204,
    responses=_problems({403: "Needs the admin role", 404: "No such dead letter of yours"}),
    dependencies=[MANAGES],
)
def retry_dead_letter(
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ID)], actor: CurrentActor, db: SessionDep
) -> None:
    """Send a dead letter again, with its attempts starting afresh."""
    service.retry_dead_letter(db, actor=actor, delivery_id=delivery_id, now=utcnow())
