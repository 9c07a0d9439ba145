"""The patient-level daily extract: one row per hospital spell in hospital at any time of a day.

What a manager signs a return from, and what an analyst reconciles it with: each spell's NHS
number, discharge-ready date (the Commissioning Data Set item "Discharge Ready Date (Hospital
Provider Spell)", derived by the final-period rule), length of stay, planned and actual pathway,
discharge destination, every delay period and the primary reason, and where the spell sits in
the DRD measures. Derived from the events with clinical time up to the end of the day (or now,
for today), exactly as the day's figures are derived; columns are documented in README
("Patient-level daily extract").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app import csvout
from app.calc.nhs_number import is_valid_nhs_number, normalise_nhs_number
from app.dashboard.context import MetricsContext
from app.dashboard.service import delay_labels, derived_spells
from app.discharge.buckets import bucket_for
from app.discharge.drd import drd_cohort
from app.discharge.history import LEAVES_HOSPITAL
from app.discharge.metrics import Spell, snapshot_time
from app.discharge.primary_reason import DelayPeriod, choose_primary_reason
from app.errors import ValidationFailed
from app.models import Case, CaseEvent
from app.timeutil import day_bounds, london_date

PLANNED_PATHWAY_EVENTS = frozenset({"set_pathway", "open", "accept"})


class ExtractDelay(BaseModel):
    code: str
    label: str | None
    family: str | None
    started_at: datetime
    ended_at: datetime | None
    primary: bool


class SpellExtractRow(BaseModel):
    case_id: int
    nhs_number: str | None
    hospital_system: str | None
    site: str | None
    ward: str | None = Field(description="The ward at `as_at` (app.discharge.wards)")
    admitted_at: datetime
    left_hospital_at: datetime | None
    exit: str | None
    discharge_ready_date: date | None
    not_meeting_ctr_at_end: bool
    length_of_stay_days: int
    days_since_drd: int | None
    drd_cohort: str
    planned_pathway: str | None
    discharge_pathway: str | None
    destination_code: str | None
    primary_reason_code: str | None
    primary_reason_label: str | None
    delays: list[ExtractDelay]


class SpellExtract(BaseModel):
    date: date
    as_at: datetime
    final: bool
    organisation: str
    site: str | None
    ward: str | None = Field(
        None, description="The ward asked for: the patients on it at `as_at` (all if null)"
    )
    count: int
    items: list[SpellExtractRow]


CSV_COLUMNS = [
    "case_id",
    "nhs_number",
    "hospital_system",
    "site",
    "ward",
    "admitted_at",
    "left_hospital_at",
    "exit",
    "discharge_ready_date",
    "not_meeting_ctr_at_end",
    "length_of_stay_days",
    "days_since_drd",
    "drd_cohort",
    "planned_pathway",
    "discharge_pathway",
    "destination_code",
    "primary_reason_code",
    "primary_reason_label",
    "delay_periods",
]


def spell_extract(
    session: Session,
    *,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    ward: str | None = None,
) -> SpellExtract:
    if day > london_date(now):
        raise ValidationFailed(f"{day.isoformat()} is in the future: no spells yet")
    day_start, _ = day_bounds(day)
    snapshot = snapshot_time(day, now)
    labels = _labels(ctx, day)
    precedence = ctx.discharge.primary_reason_family_precedence
    rows = [
        _row(case, spell, events, day, snapshot, labels, precedence)
        for case, spell, events in derived_spells(
            session,
            start=day_start,
            snapshot=snapshot,
            site=site,
            organisation=organisation,
            ctx=ctx,
            ward=ward,
        )
        # In hospital at some moment of the day (up to the snapshot).
        if spell.facts.left_hospital_at is None or spell.facts.left_hospital_at >= day_start
    ]
    return SpellExtract(
        date=day,
        as_at=snapshot,
        final=snapshot < now,
        organisation=organisation,
        site=site,
        ward=ward,
        count=len(rows),
        items=rows,
    )


def _row(
    case: Case,
    spell: Spell,
    events: Sequence[CaseEvent],
    day: date,
    snapshot: datetime,
    labels: dict[str, str | None],
    precedence: Sequence[str],
) -> SpellExtractRow:
    facts = spell.facts
    left = facts.left_hospital_at
    end_on = london_date(left) if left is not None else day
    drd = facts.drd.discharge_ready_date
    as_at = left or snapshot
    primary = _primary(facts.delays, as_at, precedence)
    return SpellExtractRow(
        case_id=case.id,
        nhs_number=_nhs_number(case.patient_ref),
        hospital_system=spell.hospital_system,
        site=spell.site,
        ward=spell.ward,  # at the extract's time, not where the patient is now
        admitted_at=spell.admitted_at,
        left_hospital_at=left,
        exit=_exit(events) if left is not None else None,
        discharge_ready_date=drd,
        not_meeting_ctr_at_end=facts.drd.nctr_at_end,
        length_of_stay_days=(end_on - london_date(spell.admitted_at)).days,
        days_since_drd=(end_on - drd).days if drd is not None else None,
        drd_cohort=_cohort(spell),
        planned_pathway=_planned(events),
        discharge_pathway=facts.discharge_pathway,
        destination_code=_destination(events) if facts.discharged_at else None,
        primary_reason_code=primary.code if primary else None,
        primary_reason_label=labels.get(primary.code) if primary else None,
        delays=[
            ExtractDelay(
                code=p.code,
                label=labels.get(p.code),
                family=p.family,
                started_at=p.started_at,
                ended_at=p.ended_at,
                primary=primary is not None and p == primary,
            )
            for p in facts.delays
        ],
    )


def _cohort(spell: Spell) -> str:
    """The spell's DRD bucket, `not discharged`, or `outside: <why>` (see `drd_cohort`)."""
    discharged = spell.facts.discharged_at
    if discharged is None:
        return "not discharged"
    place = drd_cohort(
        london_date(spell.admitted_at),
        london_date(discharged),
        spell.facts.drd.discharge_ready_date,
    )
    if place.delay_days is None:
        return f"outside: {place.outside_because}"
    return bucket_for(place.delay_days)


def _primary(
    periods: Sequence[DelayPeriod], as_at: datetime, precedence: Sequence[str]
) -> DelayPeriod | None:
    # A period ended by the discharge itself was still open at that instant.
    live = {
        p: DelayPeriod(p.code, p.family, p.started_at, None, p.recorded_at, p.marked_primary)
        if p.ended_at == as_at
        else p
        for p in periods
    }
    choice = choose_primary_reason(list(live.values()), as_at=as_at, family_precedence=precedence)
    if choice is None:
        return None
    return next(p for p, shown in live.items() if shown == choice.period)


def _nhs_number(ref: str | None) -> str | None:
    if ref is None or not is_valid_nhs_number(ref):
        return None  # a local reference, not an NHS number
    return normalise_nhs_number(ref)


def _exit(events: Sequence[CaseEvent]) -> str | None:
    left = [e.event for e in events if e.event in LEAVES_HOSPITAL]
    return {"discharge": "discharged", "died": "died", "transfer": "transferred"}.get(left[-1])


def _destination(events: Sequence[CaseEvent]) -> str | None:
    found = [e for e in events if e.event == "discharge"]
    return found[-1].data.get("destination_code") if found else None


def _planned(events: Sequence[CaseEvent]) -> str | None:
    chosen = [
        e.data["pathway"]
        for e in events
        if e.event in PLANNED_PATHWAY_EVENTS and e.data.get("pathway")
    ]
    return chosen[-1] if chosen else None


def _labels(ctx: MetricsContext, day: date) -> dict[str, str | None]:
    return delay_labels(ctx.codes, day)  # one lookup for the figures and the extract


def to_csv(extract: SpellExtract) -> str:
    return csvout.to_csv(CSV_COLUMNS, (_cells(r) for r in extract.items))


def _cells(r: SpellExtractRow) -> list[Any]:
    periods = "; ".join(
        f"{d.code} {d.started_at.isoformat()}/{d.ended_at.isoformat() if d.ended_at else ''}"
        f"{' (primary)' if d.primary else ''}"
        for d in r.delays
    )
    return [
        r.case_id,
        r.nhs_number,
        r.hospital_system,
        r.site,
        r.ward,
        r.admitted_at.isoformat(),
        r.left_hospital_at.isoformat() if r.left_hospital_at else None,
        r.exit,
        r.discharge_ready_date.isoformat() if r.discharge_ready_date else None,
        "yes" if r.not_meeting_ctr_at_end else "no",
        r.length_of_stay_days,
        r.days_since_drd,
        r.drd_cohort,
        r.planned_pathway,
        r.discharge_pathway,
        r.destination_code,
        r.primary_reason_code,
        r.primary_reason_label,
        periods,
    ]
