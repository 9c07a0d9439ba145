"""Fortnightly CHC panel dates (docs/domain.md §7.12): pure date arithmetic over the configuration.

Panels fall every `cadence_days` from `anchor_date` (both configurable; the anchor is
UNVERIFIED, §13 L5). A case referred to panel goes on the first panel at least `notice_days`
after the referral.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.chc.config import COLOUR_RANK, ChcConfig, PanelConfig
from app.chc.errors import READ_ROLES, NotAPanelDate, require_role
from app.chc.read_repository import ChcReadRepository
from app.chc.repository import ChcRepository
from app.chc.schemas import PanelCaseRead, PanelList, PanelRead, PanelSlot
from app.chc.service import case_indicatives
from app.db import UnitOfWork


def is_panel_date(day: date, cfg: PanelConfig) -> bool:
    return (day - cfg.anchor_date).days % cfg.cadence_days == 0


def panel_on_or_after(day: date, cfg: PanelConfig) -> date:
    offset = (day - cfg.anchor_date).days % cfg.cadence_days
    return day if offset == 0 else day + timedelta(days=cfg.cadence_days - offset)


def next_panel_for_referral(referred_on: date, cfg: PanelConfig) -> date:
    """The panel a case referred on `referred_on` goes to, allowing the notice period."""
    return panel_on_or_after(referred_on + timedelta(days=cfg.notice_days), cfg)


def panel_after(panel: date, cfg: PanelConfig) -> date:
    """The panel after `panel` (an adjourned case moves on one slot)."""
    return panel_on_or_after(panel + timedelta(days=1), cfg)


def panels_from(start: date, count: int, cfg: PanelConfig) -> list[date]:
    first = panel_on_or_after(start, cfg)
    return [first + timedelta(days=cfg.cadence_days * n) for n in range(count)]


def nearest_panels(day: date, cfg: PanelConfig) -> tuple[date, date]:
    """The panels just before and just after `day` (for a helpful 404)."""
    after = panel_on_or_after(day, cfg)
    return after - timedelta(days=cfg.cadence_days), after


# -- the agenda (reads) -------------------------------------------------------------------------
def panel_agenda(session: Session, *, cfg: ChcConfig, actor: Actor, day: date) -> PanelRead:
    """Cases placed on the panel of `day` (still waiting, or already heard), worst colour first."""
    require_role(actor, READ_ROLES, "reading a panel agenda")
    pc = cfg.local.panels
    previous, following = nearest_panels(day, pc)
    if not is_panel_date(day, pc):
        raise NotAPanelDate(
            f"there is no panel on {day}: panels fall every {pc.cadence_days} days; the nearest "
            f"are {previous} and {following}",
            previous_panel=previous.isoformat(),
            next_panel=following.isoformat(),
        )
    repo = ChcRepository(session)
    with UnitOfWork(session):
        cases = ChcReadRepository(session).cases_on_panel(actor.organisation, day.isoformat())
        items = {c.id: repo.work_item(c.id) for c in cases}
    agenda = []
    for case in cases:
        item = items[case.id]
        _, dst = case_indicatives(case.attributes, cfg)
        agenda.append(
            PanelCaseRead(
                case_id=case.id,
                patient_ref=case.patient_ref,
                person_name=case.attributes.get("person_name"),
                state=case.state,
                cohort=item.cohort if item else None,
                rag=item.rag if item else None,
                dst=dst,
                panel_recommendation=case.attributes.get("panel_recommendation"),
                decision_outcome=case.attributes.get("decision_outcome"),
            )
        )
    agenda.sort(key=lambda a: (a.state != "panel", COLOUR_RANK.get(a.rag or "green", 2), a.case_id))
    return PanelRead(
        date=day,
        previous_panel=day - timedelta(days=pc.cadence_days),
        next_panel=day + timedelta(days=pc.cadence_days),
        cadence_days=pc.cadence_days,
        provisional=cfg.local.status == "provisional",
        count=len(agenda),
        agenda=agenda,
    )


def upcoming_panels(
    session: Session, *, cfg: ChcConfig, actor: Actor, start: date, count: int
) -> PanelList:
    require_role(actor, READ_ROLES, "reading panel dates")
    pc = cfg.local.panels
    days = panels_from(start, count, pc)
    with UnitOfWork(session):
        counts = ChcReadRepository(session).panel_counts(
            actor.organisation, [d.isoformat() for d in days]
        )
    return PanelList(
        cadence_days=pc.cadence_days,
        anchor_date=pc.anchor_date,
        provisional=cfg.local.status == "provisional",
        panels=[PanelSlot(date=d, cases=counts.get(d.isoformat(), 0)) for d in days],
    )
