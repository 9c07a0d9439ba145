"""From the outbox to deliveries: who hears of each notification, in the delivery job's own
transaction (never the causing change's).

A recipient hears of a case only if they may see it, by the same need-to-know as the case API:
the organisation must own the case or have it shared with it (`app.cases.scope`), and a person
or team must hold a role that `access.yaml` grants `cases.read` (a `shared_only` grant: only a
case shared with, not owned by, its organisation). An organisation's own subscription (its
webhook into its systems) needs only the organisation to see the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth.access import AccessPolicy
from app.cases.scope import ScopeRepository
from app.db import UnitOfWork
from app.models import Notification, NotificationSubscription
from app.notifications.repository import PENDING, SENT, NotificationRepository

CASE_READ = "cases.read"


@dataclass(frozen=True)
class CaseAudience:
    """Who may see one case: its owner and the organisations it is shared with."""

    owner: str | None
    shared: frozenset[str]

    def organisation_sees(self, organisation: str) -> bool:
        return organisation == self.owner or organisation in self.shared


def fan_out(
    sessions: sessionmaker[Session], *, policy: AccessPolicy, now: datetime, batch_size: int = 50
) -> int:
    """Fan out every notification waiting in the outbox; the number of deliveries written."""
    written = 0
    while True:
        with sessions() as session, UnitOfWork(session):
            repo = NotificationRepository(session)
            claimed = repo.claim_unfanned(batch_size)
            for notification in claimed:
                rows = deliveries_for(session, notification, policy=policy, now=now)
                repo.add_deliveries(rows)
                notification.fanned_out_at = now
                written += len(rows)
        if len(claimed) < batch_size:
            return written


def deliveries_for(
    session: Session, notification: Notification, *, policy: AccessPolicy, now: datetime
) -> list[dict[str, Any]]:
    """One delivery row for each subscription that is addressed and may see the case."""
    audience = None
    if notification.case_id is not None:
        organisations = ScopeRepository(session).organisations(notification.case_id)
        audience = CaseAudience(
            organisations[0] if organisations else None, frozenset(organisations[1:])
        )
    rows = []
    for subscription, roles, active in NotificationRepository(session).subscribers(
        notification.kind
    ):
        person_roles = frozenset((roles or "").split())
        if subscription.user_id is not None and not active:
            continue
        if not _addressed(notification.targets, subscription, person_roles):
            continue
        if audience is not None and not _may_see(policy, audience, subscription, person_roles):
            continue
        in_app = subscription.channel == "in_app"
        rows.append(
            {
                "notification_id": notification.id,
                "subscription_id": subscription.id,
                "recipient": subscription.subject,
                "channel": subscription.channel,
                "organisation": subscription.organisation,
                "user_id": subscription.user_id,
                "status": SENT if in_app else PENDING,
                "attempts": 0,
                "next_attempt_at": None if in_app else now,
                "last_error": None,
                "created_at": now,
                "sent_at": now if in_app else None,
                "read_at": None,
            }
        )
    return rows


def _addressed(
    targets: dict[str, Any], subscription: NotificationSubscription, roles: frozenset[str]
) -> bool:
    """Whether the notification's targets take in this subscription (no targets: all)."""
    organisations = set(targets.get("organisations") or ())
    teams = {(org, role) for org, role in targets.get("teams") or ()}
    people = set(targets.get("people") or ())
    if not (organisations or teams or people):
        return True
    org = subscription.organisation
    if org in organisations:
        return True
    if subscription.user_id is not None:
        return subscription.user_id in people or any((org, r) in teams for r in roles)
    return subscription.role is not None and (org, subscription.role) in teams


def _may_see(
    policy: AccessPolicy,
    audience: CaseAudience,
    subscription: NotificationSubscription,
    person_roles: frozenset[str],
) -> bool:
    org = subscription.organisation
    if subscription.user_id is None and subscription.role is None:
        return audience.organisation_sees(org)
    roles = person_roles if subscription.user_id is not None else {subscription.role or ""}
    grant = policy.grant(CASE_READ, roles)
    if grant is None:
        return False
    if grant.shared_only:
        return org in audience.shared and org != audience.owner
    return audience.organisation_sees(org)
