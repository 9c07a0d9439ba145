"""Delayed bed days of one spell, each shared between the reasons open that day and costed: a
pure function of the spell's derived facts and events, so every figure can be explained.

Definitions (README "Delay ledger"):

- A *delayed bed day* is a London calendar day `d` from the spell's discharge-ready date (DRD,
  final-period rule, `app.discharge.drd`) up to the day before it left hospital, or, for a
  patient still in, up to the last day that is over. This is the national return's count: a
  discharge's delay is the days from its DRD to the date of discharge (`days_delayed`), so a
  spell's delayed bed days sum to that delay. Like the return, a finished spell whose final
  period of not meeting the criteria ended before discharge counts up to the discharge.
- The reasons of day `d` are the delay periods open at any moment of it; two periods of one code
  are one reason. With none open the day goes to `no-reason-recorded`.
- Attribution: `equal_share` gives each reason 1/n of the day; `primary_only` gives the whole day
  to the primary reason among them (`choose_primary_reason`, ranked at the end of the day).
- Ward: where the patient was at the end of the day (`app.discharge.wards`). Pathway: the
  planned pathway in force at the end of the day, else the pathway of the discharge, else
  "not recorded". Responsible organisation: the configuration's first matching rule.
- Cost: the share times the tariff in force on the day (none before the first version).

Shares and costs are exact fractions; rounding happens once, where figures are shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from app.discharge.history import DischargeFacts
from app.discharge.metrics import Spell
from app.discharge.primary_reason import DelayPeriod, choose_primary_reason
from app.discharge.wards import EventLike, ward_entries
from app.ledger.config import NO_REASON, NOT_RECORDED, LedgerConfig
from app.timeutil import day_bounds, london_date

ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Share:
    """One reason's share of one delayed bed day of one spell."""

    case_id: int
    day: date
    share: Fraction  # of the bed day
    reason: str
    family: str | None
    organisation: str
    pathway: str
    ward: str
    site: str
    tariff: str | None  # the version in force on the day
    cost: Fraction | None  # None: no tariff in force


def delayed_days(spell: Spell, *, last_over: date) -> list[date]:
    """The spell's delayed bed days up to `last_over` (the last day that is over)."""
    facts = spell.facts
    drd = facts.drd.discharge_ready_date
    if drd is None:
        return []
    left = facts.left_hospital_at
    end = london_date(left) if left is not None else last_over + timedelta(days=1)
    return [drd + timedelta(days=n) for n in range((end - drd).days)]


def reasons_open(periods: Sequence[DelayPeriod], day: date) -> list[DelayPeriod]:
    """The periods open at any moment of the London day, one per code (the earliest)."""
    start, end = day_bounds(day)
    found: dict[str, DelayPeriod] = {}
    for p in sorted(periods, key=lambda p: (p.started_at, p.recorded_at)):
        if p.ended_at is not None and p.ended_at <= p.started_at:
            continue  # opened and closed at one instant: a correction, not a period
        if p.started_at < end and (p.ended_at is None or p.ended_at > start):
            found.setdefault(p.code, p)
    return list(found.values())


def pathway_on(facts: DischargeFacts, at: datetime) -> str:
    planned = [p.pathway for p in facts.pathways if not p.actual and p.at <= at]
    if planned:
        return planned[-1]
    return facts.discharge_pathway or NOT_RECORDED


def spell_shares(
    spell: Spell,
    events: Sequence[EventLike],
    *,
    days: Sequence[date],
    config: LedgerConfig,
    precedence: Sequence[str],
) -> list[Share]:
    """Each of `days` (delayed bed days of the spell) shared between its reasons and costed."""
    out = []
    wards = ward_entries(events)  # once per spell, not per day
    per_day = {t.version: Fraction(t.cost_per_bed_day) for t in config.tariffs}
    for day in days:
        end_of_day = day_bounds(day)[1] - ONE_MICROSECOND
        ward = next((w for at, _, w in reversed(wards) if at <= end_of_day), NOT_RECORDED)
        pathway = pathway_on(spell.facts, end_of_day)
        tariff = config.tariff_on(day)
        for reason, family, share in _attributed(spell.facts, day, end_of_day, config, precedence):
            out.append(
                Share(
                    case_id=spell.case_id,
                    day=day,
                    share=share,
                    reason=reason,
                    family=family,
                    organisation=config.responsible_for(reason, family, pathway),
                    pathway=pathway,
                    ward=ward,
                    site=spell.site or NOT_RECORDED,
                    tariff=tariff.version if tariff else None,
                    cost=share * per_day[tariff.version] if tariff else None,
                )
            )
    return out


def _attributed(
    facts: DischargeFacts,
    day: date,
    end_of_day: datetime,
    config: LedgerConfig,
    precedence: Sequence[str],
) -> list[tuple[str, str | None, Fraction]]:
    periods = reasons_open(facts.delays, day)
    if not periods:
        return [(NO_REASON, None, Fraction(1))]
    if config.attribution == "primary_only":
        # Ranked as if each were still open at the end of the day (the ones closed during it
        # still compete: they were open that day).
        candidates = [
            DelayPeriod(p.code, p.family, p.started_at, None, p.recorded_at, p.marked_primary)
            for p in periods
        ]
        choice = choose_primary_reason(
            candidates,
            as_at=max(end_of_day, *(p.started_at for p in candidates)),
            family_precedence=precedence,
        )
        assert choice is not None  # noqa: S101 - every candidate is open at that instant
        return [(choice.period.code, choice.period.family, Fraction(1))]
    share = Fraction(1, len(periods))
    return [(p.code, p.family, share) for p in periods]
