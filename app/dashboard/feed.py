"""The change feed for other systems: every event after a cursor, safe to poll."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.cursors import decode_cursor, encode_cursor
from app.dashboard.repository import DashboardRepository
from app.engine.catalogue import PathwayCatalogue

RFD_TAG = "rfd-list"


class FeedItem(BaseModel):
    cursor: str
    event_id: int
    case_id: int
    workflow: str
    seq: int
    event: str
    from_state: str | None
    to_state: str
    occurred_at: datetime
    recorded_at: datetime
    organisation: str
    site: str | None
    # True when the event leaves the case on the Ready-for-Discharge list: consumers refresh
    # that row; False when it takes the case off (or it never was on).
    on_rfd_list: bool


class Feed(BaseModel):
    items: list[FeedItem]
    next_cursor: str | None
    note: str = (
        "Poll with cursor=next_cursor. An event appears only once no earlier-numbered event can "
        "still commit, so polling never skips one; an empty page means nothing new yet."
    )


def read_feed(
    session: Session,
    *,
    catalogue: PathwayCatalogue,
    cursor: str | None,
    limit: int,
    workflow: str | None,
    organisation: str,
) -> Feed:
    after = decode_cursor(cursor) if cursor else 0
    rows = DashboardRepository(session).events_after(after, limit, workflow, organisation)
    items = []
    for event, case in rows:
        loaded = catalogue.get(event.pathway_key, event.pathway_version)
        tags = loaded.spec.state(event.to_state).tags if loaded else ()
        items.append(
            FeedItem(
                cursor=encode_cursor(event.id),
                event_id=event.id,
                case_id=event.case_id,
                workflow=case.workflow_key,
                seq=event.seq,
                event=event.event,
                from_state=event.from_state,
                to_state=event.to_state,
                occurred_at=event.occurred_at,
                recorded_at=event.recorded_at,
                organisation=case.organisation,
                site=case.site,
                on_rfd_list=RFD_TAG in tags,
            )
        )
    return Feed(items=items, next_cursor=items[-1].cursor if items else cursor)
