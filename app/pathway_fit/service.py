"""The pathway-fit audit for a reader's organisation: the cohort and its later records read
(`repository`), the figures derived (`derive`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.errors import ValidationFailed
from app.ic.reports import period_bounds
from app.pathway_fit import derive
from app.pathway_fit.config import PathwayFitConfig
from app.pathway_fit.repository import PathwayFitRepository
from app.pathway_fit.schemas import PathwayFitReport, PathwayRow, PatientFitRead
from app.timeutil import DATE_RANGE_MSG, EARLIEST_DATE, in_date_range, london_date

MEASURE = (
    "LOCAL pathway-fit audit: discharges in the period by discharge pathway, each with its "
    "outcome {days} days after discharge (died, readmitted, care home, still at home, not at "
    "home, not contactable, no later record, pending: the first that holds) and re-referrals "
    "in that window. 'Possibly more intensive than needed' is an indicator for review, not a "
    "judgement."
)


@dataclass(frozen=True)
class Period:
    date_from: date
    date_to: date
    site: str | None


DEFAULT_DAYS = 364  # the default period: the year of days up to today


def choose_period(
    date_from: date | None, date_to: date | None, site: str | None, today: date
) -> Period:
    """The period asked for (by default the 365 days to today), its dates checked."""
    for name, day in (("from", date_from), ("to", date_to)):
        if day is not None and not in_date_range(day):
            raise ValidationFailed(f"{name} {DATE_RANGE_MSG}", field=name)
    last = date_to or today
    first = date_from or max(last - timedelta(days=DEFAULT_DAYS), EARLIEST_DATE)
    return Period(first, last, site or None)


def patient_fits(
    session: Session,
    *,
    config: PathwayFitConfig,
    organisation: str,
    period: Period,
    now: datetime,
) -> list[derive.PatientFit]:
    """Every discharge of the period the organisation may see, classified."""
    start, end = period_bounds(period.date_from, period.date_to)
    repo = PathwayFitRepository(session, organisation)
    cohort = repo.discharges(start, end, period.site)
    patients = sorted({d.patient_ref for d in cohort if d.patient_ref})
    episodes = repo.episodes(patients) if patients else []
    admissions = repo.admissions(patients) if patients else []
    today = london_date(now)
    # Each discharge is classified against its own patient's records only.
    by_episode: dict[str, list[derive.Episode]] = defaultdict(list)
    for e in episodes:
        by_episode[e.patient_ref or ""].append(e)
    by_admission: dict[str, list[derive.Admission]] = defaultdict(list)
    for a in admissions:
        by_admission[a.patient_ref or ""].append(a)
    return [
        derive.classify(
            d,
            by_episode.get(d.patient_ref or "", []) if d.patient_ref else [],
            by_admission.get(d.patient_ref or "", []) if d.patient_ref else [],
            config,
            today,
        )
        for d in cohort
    ]


def report(
    fits: list[derive.PatientFit], config: PathwayFitConfig, period: Period, now: datetime
) -> PathwayFitReport:
    rows = derive.summarise(fits)
    return PathwayFitReport(
        as_of=now,
        date_from=period.date_from,
        date_to=period.date_to,
        site=period.site,
        window_days=config.window_days,
        measure=MEASURE.format(days=config.window_days),
        pathways=[_row(r) for r in rows],
        total=_row(derive.total(rows)),
    )


def _row(row: derive.PathwayFigures) -> PathwayRow:
    return PathwayRow(
        pathway=row.pathway,
        discharges=row.discharges,
        outcomes=dict(row.outcomes),
        outcome_percent={k: row.percent(v) for k, v in row.outcomes.items()},
        re_referred=row.re_referred,
        re_referrals=row.re_referrals,
        possibly_more_intensive=row.possibly_more_intensive,
    )


def patient_rows(
    fits: list[derive.PatientFit],
    *,
    pathway: str | None = None,
    outcome: str | None = None,
    more_intensive: bool | None = None,
    re_referred: bool | None = None,
) -> list[PatientFitRead]:
    out = []
    for fit in fits:
        d = fit.discharge
        if pathway is not None and (d.pathway or derive.NO_PATHWAY) != pathway:
            continue
        if outcome is not None and fit.outcome != outcome:
            continue
        if more_intensive is not None and fit.possibly_more_intensive != more_intensive:
            continue
        if re_referred is not None and (fit.re_referrals > 0) != re_referred:
            continue
        out.append(
            PatientFitRead(
                case_id=d.case_id,
                case_link=f"/tracker/cases/{d.case_id}",
                patient_ref=d.patient_ref,
                site=d.site,
                discharged_on=london_date(d.discharged_at),
                pathway=d.pathway,
                destination_code=d.destination_code,
                outcome=fit.outcome,
                evidence=fit.evidence,
                ic_outcome=fit.ic_outcome,
                window_ends=fit.window_ends,
                re_referrals=fit.re_referrals,
                re_referred=fit.re_referrals > 0,
                possibly_more_intensive=fit.possibly_more_intensive,
            )
        )
    return out
