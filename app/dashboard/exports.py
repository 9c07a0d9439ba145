"""National-return exports as CSV: the daily acute discharge return and the quarterly CHC
collection. Column names are the national ones where docs/domain.md gives them (§6.3, §7.7)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app import csvout
from app.auth.actor import Actor
from app.chc.config import ChcConfig
from app.chc.errors import REPORT_ROLES, require_role
from app.chc.quarterly import TRACKED, Quarter, quarterly_row
from app.chc.read_repository import ChcReadRepository
from app.dashboard import service
from app.dashboard.context import MetricsContext
from app.errors import ValidationFailed

MAX_DAYS = 93
# The three "additional bed days" series: exact published wording UNVERIFIED
# (docs/domain.md §13 U2).
ACUTE_COLUMNS = [
    "Date",
    "Hospital system",
    "Site",
    "Number of patients who no longer meet the criteria to reside",
    "Number of patients discharged",
    "Number of patients remaining in hospital who no longer meet the criteria to reside",
    "Number of additional bed days, patients with length of stay of 7 days or over",
    "Number of additional bed days, patients with length of stay of 14 days or over",
    "Number of additional bed days, patients with length of stay of 21 days or over",
]


def acute_daily_rows(
    session: Session,
    *,
    first: date,
    last: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
) -> list[list[Any]]:
    if last < first or (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"choose from 1 to {MAX_DAYS} days, with 'from' before 'to'")
    sites = [site] if site else service.sites(session, organisation)
    rows: list[list[Any]] = []
    day = first
    while day <= last:
        for one in sites:
            d = service.metrics_for(
                session, day=day, site=one, organisation=organisation, now=now, ctx=ctx
            )["discharge"]
            system = d["by_site"][0]["hospital_system"] if d["by_site"] else None
            los = d["length_of_stay"]
            rows.append(
                [
                    day.isoformat(),
                    system,
                    one,
                    d["nctr_on_day"],
                    d["discharged"],
                    d["nctr_remaining"],
                    los["7_plus"]["bed_days_beyond"],
                    los["14_plus"]["bed_days_beyond"],
                    los["21_plus"]["bed_days_beyond"],
                ]
            )
        day += timedelta(days=1)
    return rows


def chc_quarterly(
    session: Session, *, actor: Actor, quarter: Quarter, cfg: ChcConfig, now: datetime
) -> dict[str, Any]:
    require_role(actor, REPORT_ROLES, "exporting the CHC collection")
    reads = ChcReadRepository(session)
    events = reads.events_named(actor.organisation, TRACKED)
    clocks: dict[int, Any] = {}
    for clock in reads.clocks_named(actor.organisation, "chc_28_day"):
        clocks.setdefault(clock.case_id, clock)
    bands = [
        (b.key, float(b.from_weeks), None if b.to_weeks is None else float(b.to_weeks))
        for b in cfg.local.reporting.overdue_bands
    ]
    return quarterly_row(quarter, actor.organisation, events, clocks, bands, now)


def to_csv(header: list[str], rows: list[list[Any]]) -> str:
    return csvout.to_csv(header, rows)  # the one CSV writer: no cell can carry a formula
