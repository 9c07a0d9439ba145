"""National-return exports as CSV: the daily and weekly acute discharge returns and the
quarterly CHC collection. Column and metric names are the national ones
(the audit of published definitions, PUBLISHED-RULES.md §2.2; docs/domain.md §6.3, §7.7).

- Daily: the sitrep's three daily series. "Number of patients discharged" counts patients
  discharged while not meeting the criteria to reside ("the number of patients discharged … or
  remaining in hospital" of the NCTR patients, PUBLISHED-RULES.md row 10), not every discharge.
- Weekly: the "additional bed days" series and the delay reasons, for NCTR patients whose
  length of stay is 7 (14, 21) days or more, as a snapshot at the end of each week (rows 8
  and 11). The long format is the published CSV's (`Period, ..., Metric Group, Metric, Value`).
- Days stored before the definitions changed (`definitions` below 2 in the stored figures)
  have those cells empty: their stored counts used the old definitions and a reported day is
  never recomputed.
"""

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
from app.dashboard.snapshots import Figures
from app.errors import ValidationFailed
from app.timeutil import london_date

MAX_DAYS = 93
MAX_WEEKS = 27
# The weekly snapshot is taken at the end of Sunday, the last day of an NHS week (Monday to
# Sunday). UNVERIFIED: the acute sitrep specification was not readable; see README.
WEEK_ENDS_ON = 6  # date.weekday() of Sunday
# HomeFirst's own last two columns, after the national ones: which figures a row gives, and
# when late entries restated that day (app.dashboard.restatements).
WHICH_FIGURES = ("Figures", "Restated at")
ACUTE_COLUMNS = [
    "Date",
    "Hospital system",
    "Site",
    "Number of patients who no longer meet the criteria to reside",
    "Number of patients discharged",
    "Number of patients remaining in hospital who no longer meet the criteria to reside",
    *WHICH_FIGURES,
]
ADDITIONAL_BED_DAYS = (
    "Number of additional bed days, patients with length of stay of {} days or over"
)
WEEKLY_COLUMNS = [
    "Period",
    "Organisation",
    "Hospital system",
    "Site",
    "Metric Group",
    "Metric",
    "Value",
    *WHICH_FIGURES,
]
# Metric groups: "Delay reason LOS 7+" is the published group name; the bed-days group's name
# was not found (UNVERIFIED), so it is HomeFirst's.
BED_DAYS_GROUP = "Additional bed days"
REASONS_GROUP = "Delay reason LOS 7+"
NO_REASON = "No delay reason recorded"


def acute_daily_rows(
    session: Session,
    *,
    first: date,
    last: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    ward: str | None = None,
    figures: Figures = "as_reported",
) -> list[list[Any]]:
    if last < first or (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"choose from 1 to {MAX_DAYS} days, with 'from' before 'to'")
    sites = [site] if site else service.sites(session, organisation, ward)
    place = _place(ward, organisation, now, ctx, figures)
    rows: list[list[Any]] = []
    day = first
    while day <= last:
        for one in sites:
            m = service.metrics_for(session, day=day, site=one, **place)
            d = m["discharge"]
            system = d["by_site"][0]["hospital_system"] if d["by_site"] else None
            rows.append(
                [
                    day.isoformat(),
                    system,
                    one,
                    d["nctr_on_day"],
                    d.get("discharged_nctr"),  # absent from days stored before definitions 2
                    d["nctr_remaining"],
                    *which_figures(m),
                ]
            )
        day += timedelta(days=1)
    return rows


def acute_weekly_rows(
    session: Session,
    *,
    first: date,
    last: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    ward: str | None = None,
    figures: Figures = "as_reported",
) -> list[list[Any]]:
    """For each week ending (a Sunday) from `first` to `last` that is over, per site: the
    additional bed days of NCTR patients with a length of stay of 7, 14 and 21+ days, and those
    patients with LOS 7+ by primary delay reason, as at the end of the Sunday."""
    if last < first or (last - first).days >= MAX_WEEKS * 7:
        raise ValidationFailed(f"choose up to {MAX_WEEKS} weeks, with 'from' before 'to'")
    today = london_date(now)
    sunday = first + timedelta(days=(WEEK_ENDS_ON - first.weekday()) % 7)
    sites = [site] if site else service.sites(session, organisation, ward)
    place = _place(ward, organisation, now, ctx, figures)
    rows: list[list[Any]] = []
    while sunday <= last and sunday < today:
        for one in sites:
            m = service.metrics_for(session, day=sunday, site=one, **place)
            d = m["discharge"]
            system = d["by_site"][0]["hospital_system"] if d["by_site"] else None
            head = [sunday.isoformat(), organisation, system, one]
            tail = which_figures(m)
            extra = d.get("additional_bed_days")  # absent from days stored before definitions 2
            for t in (7, 14, 21):
                value = extra[f"{t}_plus"]["bed_days"] if extra else None
                rows.append([*head, BED_DAYS_GROUP, ADDITIONAL_BED_DAYS.format(t), value, *tail])
            for reason in d.get("delay_reasons_los_7_plus") or []:
                metric = reason["label"] or reason["code"]
                rows.append([*head, REASONS_GROUP, metric, reason["patients"], *tail])
            if extra:
                with_reason = sum(r["patients"] for r in d["delay_reasons_los_7_plus"])
                missing = extra["7_plus"]["patients"] - with_reason
                rows.append([*head, REASONS_GROUP, NO_REASON, missing, *tail])
        sunday += timedelta(days=7)
    return rows


def _place(
    ward: str | None, organisation: str, now: datetime, ctx: MetricsContext, figures: Figures
) -> dict[str, Any]:
    """What every day's figures of a return are asked for with, besides the day and site."""
    return {"ward": ward, "organisation": organisation, "now": now, "ctx": ctx, "figures": figures}


def which_figures(m: dict[str, Any]) -> list[Any]:
    """The last two cells of a return's row: which figures it gives ("as reported", "restated",
    or "live" for today's) and when late entries restated the day, if they did."""
    restatement = m.get("restatement")
    given = m.get("figures", "live").replace("_", " ")
    return [given, restatement["computed_at"] if restatement else None]


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
    return quarterly_row(
        quarter,
        actor.organisation,
        events,
        clocks,
        bands,
        now,
        locations=cfg.local.sub_icb_locations,
    )


def to_csv(header: list[str], rows: list[list[Any]]) -> str:
    return csvout.to_csv(header, rows)  # the one CSV writer: no cell can carry a formula
