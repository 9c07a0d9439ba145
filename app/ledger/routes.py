"""/api/v1/ledger: the delay ledger's Pareto tables, the patients behind them, and partner
statements (JSON and CSV). Figures cover the cases the caller's organisation owns or shares."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy.orm import Session

from app.api_shared import log_read
from app.auth.access import Grant
from app.auth.actor import Actor
from app.auth.needs import needs, needs_role
from app.cases.scope import ScopeRepository
from app.dashboard.drd_return import Month
from app.deps import CurrentActor, IdPath, SessionDep
from app.errors import NotFound
from app.ledger import exports, statements
from app.ledger.service import Basis, ledger, select
from app.ledger.statements import PUBLISH_ROLES
from app.ledger.views import By, LedgerPatients, explain, header, patients, summary, totals
from app.ledger.wiring import ledger_parts
from app.security.inputs import RequestModel
from app.timeutil import utcnow

router = APIRouter(prefix="/ledger", tags=["ledger"])
Site = Annotated[str | None, Query(max_length=64, description="One site; all sites if omitted")]
# What a CSV route answers, for the OpenAPI description.
CSV_ANSWER: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"content": {"text/csv": {}}}},
}
MONTH_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$"
First = Annotated[date, Query(alias="from", description="First London day of the period")]
Last = Annotated[date, Query(alias="to", description="Last London day (at most 366 days)")]
Ward = Annotated[
    str | None,
    Query(max_length=64, description="Only the delayed days spent on this ward (end of day)"),
]
BasisQ = Annotated[
    Basis,
    Query(
        description="days: delayed bed days that fell in the period; discharges: every delayed "
        "bed day of the period's discharges in the DRD cohort (the monthly DRD return's total)"
    ),
]
Key = Annotated[str | None, Query(max_length=64)]
MonthQ = Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM")]


class PublishStatement(RequestModel):
    month: str = Field(pattern=MONTH_PATTERN, description="A month that is over, YYYY-MM")
    responsible: str = Field(
        min_length=1, max_length=64, description="A responsible organisation's code (ledger.yaml)"
    )


@router.get("/summary", dependencies=[needs("ledger.read")])
def ledger_summary(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    first: First,
    last: Last,
    by: By = "reason",
    site: Site = None,
    ward: Ward = None,
    basis: BasisQ = "days",
) -> dict[str, Any]:
    """Delayed bed days and their cost by reason, organisation, pathway or ward, most first
    (a Pareto table with cumulative shares)."""
    return _summary(request, actor.organisation, db, first, last, by, site, ward, basis)


@router.get("/summary.csv", **CSV_ANSWER, dependencies=[needs("ledger.read")])
def ledger_summary_csv(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    first: First,
    last: Last,
    by: By = "reason",
    site: Site = None,
    ward: Ward = None,
    basis: BasisQ = "days",
) -> Response:
    """The Pareto table as CSV."""
    body = _summary(request, actor.organisation, db, first, last, by, site, ward, basis)
    return _csv(exports.summary_csv(body), f"delay-ledger-{by}-{first}-{last}.csv")


@router.get("/patients", response_model=LedgerPatients)
def ledger_patients(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("ledger.patients")],
    first: First,
    last: Last,
    site: Site = None,
    ward: Ward = None,
    basis: BasisQ = "days",
    reason: Key = None,
    organisation: Key = None,
    pathway: Key = None,
) -> LedgerPatients:
    """The patients behind a Pareto row (reason, responsible organisation, pathway, ward):
    their delayed bed days and cost in the period, by reason."""
    return _patients(
        request, actor, db, grant, first, last, site, ward, basis, reason, organisation, pathway
    )


@router.get("/patients.csv", **CSV_ANSWER)
def ledger_patients_csv(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    grant: Annotated[Grant, needs("ledger.patients")],
    first: First,
    last: Last,
    site: Site = None,
    ward: Ward = None,
    basis: BasisQ = "days",
    reason: Key = None,
    organisation: Key = None,
    pathway: Key = None,
) -> Response:
    """The drill-down as CSV."""
    found = _patients(
        request, actor, db, grant, first, last, site, ward, basis, reason, organisation, pathway
    )
    return _csv(exports.patients_csv(found), f"delay-ledger-patients-{first}-{last}.csv")


@router.get("/cases/{case_id}/days", dependencies=[needs("ledger.patients")])
def ledger_case_days(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    case_id: IdPath,
    first: First,
    last: Last,
    basis: BasisQ = "days",
) -> dict[str, Any]:
    """How one patient's figures were derived: each delayed bed day in the period, its reasons
    and their shares, the responsible organisation, pathway, ward, tariff and cost."""
    if not ScopeRepository(db).is_visible(case_id, actor.organisation):
        raise NotFound(f"case {case_id} not found")
    ctx, config = ledger_parts(request)
    found = ledger(
        db,
        first=first,
        last=last,
        organisation=actor.organisation,
        now=utcnow(),
        ctx=ctx,
        config=config,
        basis=basis,
    )
    mine = [s for s in found.shares if s.case_id == case_id]
    log_read(request, db, actor, [case_id])
    return {
        **header(found, config),
        "case_id": case_id,
        "totals": totals(mine),
        "days": explain(found, mine),
    }


@router.get("/statements", dependencies=[needs("ledger.read")])
def ledger_statements(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    month: MonthQ = None,
    responsible: Key = None,
) -> dict[str, Any]:
    """Partner statements your organisation published, or that name it as responsible: each as
    published and, where late entries changed the month's figures, as restated beside it."""
    items = _statements(request, actor.organisation, db, month, responsible)
    return {"count": len(items), "items": items}


@router.get("/statements.csv", **CSV_ANSWER, dependencies=[needs("ledger.read")])
def ledger_statements_csv(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    month: MonthQ = None,
    responsible: Key = None,
) -> Response:
    """The statements as CSV: one line per row of each version (as published, restated)."""
    items = _statements(request, actor.organisation, db, month, responsible)
    return _csv(exports.statements_csv(items), f"delay-ledger-statements-{month or 'all'}.csv")


@router.post("/statements", status_code=201)
def publish_statement(
    request: Request,
    actor: CurrentActor,
    db: SessionDep,
    body: PublishStatement,
    _role: Annotated[str, needs_role(PUBLISH_ROLES, "publishing a partner statement")],
) -> dict[str, Any]:
    """Publish a month's statement for a responsible organisation: frozen from now on."""
    ctx, config = ledger_parts(request)
    now = utcnow()
    statements.publish(
        db,
        organisation=actor.organisation,
        username=actor.username,
        responsible=body.responsible,
        month=Month.parse(body.month),
        now=now,
        ctx=ctx,
        config=config,
    )
    (item,) = _statements(request, actor.organisation, db, body.month, body.responsible, mine=True)
    return item


def _summary(
    request: Request,
    organisation: str,
    db: Session,
    first: date,
    last: date,
    by: By,
    site: str | None,
    ward: str | None,
    basis: Basis,
) -> dict[str, Any]:
    ctx, config = ledger_parts(request)
    found = ledger(
        db,
        first=first,
        last=last,
        organisation=organisation,
        now=utcnow(),
        ctx=ctx,
        config=config,
        site=site,
        ward=ward,
        basis=basis,
    )
    body = summary(found, config, by)
    body.update(site=site, ward=ward)
    return body


def _patients(
    request: Request,
    actor: Actor,
    db: Session,
    grant: Grant,
    first: date,
    last: date,
    site: str | None,
    ward: str | None,
    basis: Basis,
    reason: str | None,
    organisation: str | None,
    pathway: str | None,
) -> LedgerPatients:
    ctx, config = ledger_parts(request)
    found = ledger(
        db,
        first=first,
        last=last,
        organisation=actor.organisation,
        now=utcnow(),
        ctx=ctx,
        config=config,
        site=site,
        ward=ward,
        basis=basis,
    )
    chosen = select(found.shares, reason=reason, organisation=organisation, pathway=pathway)
    items = patients(found, chosen)
    log_read(request, db, actor, [p.case_id for p in items])
    out = LedgerPatients(
        header={**header(found, config), "site": site, "ward": ward},
        filters={"reason": reason, "organisation": organisation, "pathway": pathway},
        count=len(items),
        totals=totals(chosen),
        items=items,
    )
    return grant.reduce(out)


def _statements(
    request: Request,
    reader: str,
    db: Session,
    month: str | None,
    responsible: str | None,
    *,
    mine: bool = False,
) -> list[dict[str, Any]]:
    ctx, config = ledger_parts(request)
    items = statements.read_statements(
        db,
        reader=reader,
        now=utcnow(),
        ctx=ctx,
        config=config,
        month=Month.parse(month) if month else None,
        responsible=responsible,
    )
    return [i for i in items if i["organisation"] == reader] if mine else items


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
