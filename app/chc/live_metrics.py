"""The CHC part of the daily metrics as a handful of SQL aggregates.

The figures are those of `app.chc.reports.chc_report` for a one-day period (which stays the
definition, and the test suite compares the two); this module reads only what a day can change
instead of every CHC event and clock of the organisation:

- events *occurring* on the day can only have been *recorded* from the day's start minus the
  allowed clock skew (`TimePolicy.future_skew`) onwards, so the indexed `recorded_at` bounds the
  scan;
- a decision counts when it is its case's first: only the day's deciding cases are checked for
  an earlier one;
- overdue referrals are counted by the 28-day clocks still running, banded in SQL, leaving out
  cases on the Fast Track route (reported apart from the standard 28-day figures);
- referrals leave out notices that a negative Checklist showed were not referrals for full
  consideration, and Fast Track cases, as known when the figures are made.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from app.chc.config import ChcConfig
from app.chc.reports import FIRST_DECISIONS, STANDARD_DECISIONS
from app.models import Case, CaseEvent, ChcWorkItem, Clock
from app.timeutil import day_bounds

CHC = "chc"
DAY_CLOCK = "chc_28_day"
DECISIONS = FIRST_DECISIONS


class ChcLiveRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def events_of_day(
        self, organisation: str, names: tuple[str, ...], day: date, skew: timedelta
    ) -> list[Any]:
        """The organisation's CHC events with the given names whose clinical time falls on the
        day, oldest id first."""
        start, end = day_bounds(day)
        stmt = (
            select(CaseEvent.id, CaseEvent.case_id, CaseEvent.event, CaseEvent.data)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                CaseEvent.recorded_at >= start - skew,
                CaseEvent.occurred_at >= start,
                CaseEvent.occurred_at < end,
                CaseEvent.event.in_(names),
                Case.workflow_key == CHC,
                Case.organisation == organisation,
            )
            .order_by(CaseEvent.id)
        )
        return list(self.session.execute(stmt))

    def first_decision_ids(self, case_ids: list[int]) -> dict[int, int]:
        """Each case's first deciding event id (any day)."""
        if not case_ids:
            return {}
        stmt = (
            select(CaseEvent.case_id, func.min(CaseEvent.id))
            .where(CaseEvent.case_id.in_(case_ids), CaseEvent.event.in_(DECISIONS))
            .group_by(CaseEvent.case_id)
        )
        return {case_id: first for case_id, first in self.session.execute(stmt).tuples()}  # noqa: C416

    def not_standard_referrals(self, case_ids: list[int]) -> set[int]:
        """Of these cases, those screened out by a negative Checklist or on the Fast Track route
        (as recorded now)."""
        if not case_ids:
            return set()
        stmt = select(CaseEvent.case_id).where(
            CaseEvent.case_id.in_(case_ids), CaseEvent.event.in_(("screen_out", "fast_track"))
        )
        return set(self.session.execute(stmt).scalars())

    def first_day_clocks(self, case_ids: list[int]) -> dict[int, tuple[float, int]]:
        """(consumed, budget) seconds of each case's first 28-day clock."""
        if not case_ids:
            return {}
        stmt = (
            select(Clock.case_id, Clock.consumed_seconds, Clock.budget_seconds)
            .where(Clock.case_id.in_(case_ids), Clock.name == DAY_CLOCK)
            .order_by(Clock.case_id, Clock.cycle.desc())
        )
        return {c: (used, budget) for c, used, budget in self.session.execute(stmt).tuples()}

    def overdue(
        self,
        organisation: str,
        now: datetime,
        target: timedelta,
        bands: list[tuple[int, int | None]],
    ) -> tuple[int, list[int]]:
        """Running first-cycle 28-day clocks older than the target: how many, and how many in
        each band of weeks beyond it."""
        earlier = aliased(Clock)
        first_cycle = ~exists().where(
            earlier.case_id == Clock.case_id,
            earlier.name == Clock.name,
            earlier.cycle < Clock.cycle,
        )
        due = now - target
        week = timedelta(weeks=1)
        columns: list[Any] = [func.count()]
        for from_weeks, to_weeks in bands:
            inside = [Clock.started_at <= due - from_weeks * week]
            if to_weeks is not None:
                inside.append(Clock.started_at > due - to_weeks * week)
            columns.append(func.coalesce(func.sum(case((and_(*inside), 1), else_=0)), 0))
        stmt = (
            select(*columns)
            .join(Case, Case.id == Clock.case_id)
            .where(
                Clock.name == DAY_CLOCK,
                Clock.state == "running",
                Clock.started_at < due,
                Case.workflow_key == CHC,
                Case.organisation == organisation,
                Case.state != "fast_track",  # pathway v1: the clock runs on in Fast Track
                first_cycle,
            )
        )
        row = self.session.execute(stmt).one()
        return int(row[0]), [int(n) for n in row[1:]]

    def backlog(self, organisation: str, states: list[str]) -> dict[str, dict[str, int]]:
        stmt = (
            select(ChcWorkItem.cohort, ChcWorkItem.rag, func.count())
            .join(Case, Case.id == ChcWorkItem.case_id)
            .where(
                ChcWorkItem.organisation == organisation,
                Case.workflow_key == CHC,
                Case.is_open.is_(True),
                Case.state.in_(states),
            )
            .group_by(ChcWorkItem.cohort, ChcWorkItem.rag)
        )
        out: dict[str, dict[str, int]] = {}
        for cohort, rag, n in self.session.execute(stmt).tuples():
            out.setdefault(cohort, {"red": 0, "amber": 0, "green": 0})[rag] = int(n)
        return out


def chc_day_figures(
    session: Session,
    *,
    cfg: ChcConfig,
    organisation: str,
    states: list[str],
    day: date,
    now: datetime,
    skew: timedelta,
) -> dict[str, Any]:
    rep = cfg.local.reporting
    repo = ChcLiveRepository(session)
    opened = repo.events_of_day(organisation, ("open",), day, skew)
    others = repo.not_standard_referrals([e.case_id for e in opened])
    referrals = [e for e in opened if e.case_id not in others]
    deciding = repo.events_of_day(organisation, DECISIONS, day, skew)
    firsts = repo.first_decision_ids(sorted({e.case_id for e in deciding}))
    standard = [
        e for e in deciding if firsts.get(e.case_id) == e.id and e.event in STANDARD_DECISIONS
    ]
    clocks = repo.first_day_clocks([e.case_id for e in standard])
    within = sum(1 for e in standard if (c := clocks.get(e.case_id)) is not None and c[0] <= c[1])
    bands = list(rep.overdue_bands)
    overdue, per_band = repo.overdue(
        organisation,
        now,
        timedelta(days=rep.decision_target_days),
        [(b.from_weeks, b.to_weeks) for b in bands],
    )
    dsts: dict[int, Any] = {}
    for e in repo.events_of_day(organisation, ("record_dst",), day, skew):
        dsts[e.case_id] = e  # the latest DST of the day counts for its case
    acute = sum(1 for e in dsts.values() if (e.data or {}).get("dst_setting") == "acute")
    return {
        "available": True,
        "organisation": organisation,
        "referrals": len(referrals),
        "decisions": len(standard),
        "decisions_within_28_days": within,
        "decisions_within_28_days_pct": _pct(within, len(standard)),
        "decision_target_pct": round(rep.decision_target_share * 100, 1),
        "incomplete_over_28_days": overdue,
        "incomplete_over_28_days_by_band": [
            {"key": b.key, "label": b.label, "count": n}
            for b, n in zip(bands, per_band, strict=True)
        ],
        "backlog_by_rag_and_cohort": repo.backlog(organisation, states),
        "full_assessments": len(dsts),
        "full_assessments_acute_pct": _pct(acute, len(dsts)),
        "as_at": now.isoformat(),
    }


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None
