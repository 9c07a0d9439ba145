"""The CHC part of the daily metrics, for the caller's organisation (CHC work is org-scoped)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.calc.drd import london_date
from app.chc.config import ChcConfig
from app.chc.errors import REPORT_ROLES
from app.chc.read_repository import ChcReadRepository
from app.chc.reports import chc_report
from app.engine.engine import Engine


def chc_metrics(
    session: Session, *, engine: Engine, cfg: ChcConfig, actor: Actor, day: date, now: datetime
) -> dict[str, Any]:
    if actor.role_for(REPORT_ROLES) is None:
        return {
            "available": False,
            "reason": f"CHC figures need one of the roles: {', '.join(REPORT_ROLES)}",
        }
    report = chc_report(
        session, engine=engine, cfg=cfg, actor=actor, period_from=day, period_to=day, now=now
    )
    opened = ChcReadRepository(session).events_named(actor.organisation, ("open",))
    return {
        "available": True,
        "organisation": actor.organisation,
        "referrals": sum(1 for e in opened if london_date(e.occurred_at) == day),
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
