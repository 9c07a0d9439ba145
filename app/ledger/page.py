"""The manager's delay ledger screen at /dashboard/ledger: the period's Pareto tables (reason,
responsible organisation, pathway, ward) with an accessible bar in each row (a <meter>, no
script or inline style), drill-down to the patients, and the partner statements with the form
that publishes one. The same figures as /api/v1/ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.api_shared import log_read
from app.dashboard import service as dashboard_service
from app.dashboard.drd_return import Month
from app.deps import SessionDep
from app.errors import DomainError
from app.ledger import statements
from app.ledger.service import Basis, ledger, select
from app.ledger.statements import PUBLISH_ROLES
from app.ledger.views import BY_FIELDS, patients, summary, totals
from app.ledger.wiring import ledger_parts
from app.timeutil import LONDON, london_date, utcnow
from app.web.access import PageForbidden, PageUser, page_needs
from app.web.templating import render

router = APIRouter(prefix="/dashboard/ledger", include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]
Reader = Annotated[PageUser, page_needs("ledger.read")]
TITLES = {
    "reason": "By delay reason",
    "organisation": "By responsible organisation",
    "pathway": "By planned pathway",
    "ward": "By ward",
}


@router.get("")
def ledger_page(
    request: Request,
    user: Reader,
    db: SessionDep,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    site: Text = None,
    ward: Text = None,
    basis: Basis = "days",
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    actor = user.actor
    ctx, config = ledger_parts(request)
    now = utcnow()
    today = london_date(now)
    first, last = _period(first, last, now)
    site, ward = site or None, ward or None
    error = None
    tables: list[dict[str, Any]] = []
    head: dict[str, Any] = {}
    try:
        found = ledger(
            db,
            first=first,
            last=last,
            organisation=actor.organisation,
            now=now,
            ctx=ctx,
            config=config,
            site=site,
            ward=ward,
            basis=basis,
        )
        for by in BY_FIELDS:
            body = summary(found, config, by)
            head = body
            tables.append({"by": by, "title": TITLES[by], "rows": body["rows"]})
        items = statements.read_statements(
            db, reader=actor.organisation, now=now, ctx=ctx, config=config
        )
    except DomainError as exc:
        error, items = exc.detail, []
    query = {"from": first.isoformat(), "to": last.isoformat(), "basis": basis}
    query.update({k: v for k, v in (("site", site), ("ward", ward)) if v})
    return render(
        request,
        "ledger.html",
        actor=actor,
        page_title="Delay ledger",
        error=error,
        head=head,
        as_at=_london(head["as_at"]) if head else None,
        tables=tables,
        first=first.isoformat(),
        last=last.isoformat(),
        today=today.isoformat(),
        site=site,
        ward=ward,
        basis=basis,
        sites=dashboard_service.sites(db, actor.organisation),
        wards=dashboard_service.wards(db, actor.organisation),
        query=urlencode(query),
        statements=items,
        may_publish=actor.role_for(PUBLISH_ROLES) is not None,
        organisations=config.organisations,
        done=done,
        last_month=_previous(today),
    )


@router.get("/patients")
def ledger_patients_page(
    request: Request,
    user: Annotated[PageUser, page_needs("ledger.patients")],
    db: SessionDep,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    site: Text = None,
    ward: Text = None,
    basis: Basis = "days",
    reason: Text = None,
    organisation: Text = None,
    pathway: Text = None,
) -> Response:
    actor = user.actor
    ctx, config = ledger_parts(request)
    now = utcnow()
    first, last = _period(first, last, now)
    found = ledger(
        db,
        first=first,
        last=last,
        organisation=actor.organisation,
        now=now,
        ctx=ctx,
        config=config,
        site=site,
        ward=ward,
        basis=basis,
    )
    chosen = select(found.shares, reason=reason, organisation=organisation, pathway=pathway)
    rows = patients(found, chosen)
    log_read(request, db, actor, [p.case_id for p in rows])
    identifiers = user.grant is not None and user.grant.identifiers
    filters = {"reason": reason, "organisation": organisation, "pathway": pathway, "ward": ward}
    return render(
        request,
        "ledger_patients.html",
        actor=actor,
        page_title="Delay ledger: patients",
        rows=rows,
        identifiers=identifiers,
        totals=totals(chosen),
        filters={k: v for k, v in filters.items() if v},
        first=first.isoformat(),
        last=last.isoformat(),
        basis=basis,
        case_links=request.app.state.access.grant("cases.read", actor.roles) is not None,
    )


@router.post("/statements")
def publish_statement_form(
    request: Request,
    user: Reader,
    db: SessionDep,
    month: Annotated[str, Form(max_length=7)],
    responsible: Annotated[str, Form(max_length=64)],
    first: Annotated[date | None, Form(alias="from")] = None,
    last: Annotated[date | None, Form(alias="to")] = None,
) -> Response:
    actor = user.actor
    if actor.role_for(PUBLISH_ROLES) is None:
        raise PageForbidden("publishing a partner statement")
    ctx, config = ledger_parts(request)
    statements.publish(
        db,
        organisation=actor.organisation,
        username=actor.username,
        responsible=responsible,
        month=Month.parse(month),
        now=utcnow(),
        ctx=ctx,
        config=config,
    )
    period = {"from": first.isoformat(), "to": last.isoformat()} if first and last else {}
    back = urlencode({**period, "done": "published"})
    return RedirectResponse(f"/dashboard/ledger?{back}#statements", status_code=303)


def _previous(today: date) -> str:
    first = today.replace(day=1)
    year, month = (first.year - 1, 12) if first.month == 1 else (first.year, first.month - 1)
    return f"{year:04d}-{month:02d}"


def _period(first: date | None, last: date | None, now: datetime) -> tuple[date, date]:
    """The period asked for; by default this month up to today."""
    today = london_date(now)
    return first or today.replace(day=1), last or today


def _london(instant: str) -> str:
    """An ISO instant as the ward reads it: London time with the zone's name."""
    at = datetime.fromisoformat(instant).astimezone(LONDON)
    return f"{at:%d %b %Y %H:%M} {at.tzname()}"
