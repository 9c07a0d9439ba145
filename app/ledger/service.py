"""The ledger of a period for the organisation's cases: every delayed bed day's shares
(`app.ledger.derive`), derived from the events as the dashboard's figures are.

Two bases:
- `days` (the default): the delayed bed days that fell in the period, whoever is still in
  hospital (figures derived as at the end of the period, or now for a running one);
- `discharges`: every delayed bed day of the discharges in the period that are in the DRD
  cohort, wherever the days fell: the national monthly DRD return's "Total bed days lost to
  DD" (`app.dashboard.drd_return`), which a test holds equal to this basis's total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from app.dashboard.context import MetricsContext
from app.dashboard.service import delay_labels, derived_spells
from app.discharge.drd import drd_cohort
from app.errors import ValidationFailed
from app.ledger.config import LedgerConfig
from app.ledger.derive import Share, delayed_days, spell_shares
from app.timeutil import day_bounds, london_date

Basis = Literal["days", "discharges"]
MAX_DAYS = 366
# Bumped when a definition of the ledger changes; a statement keeps the version it was made with.
DEFINITIONS = 1


@dataclass(frozen=True)
class Ledger:
    first: date
    last: date
    basis: Basis
    organisation: str
    as_at: datetime
    final: bool
    shares: list[Share]
    patients: dict[int, str | None]  # case id -> patient reference, of the cases with shares
    labels: dict[str, str | None]  # delay code -> label in the list in force on the last day


def check_period(first: date, last: date, now: datetime) -> None:
    if last < first:
        raise ValidationFailed("'from' is after 'to'")
    if (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"choose a period of at most {MAX_DAYS} days")
    if first > london_date(now):
        raise ValidationFailed(f"{first.isoformat()} has not come yet: no figures")


def ledger(
    session: Session,
    *,
    first: date,
    last: date,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    config: LedgerConfig,
    site: str | None = None,
    ward: str | None = None,
    basis: Basis = "days",
) -> Ledger:
    """The period's shares for the cases `organisation` owns or shares (one site, the days on
    one ward, if asked)."""
    check_period(first, last, now)
    start = day_bounds(first)[0]
    end = min(day_bounds(last)[1] - timedelta(microseconds=1), now)
    last_over = min(last, london_date(now) - timedelta(days=1))
    precedence = ctx.discharge.primary_reason_family_precedence
    shares: list[Share] = []
    patients: dict[int, str | None] = {}
    for case, spell, events in derived_spells(
        session, start=start, snapshot=end, site=site, organisation=organisation, ctx=ctx
    ):
        days = delayed_days(spell, last_over=last_over)
        if basis == "discharges":
            left = spell.facts.discharged_at
            if left is None or not start <= left <= end:
                continue
            place = drd_cohort(
                london_date(spell.admitted_at),
                london_date(left),
                spell.facts.drd.discharge_ready_date,
            )
            if place.delay_days is None:
                continue
        else:
            days = [d for d in days if first <= d]
        found = spell_shares(spell, events, days=days, config=config, precedence=precedence)
        if ward is not None:
            found = [s for s in found if s.ward == ward]
        if found:
            shares += found
            patients[case.id] = case.patient_ref
    return Ledger(
        first=first,
        last=last,
        basis=basis,
        organisation=organisation,
        as_at=end,
        final=end < now,
        shares=shares,
        patients=patients,
        labels=delay_labels(ctx.codes, min(last, london_date(now))),
    )


def select(shares: Sequence[Share], **keys: str | None) -> list[Share]:
    """The shares whose fields equal every key given (None: any)."""
    wanted = {k: v for k, v in keys.items() if v is not None}
    return [s for s in shares if all(getattr(s, k) == v for k, v in wanted.items())]
