"""The CHC report: the 28-day standard, Fast Track, overdue bands, acute DSTs, the backlog.

Figures are derived from the event log and the durable clocks, never typed in (ARCHITECTURE.md
§1 principle 4):
- decisions within 28 days (docs/domain.md §7.6; the 80% share is provisional): first standard
  eligibility decisions (`decide`) made in the period, timed by each case's `chc_28_day` clock.
  A negative Checklist (`screen_out`) is not a referral for full consideration, so it is outside
  these figures; Fast Track decisions (`accept_fast_track`) are counted apart, with their package
  clock (§7.5);
- incomplete referrals over 28 days (§7.7): cases whose 28-day clock still runs, banded by how far
  they exceed 28 days (bands provisional, §13 U8), leaving out cases on the Fast Track route (on
  pathway version 1 their clock runs on until the Fast Track decision);
- % of full assessments in an acute setting (§7.6): cases whose DST was recorded in the period,
  by the setting recorded with it (the 15% threshold is provisional, §13 U9);
- the working list by RAG and cohort (§7.9, §7.11).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.chc.config import ChcConfig
from app.chc.errors import REPORT_ROLES, require_role
from app.chc.read_repository import ChcReadRepository
from app.chc.repository import ChcRepository
from app.chc.schemas import BandCount, ChcReport
from app.chc.worklist import worklist_states
from app.db import UnitOfWork
from app.engine.engine import Engine
from app.models import CaseEvent, Clock
from app.timeutil import LONDON

STANDARD_DECISIONS = ("decide",)
FAST_TRACK_DECISIONS = ("accept_fast_track",)
# Every first decision on a referral: the first of these decides which kind of referral it was.
FIRST_DECISIONS = ("screen_out", *STANDARD_DECISIONS, *FAST_TRACK_DECISIONS)


def _day(at: datetime) -> date:
    local: date = at.astimezone(LONDON).date()
    return local


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _first_by_case(events: list[CaseEvent]) -> dict[int, CaseEvent]:
    first: dict[int, CaseEvent] = {}
    for e in events:
        first.setdefault(e.case_id, e)
    return first


def _first_cycle(clocks: list[Clock]) -> dict[int, Clock]:
    return {c.case_id: c for c in sorted(clocks, key=lambda c: -c.cycle)}


def chc_report(
    session: Session,
    *,
    engine: Engine,
    cfg: ChcConfig,
    actor: Actor,
    period_from: date,
    period_to: date,
    now: datetime,
) -> ChcReport:
    require_role(actor, REPORT_ROLES, "reading the CHC report")
    rep = cfg.local.reporting
    org = actor.organisation
    repo, reads = ChcRepository(session), ChcReadRepository(session)
    with UnitOfWork(session):

        def in_period(e: CaseEvent) -> bool:
            return period_from <= _day(e.occurred_at) <= period_to

        decisions = _first_by_case(reads.events_named(org, FIRST_DECISIONS))
        fast_tracked = {e.case_id for e in reads.events_named(org, ("fast_track",))}
        standard = [e for e in decisions.values() if e.event in STANDARD_DECISIONS and in_period(e)]
        fast = [e for e in decisions.values() if e.event in FAST_TRACK_DECISIONS and in_period(e)]
        clocks28 = _first_cycle(reads.clocks_named(org, "chc_28_day"))
        within = sum(
            1
            for e in standard
            if (c := clocks28.get(e.case_id)) is not None and c.consumed_seconds <= c.budget_seconds
        )
        ft_clocks = _first_cycle(reads.clocks_named(org, "fast_track_package"))
        ft_in_target = sum(
            1
            for e in fast
            if (c := ft_clocks.get(e.case_id)) is not None
            and c.state == "stopped"
            and c.consumed_seconds <= c.budget_seconds
        )
        bands = {b.key: 0 for b in rep.overdue_bands}
        target = timedelta(days=rep.decision_target_days)
        overdue = 0
        for clock in clocks28.values():
            if clock.state != "running" or clock.case_id in fast_tracked:
                continue
            age = now - clock.started_at
            if age <= target:
                continue
            overdue += 1
            excess_weeks = (age - target) / timedelta(weeks=1)
            for band in rep.overdue_bands:
                if band.from_weeks <= excess_weeks and (
                    band.to_weeks is None or excess_weeks < band.to_weeks
                ):
                    bands[band.key] += 1
                    break
        dsts: dict[int, CaseEvent] = {}
        for e in reads.events_named(org, ("record_dst",)):
            if in_period(e):
                dsts[e.case_id] = e  # the latest DST in the period counts for its case
        acute = sum(1 for e in dsts.values() if e.data.get("dst_setting") == "acute")
        states = set(worklist_states(engine))
        backlog: dict[str, dict[str, int]] = {}
        for item, _case in repo.queue(org, sorted(states)):
            row = backlog.setdefault(item.cohort, {"red": 0, "amber": 0, "green": 0})
            row[item.rag] = row.get(item.rag, 0) + 1
    share = _pct(within, len(standard))
    return ChcReport(
        organisation=org,
        period_from=period_from,
        period_to=period_to,
        generated_at=now,
        provisional=cfg.local.status == "provisional",
        decisions=len(standard),
        decisions_within_28_days=within,
        decisions_within_28_days_pct=share,
        decision_target_pct=round(rep.decision_target_share * 100, 1),
        decision_target_met=None if share is None else share >= rep.decision_target_share * 100,
        fast_track_decisions=len(fast),
        fast_track_packages_in_target=ft_in_target,
        fast_track_target_hours=cfg.local.fast_track.target_delta.total_seconds() / 3600,
        incomplete_over_28_days=overdue,
        incomplete_over_28_days_by_band=[
            BandCount(key=b.key, label=b.label, count=bands[b.key]) for b in rep.overdue_bands
        ],
        full_assessments=len(dsts),
        full_assessments_acute=acute,
        full_assessments_acute_pct=_pct(acute, len(dsts)),
        acute_threshold_pct=round(rep.acute_dst_threshold_share * 100, 1),
        backlog_by_rag_and_cohort=backlog,
        notes=[
            "Provisional figures (docs/domain.md §13): overdue bands (U8), acute threshold (U9), "
            "Fast Track target (U11) and the RAG rules (L5) are local configuration.",
            "A negative Checklist (screen_out) is not a referral for full consideration: it is "
            "outside the 28-day figures. Fast Track is reported apart from them.",
            "Times are measured by the durable clocks from the first notice of each case.",
        ],
    )
