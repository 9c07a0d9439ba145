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

from sqlalchemy.orm import Session

from app.models import Notification
from app.notifications.kinds import KINDS

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
