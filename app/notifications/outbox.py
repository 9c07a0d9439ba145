"""`notify`: the one call a change makes to tell people about itself.

It writes one outbox row in the caller's session, so the notification commits with the change
or not at all, and costs the change one insert however many people subscribe: the delivery job
(`app.notifications.fanout`) finds the subscribers and delivers, outside the transaction.

A notification carries a case id, a link and a summary, never the record: a summary holding
what looks like an NHS number is refused (the caller's bug, not the reader's problem).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Notification, User
from app.notifications.kinds import KINDS, case_link

# Ten digits in a row, spaced or not (an NHS number's shapes).
_NHS_LIKE = re.compile(r"\d{3}[ -]?\d{3}[ -]?\d{4}")


def notify(
    session: Session,
    *,
    kind: str,
    case_id: int | None,
    link: str,
    summary: str,
    now: datetime,
    organisations: Iterable[str] = (),
    teams: Iterable[tuple[str, str]] = (),
    people: Iterable[int] = (),
) -> Notification:
    """Stage one notification of `kind` in the caller's transaction.

    With no targets, every subscriber of the kind who may see the case hears of it; with
    targets, only subscriptions of those organisations, teams ((organisation, role)) or people
    (user ids). Either way a recipient who may not see the case is never told of it.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if _NHS_LIKE.search(summary) or _NHS_LIKE.search(link):
        raise ValueError("a notification must not carry an NHS number")
    row = Notification(
        kind=kind,
        case_id=case_id,
        link=link[:500],
        summary=summary[:500],
        targets={
            "organisations": sorted(set(organisations)),
            "teams": sorted({(org, role) for org, role in teams}),
            "people": sorted(set(people)),
        },
        created_at=now,
        fanned_out_at=None,
    )
    session.add(row)
    return row


def notify_recipient(
    session: Session,
    *,
    kind: str,
    case_id: int,
    summary: str,
    now: datetime,
    organisation: str,
    role: str | None = None,
    username: str | None = None,
) -> Notification:
    """Stage a notification for one owner: the person `username` of `organisation` when there
    is such a user, else the team `role` of it, else the whole organisation."""
    people: list[int] = []
    if username:
        found = session.execute(
            select(User.id).where(User.organisation == organisation, User.username == username)
        ).scalar_one_or_none()
        people = [found] if found is not None else []
    return notify(
        session,
        kind=kind,
        case_id=case_id,
        link=case_link(case_id),
        summary=summary,
        now=now,
        people=people,
        teams=[(organisation, role)] if role and not people else [],
        organisations=[organisation] if not role and not people else [],
    )
