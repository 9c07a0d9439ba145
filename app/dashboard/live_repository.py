"""SQL aggregates over the discharge spell projection: today's figures without re-deriving
every spell (the plain derivation in `app.dashboard.service` stays as the cross-check).

Each predicate mirrors one in `app.discharge.metrics`. The projection keeps only
the latest period of not meeting the criteria to reside; for a snapshot at the present moment
that is the only period that can be open at it or overlap today (an earlier period ended before
the latest began, and no event lies in the future), which is why these figures are for today
only: finished days come from stored snapshots or the plain derivation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from app.discharge.drd import drd_cohort
from app.discharge.metrics import (
    NOT_RECORDED,
    REASONS_MIN_STAY,
    Aggregates,
    Discharged,
    SiteCounts,
)
from app.models import CaseShare
from app.models.spell import DischargeDelayPeriod as P
from app.models.spell import DischargeSpell as S


class LiveRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def aggregates(
        self,
        *,
        organisation: str,
        site: str | None,
        ward: str | None = None,
        day: date,
        day_start: datetime,
        day_end: datetime,
        at: datetime,
        at_us: int,
        family_precedence: Sequence[str],
    ) -> Aggregates:
        spells = _candidates(organisation, site, ward, day_start, at)
        agg = Aggregates()
        self._spells(agg, spells, day, day_start, min(day_end, at), at)
        self._discharges(agg, spells, day_start, at)
        agg.primaries, agg.primaries_long_stay = self._primaries(spells, day, at, family_precedence)
        agg.support = self._support(spells, day_start, at, at_us)
        return agg

    def _spells(
        self,
        agg: Aggregates,
        spells: ColumnElement[bool],
        day: date,
        day_start: datetime,
        until: datetime,
        at: datetime,
    ) -> None:
        inpatient = _in_hospital(at)
        remaining = and_(inpatient, _nctr_at(at))
        on_day = and_(
            S.nctr_last_start < until,
            or_(S.nctr_last_end.is_(None), S.nctr_last_end > day_start),
            S.admitted_at < until,
            or_(S.left_at.is_(None), S.left_at >= day_start),
        )
        is_in = case((inpatient, 1), else_=0).label("is_in")
        is_rem = case((remaining, 1), else_=0).label("is_rem")
        on = case((on_day, 1), else_=0).label("on_day")
        esc = case((and_(inpatient, S.escalated), 1), else_=0).label("esc")
        stay = case((inpatient, S.admitted_day), else_=None).label("stay_from")
        drd = case((remaining, func.coalesce(S.drd_day, day.toordinal())), else_=None).label("drd")
        edd = case((and_(inpatient, S.edd_day.is_not(None)), 1), else_=0).label("edd")
        passed = case((and_(inpatient, S.edd_day < day.toordinal()), 1), else_=0).label("passed")
        keys = (S.hospital_system, S.site, is_in, is_rem, on, esc, stay, drd, edd, passed)
        stmt = select(*keys, func.count().label("n")).where(spells).group_by(*keys)
        today = day.toordinal()
        for row in self.session.execute(stmt):
            agg.nctr_on_day += row.on_day * row.n
            if not row.is_in:
                continue
            counts = agg.sites.setdefault((row.hospital_system or "", row.site or ""), SiteCounts())
            counts.inpatients += row.n
            counts.escalated += row.esc * row.n
            agg.with_edd += row.edd * row.n
            agg.edd_passed += row.passed * row.n
            agg.stays[today - row.stay_from] += row.n
            if row.is_rem:
                counts.nctr_remaining += row.n
                agg.remaining_days[today - row.drd] += row.n
                agg.remaining_stays[(today - row.stay_from, today - row.drd)] += row.n

    def _discharges(
        self, agg: Aggregates, spells: ColumnElement[bool], day_start: datetime, at: datetime
    ) -> None:
        # Not meeting the criteria at discharge: the last period ran up to the discharge (the
        # final-period rule keeps a DRD for a patient who met the criteria again, not this).
        nctr = and_(S.nctr_last_start.is_not(None), S.nctr_last_end == S.discharged_at)
        stmt = (
            select(
                S.hospital_system,
                S.site,
                S.admitted_day,
                S.discharged_day,
                S.drd_day,
                S.discharge_pathway,
                S.first_edd_day,
                case((nctr, True), else_=False).label("nctr"),
            )
            .where(spells, S.discharged_at.is_not(None), S.discharged_at >= day_start)
            .where(S.discharged_at <= at)
            .order_by(S.case_id)
        )
        for row in self.session.execute(stmt):
            drd = date.fromordinal(row.drd_day) if row.drd_day is not None else None
            agg.sites.setdefault((row.hospital_system or "", row.site or ""), SiteCounts())
            agg.discharges.append(
                Discharged(
                    drd_cohort(
                        date.fromordinal(row.admitted_day),
                        date.fromordinal(row.discharged_day),
                        drd,
                    ),
                    bool(row.nctr),
                    row.discharge_pathway,
                    row.hospital_system,
                    row.site,
                    None if row.first_edd_day is None else row.discharged_day - row.first_edd_day,
                )
            )

    def _primaries(
        self, spells: ColumnElement[bool], day: date, at: datetime, precedence: Sequence[str]
    ) -> tuple[Counter[tuple[str, str | None]], Counter[tuple[str, str | None]]]:
        """The primary reason of each patient still delayed: the rule of
        `app.discharge.primary_reason.choose_primary_reason`, as a window over the open periods;
        all of them, and those whose length of stay is at least `REASONS_MIN_STAY` days."""
        code: Any = P.code
        if self.session.get_bind().dialect.name == "postgresql":
            code = P.code.collate("C")  # Python's plain string order, not the locale's
        family_rank = (
            case(
                *((P.family == family, rank) for rank, family in enumerate(precedence)),
                else_=len(precedence),
            )
            if precedence
            else literal(0, Integer)
        )
        rank = (
            func.row_number()
            .over(
                partition_by=P.case_id,
                order_by=(
                    case((P.marked_primary, 0), else_=1),
                    family_rank,
                    P.started_us,
                    P.recorded_at,
                    code,
                    P.ordinal,
                ),
            )
            .label("rank")
        )
        long_stay = case(
            (S.admitted_day <= day.toordinal() - REASONS_MIN_STAY, True), else_=False
        ).label("long_stay")
        ranked = (
            select(P.code, P.family, long_stay, rank)
            .join(S, S.case_id == P.case_id)
            .where(spells, _in_hospital(at), _nctr_at(at))
            .where(P.started_at <= at, or_(P.ended_at.is_(None), P.ended_at > at))
            .subquery()
        )
        stmt = (
            select(ranked.c.code, ranked.c.family, ranked.c.long_stay, func.count())
            .where(ranked.c.rank == 1)
            .group_by(ranked.c.code, ranked.c.family, ranked.c.long_stay)
        )
        every: Counter[tuple[str, str | None]] = Counter()
        longer: Counter[tuple[str, str | None]] = Counter()
        for c, f, is_long, n in self.session.execute(stmt):
            every[(c, f)] += n
            if is_long:
                longer[(c, f)] += n
        return every, longer

    def _support(
        self, spells: ColumnElement[bool], day_start: datetime, at: datetime, at_us: int
    ) -> dict[str, tuple[int, int]]:
        ended_by_then = and_(P.ended_at.is_not(None), P.ended_at <= at)
        length = case((ended_by_then, P.ended_us), else_=at_us) - P.started_us
        stmt = (
            select(P.support_area, func.count(), func.sum(length))
            .join(S, S.case_id == P.case_id)
            .where(spells, P.started_at <= at)
            .where(or_(P.ended_at.is_(None), P.ended_at > at, P.ended_at >= day_start))
            .group_by(P.support_area)
        )
        totals: dict[str, tuple[int, int]] = {}
        for area, n, total in self.session.execute(stmt):
            key = area or NOT_RECORDED
            before = totals.get(key, (0, 0))
            totals[key] = (before[0] + n, before[1] + int(total))
        return totals


def _candidates(
    organisation: str, site: str | None, ward: str | None, day_start: datetime, at: datetime
) -> ColumnElement[bool]:
    """The spells a day's figures can touch: visible to the organisation, opened by the
    snapshot, not closed before the day began, admitted by the snapshot; on `ward` if given
    (the row's ward is the one at the present moment, which is when live figures are taken)."""
    shared = exists().where(CaseShare.case_id == S.case_id, CaseShare.organisation == organisation)
    conditions: list[Any] = [
        or_(S.closed_at.is_(None), S.closed_at >= day_start),
        or_(S.organisation == organisation, shared),
        S.opened_at <= at,
        S.admitted_at.is_not(None),
        S.admitted_at <= at,
    ]
    if site is not None:
        conditions.append(S.site == site)
    if ward is not None:
        conditions.append(S.ward == ward)
    return and_(*conditions)


def _in_hospital(at: datetime) -> ColumnElement[bool]:
    return and_(S.admitted_at <= at, or_(S.left_at.is_(None), S.left_at > at))


def _nctr_at(at: datetime) -> ColumnElement[bool]:
    return and_(
        S.nctr_last_start.is_not(None),
        S.nctr_last_start <= at,
        or_(S.nctr_last_end.is_(None), S.nctr_last_end > at),
    )
