"""`/actions`: "My actions", the list a person works from (issue 17, item 4).

The same list as `GET /api/v1/actions`: the actions and milestones owned by the person, their
teams or their organisation, past their due time first, filtered by site, pathway and kind.
Each row links to its case, where it is completed, moved or explained with the case's forms.
Reading needs `actions.list`; NHS numbers only for a grant with identifiers; every view is in
the access audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.actions import service
from app.actions.schemas import ActionRead, Assignee, KindFilter, StatusFilter
from app.api_shared import log_read
from app.cases.schemas import CODE_PATTERN
from app.deps import SessionDep
from app.timeutil import LONDON, utcnow
from app.web.access import PageUser, page_needs
from app.web.eventforms import humanise
from app.web.templating import render

router = APIRouter(include_in_schema=False)
READ = "actions.list"
PAGE_LIMIT = 200
SCOPES: dict[str, str] = {
    "me": "Assigned to me",
    "my-team": "My teams' and mine",
    "my-organisation": "My organisation's",
}
STATUSES: dict[str, str] = {"open": "Open", "done": "Done", "all": "All"}
PATHWAYS = ("P0", "P1", "P2", "P3", "P3b")
KINDS: dict[str, str] = {"action": "Actions", "milestone": "Milestones"}


@dataclass(frozen=True)
class Row:
    item: ActionRead
    patient: str
    owner: str
    due: str
    late_text: str


@router.get("/actions", response_class=HTMLResponse)
def my_actions_page(
    request: Request,
    user: Annotated[PageUser, page_needs(READ)],
    db: SessionDep,
    assignee: Assignee = "my-team",
    status: Annotated[StatusFilter, Query()] = "open",
    site: Annotated[str | None, Query(pattern=CODE_PATTERN)] = None,
    pathway: Annotated[str | None, Query(pattern=r"^P[0-3]b?$")] = None,
    kind: KindFilter | None = None,
    overdue: bool = False,
) -> Response:
    now = utcnow()
    assert user.grant is not None  # noqa: S101 - page_needs(READ) gives one
    listed = service.my_actions(
        db,
        actor=user.actor,
        grant=user.grant,
        assignee=assignee,
        status=status,
        site=site,
        pathway=pathway,
        kind=kind,
        overdue_only=overdue,
        now=now,
        limit=PAGE_LIMIT,
    )
    log_read(request, db, user.actor, [item.case_id for item in listed.items])
    query = {
        "assignee": assignee,
        "status": status,
        "site": site,
        "pathway": pathway,
        "kind": kind,
        "overdue": overdue,
    }
    return render(
        request,
        "actions.html",
        actor=user.actor,
        page_title="My actions",
        listed=listed,
        rows=[_row(item) for item in listed.items],
        query=query,
        filters=_filters(query),
        filtered=any(query[k] for k in ("site", "pathway", "kind", "overdue")),
        scope_text=SCOPES[assignee],
        as_of=_when(now),
        api_url="/api/v1/actions?" + urlencode({k: v for k, v in query.items() if v}),
    )


def _row(item: ActionRead) -> Row:
    patient = f"NHS number {item.patient_ref}" if item.patient_ref else f"Case {item.case_id}"
    owner = item.owner_organisation + (f", {humanise(item.owner_role)}" if item.owner_role else "")
    if item.assignee:
        owner += f" ({item.assignee})"
    late = ""
    if item.late and item.minutes_late is not None:
        late = _span(item.minutes_late) + (" overdue" if item.overdue else " late")
    return Row(item, patient, owner, _when(item.due_at), late)


def _span(minutes: int) -> str:
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def _when(at: datetime) -> str:
    return at.astimezone(LONDON).strftime("%a %d %b %Y %H:%M")


def _filters(query: Mapping[str, object]) -> dict[str, list[dict[str, object]]]:
    def items(
        options: dict[str, str], chosen: object, blank: str | None
    ) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        if blank is not None:
            out.append({"value": "", "text": blank, "selected": not chosen})
        out += [{"value": k, "text": v, "selected": chosen == k} for k, v in options.items()]
        return out

    return {
        "assignee": items(SCOPES, query["assignee"], None),
        "status": items(STATUSES, query["status"], None),
        "pathway": items({p: p for p in PATHWAYS}, query["pathway"], "Any pathway"),
        "kind": items(KINDS, query["kind"], "Actions and milestones"),
    }


assert set(SCOPES) == set(get_args(Assignee))  # noqa: S101 - every scope has words
