"""The CHC part of the daily metrics, for the caller's organisation (CHC work is org-scoped)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.chc.config import ChcConfig
from app.chc.errors import REPORT_ROLES
from app.chc.live_metrics import chc_day_figures
from app.chc.read_repository import ChcReadRepository
from app.chc.reports import chc_report
from app.chc.worklist import worklist_states
from app.dashboard.live_figures import CHC as CHC_PART
from app.dashboard.live_figures import LiveSource
from app.engine.engine import Engine
from app.timeutil import london_date


def chc_metrics(
    session: Session,
    *,
    engine: Engine,
    cfg: ChcConfig,
    actor: Actor,
    day: date,
    now: datetime,
    live: LiveSource | None = None,
) -> dict[str, Any]:
    """The caller's organisation's CHC figures for the day (today's computed ahead when `live`
    is given), or why the caller may not see them."""
    if actor.role_for(REPORT_ROLES) is None:
        return _unavailable()
    if live is not None and day == london_date(now):
        return live.figures(session, actor.organisation, None, CHC_PART, now)
    return chc_org_figures(
        session, engine=engine, cfg=cfg, organisation=actor.organisation, day=day, now=now
    )


def chc_org_figures(
    session: Session, *, engine: Engine, cfg: ChcConfig, organisation: str, day: date, now: datetime
) -> dict[str, Any]:
    """The day's CHC figures from SQL aggregates over the work items (the read model every CHC
    change keeps) and the day's events."""
    figures = chc_day_figures(
        session,
        cfg=cfg,
        organisation=organisation,
        states=sorted(worklist_states(engine)),
        day=day,
        now=now,
        skew=engine.time_policy.future_skew,
    )
    session.rollback()  # end the read
    return figures


def _unavailable() -> dict[str, Any]:
    return {
        "available": False,
        "reason": f"CHC figures need one of the roles: {', '.join(REPORT_ROLES)}",
    }


def chc_metrics_from_report(
    session: Session, *, engine: Engine, cfg: ChcConfig, actor: Actor, day: date, now: datetime
) -> dict[str, Any]:
    """The same figures through the full CHC report (every event and clock of the
    organisation): the definition `chc_metrics` is checked against."""
    if actor.role_for(REPORT_ROLES) is None:
        return _unavailable()
    report = chc_report(
        session, engine=engine, cfg=cfg, actor=actor, period_from=day, period_to=day, now=now
    )
    reads = ChcReadRepository(session)
    opened = reads.events_named(actor.organisation, ("open",))
    others = {
        e.case_id for e in reads.events_named(actor.organisation, ("screen_out", "fast_track"))
    }
    return {
        "available": True,
        "organisation": actor.organisation,
        "referrals": sum(
            1 for e in opened if london_date(e.occurred_at) == day and e.case_id not in others
        ),
        "decisions": report.decisions,
        "decisions_within_28_days": report.decisions_within_28_days,
        "decisions_within_28_days_pct": report.decisions_within_28_days_pct,
        "decision_target_pct": report.decision_target_pct,
        "incomplete_over_28_days": report.incomplete_over_28_days,
        "incomplete_over_28_days_by_band": [
            b.model_dump() for b in report.incomplete_over_28_days_by_band
        ],
        "backlog_by_rag_and_cohort": report.backlog_by_rag_and_cohort,
        "full_assessments": report.full_assessments,
        "full_assessments_acute_pct": report.full_assessments_acute_pct,
        "as_at": now.isoformat(),
    }
