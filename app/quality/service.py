"""The data-quality figures of a day, a range of days, and the patients behind them.

Read-only: the cases the organisation may see (owned or shared) and their events, through the
dashboard's and the discharge read side's repositories; the measures are the pure functions of
`app.quality.measures`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.calc.nhs_number import is_valid_nhs_number, normalise_nhs_number
from app.dashboard.repository import DashboardRepository
from app.discharge.history import EVENTS_OF_INTEREST
from app.discharge.metrics import snapshot_time
from app.discharge.repository import DischargeRepository
from app.discharge.wards import WARD_EVENTS
from app.errors import ValidationFailed
from app.quality.config import Problem, QualityConfig
from app.quality.measures import DayQuality, SpellInput, Tally, day_quality
from app.quality.schemas import (
    QualityDay,
    QualityPatient,
    QualityPatients,
    QualityRow,
    QualitySeries,
    QualitySeriesItem,
)
from app.timeutil import day_bounds, london_date

EVENTS = EVENTS_OF_INTEREST | WARD_EVENTS | {"open"}
CASE_PAGE = "/tracker/cases/{case_id}"


def load_spells(
    session: Session, *, first: date, last: date, site: str | None, organisation: str, now: datetime
) -> list[SpellInput]:
    """Every discharge case the organisation may see that a day from `first` to `last` can
    touch, with its events."""
    start, _ = day_bounds(first)
    cases = DashboardRepository(session).discharge_cases_touching(
        start, snapshot_time(last, now), site, organisation
    )
    events = DischargeRepository(session).events_by_case([c.id for c in cases], EVENTS)
    out = []
    for case in cases:
        admitted = (case.attributes or {}).get("admitted_at")
        if admitted is None:
            continue
        out.append(
            SpellInput(
                case.id,
                case.site,
                case.patient_ref,
                datetime.fromisoformat(admitted),
                events.get(case.id, []),
            )
        )
    return out


def _check_day(day: date, now: datetime) -> None:
    if day > london_date(now):
        raise ValidationFailed(f"{day.isoformat()} is in the future: no figures yet")


def _quality(
    session: Session,
    *,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
    cfg: QualityConfig,
) -> DayQuality:
    _check_day(day, now)
    spells = load_spells(
        session, first=day, last=day, site=site, organisation=organisation, now=now
    )
    return day_quality(spells, day=day, snapshot=snapshot_time(day, now), cfg=cfg)


def day_figures(
    session: Session,
    *,
    day: date,
    site: str | None,
    ward: str | None,
    organisation: str,
    now: datetime,
    cfg: QualityConfig,
) -> QualityDay:
    q = _quality(session, day=day, site=site, organisation=organisation, now=now, cfg=cfg)
    wards = {w: t for w, t in q.wards.items() if ward is None or w == ward}
    total = Tally()
    for t in wards.values():
        total.add(t)
    return QualityDay(
        date=day,
        as_at=q.snapshot,
        final=q.snapshot < now,
        organisation=organisation,
        site=site,
        ward=ward,
        settings=cfg.model_dump(mode="json"),
        wards=[row(w, t, cfg) for w, t in wards.items()],
        total=row(None, total, cfg),
    )


def series(
    session: Session,
    *,
    first: date,
    last: date,
    site: str | None,
    ward: str | None,
    organisation: str,
    now: datetime,
    cfg: QualityConfig,
) -> QualitySeries:
    """The total (or one ward's) measures of each day from `first` to `last`."""
    if last < first or (last - first).days >= cfg.max_series_days:
        raise ValidationFailed(
            f"choose up to {cfg.max_series_days} days, 'from' not after 'to'",
            max_days=cfg.max_series_days,
        )
    _check_day(last, now)
    spells = load_spells(
        session, first=first, last=last, site=site, organisation=organisation, now=now
    )
    items = []
    day = first
    while day <= last:
        snapshot = snapshot_time(day, now)
        q = day_quality(spells, day=day, snapshot=snapshot, cfg=cfg)
        total = Tally()
        for w, t in q.wards.items():
            if ward is None or w == ward:
                total.add(t)
        items.append(
            QualitySeriesItem(date=day, final=snapshot < now, **row(ward, total, cfg).model_dump())
        )
        day += timedelta(days=1)
    return QualitySeries(organisation=organisation, site=site, ward=ward, items=items)


def patients(
    session: Session,
    *,
    day: date,
    measure: Problem | None,
    site: str | None,
    ward: str | None,
    organisation: str,
    now: datetime,
    cfg: QualityConfig,
) -> QualityPatients:
    """The patients to fix: each finding of the day (of one measure, or all), by case."""
    q = _quality(session, day=day, site=site, organisation=organisation, now=now, cfg=cfg)
    items = [
        QualityPatient(
            case_id=f.case_id,
            nhs_number=_nhs_number(f.patient_ref),
            site=f.site,
            ward=f.ward,
            measure=f.measure,
            in_census=f.in_census,
            link=CASE_PAGE.format(case_id=f.case_id),
            detail=f.detail,
        )
        for f in sorted(q.findings, key=lambda f: (f.ward, f.case_id, f.measure))
        if (measure is None or f.measure == measure) and (ward is None or f.ward == ward)
    ]
    return QualityPatients(
        date=day,
        as_at=q.snapshot,
        organisation=organisation,
        site=site,
        ward=ward,
        measure=measure,
        count=len(items),
        items=items,
    )


def row(ward: str | None, t: Tally, cfg: QualityConfig) -> QualityRow:
    return QualityRow(
        ward=ward,
        census=t.census,
        with_status=t.with_status,
        with_status_percent=percent(t.with_status, t.census),
        ctr_entries=t.ctr_entries,
        backdated=t.backdated,
        backdated_percent=percent(t.backdated, t.ctr_entries),
        backdated_by={label: t.backdated_by.get(label, 0) for label in cfg.band_labels()},
        flip_flops=t.flip_flops,
        delayed=t.delayed,
        delayed_no_reason=t.delayed_no_reason,
        delayed_no_reason_percent=percent(t.delayed_no_reason, t.delayed),
        reason_while_meeting=t.reason_while_meeting,
        with_problem=t.with_problem,
        score_percent=percent(t.census - t.with_problem, t.census),
    )


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def case_ids(items: Iterable[QualityPatient]) -> list[int]:
    return sorted({i.case_id for i in items})


def _nhs_number(ref: str | None) -> str | None:
    if ref is None or not is_valid_nhs_number(ref):
        return None  # a local reference, not an NHS number
    return normalise_nhs_number(ref)
