"""The pathway-fit audit's figures from plain records: no I/O, so a test (or a reader with the
events in hand) can reproduce every figure.

For each discharge in the cohort, its 91-day outcome is the first of these that holds (the
precedence), where "within the window" means on a London day from the discharge's day to the
discharge's day plus `window_days` (91), inclusive:

1. `died`: the step-down IC episode's outcome or 91-day follow-up is `died`, or a discharge
   case of the same NHS number (this one included) records `died` within the window.
2. `readmitted`: a later discharge case of the same NHS number was admitted after this
   discharge, within the window, or the step-down episode ended `readmitted_to_hospital`.
3. `care_home`: the discharge destination is a care-home code (except on
   `temporary_bed_pathways`, P2, where that bed is the intermediate care itself), or the
   step-down episode ended `long_term_care_home`.
4. `still_at_home`, `not_at_home`, `not_contactable`: the step-down episode's 91-day follow-up.
5. `pending`: none of the above is known and the window has not yet passed (today is before
   the discharge's day plus `window_days`).
6. `no_later_record`: none of the above is known and the window has passed.

Re-referrals: step-up IC episodes of the same NHS number (a re-referral under the contingency
plan opens one too) opened after the discharge, within the window.

"Possibly more intensive than needed" (an indicator for review, not a judgement): the
discharge pathway is one of `intensive_pathways` (P2, P3) and either the step-down episode
ended with one of `lighter_ic_outcomes` (independent, equipment_tecs_only), or the 91-day
outcome is `still_at_home` and the step-down episode's outcome is not one of
`ongoing_support_outcomes` (no ongoing package).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.pathway_fit.config import PATHWAYS, PathwayFitConfig
from app.timeutil import london_date

OUTCOMES = (
    "died",
    "readmitted",
    "care_home",
    "still_at_home",
    "not_at_home",
    "not_contactable",
    "no_later_record",
    "pending",
)
FOLLOW_UP_OUTCOMES = {
    "at_home": "still_at_home",
    "not_at_home": "not_at_home",
    "not_contactable": "not_contactable",
}
NO_PATHWAY = "unknown"


@dataclass(frozen=True)
class Discharge:
    """One discharge case of the cohort, as its events left it."""

    case_id: int
    patient_ref: str | None
    site: str | None
    pathway: str | None
    destination_code: str | None
    discharged_at: datetime


@dataclass(frozen=True)
class Episode:
    """An intermediate-care episode of a cohort patient. `step_down_from`: the discharge case
    whose discharge opened it (its step_down link)."""

    case_id: int
    patient_ref: str | None
    direction: str | None
    opened_at: datetime
    outcome: str | None = None
    still_at_home_91d: str | None = None
    step_down_from: int | None = None


@dataclass(frozen=True)
class Admission:
    """A discharge case (a hospital spell) of a cohort patient."""

    case_id: int
    patient_ref: str | None
    admitted_at: datetime | None
    died_at: datetime | None = None


@dataclass(frozen=True)
class PatientFit:
    discharge: Discharge
    outcome: str
    evidence: str
    re_referrals: int
    possibly_more_intensive: bool
    ic_outcome: str | None
    window_ends: date


@dataclass
class PathwayFigures:
    pathway: str
    discharges: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    re_referred: int = 0
    re_referrals: int = 0
    possibly_more_intensive: int = 0

    def percent(self, count: int) -> float | None:
        return round(100 * count / self.discharges, 1) if self.discharges else None


def _within(at: datetime | None, start: datetime, last_day: date) -> bool:
    return at is not None and at >= start and london_date(at) <= last_day


def classify(
    discharge: Discharge,
    episodes: Sequence[Episode],
    admissions: Sequence[Admission],
    config: PathwayFitConfig,
    today: date,
) -> PatientFit:
    """One discharge's 91-day outcome, re-referrals and indicator (the module's rules)."""
    start = discharge.discharged_at
    last_day = london_date(start) + timedelta(days=config.window_days)
    same = [e for e in episodes if discharge.patient_ref and e.patient_ref == discharge.patient_ref]
    step_down = [e for e in same if e.step_down_from == discharge.case_id]
    ended = [e.outcome for e in step_down if e.outcome]
    ic_outcome = ended[-1] if ended else None
    follow_up = next((e.still_at_home_91d for e in step_down if e.still_at_home_91d), None)
    spells = [
        a for a in admissions if discharge.patient_ref and a.patient_ref == discharge.patient_ref
    ]
    outcome, evidence = _outcome(
        discharge, spells, ic_outcome, follow_up, config, start, last_day, today
    )
    re_referrals = sum(
        e.direction == "step_up" and _within(e.opened_at, start, last_day) for e in same
    )
    intensive = discharge.pathway in config.intensive_pathways and (
        ic_outcome in config.lighter_ic_outcomes
        or (
            outcome == "still_at_home"
            and ic_outcome is not None
            and ic_outcome not in config.ongoing_support_outcomes
        )
    )
    return PatientFit(discharge, outcome, evidence, re_referrals, intensive, ic_outcome, last_day)


def _outcome(
    discharge: Discharge,
    spells: Sequence[Admission],
    ic_outcome: str | None,
    follow_up: str | None,
    config: PathwayFitConfig,
    start: datetime,
    last_day: date,
    today: date,
) -> tuple[str, str]:
    if "died" in (ic_outcome, follow_up):
        return "died", "IC episode outcome or 91-day follow-up: died"
    died = [a for a in spells if _within(a.died_at, start, last_day)]
    if died:
        return "died", f"discharge case {died[0].case_id} records died"
    back = [
        a
        for a in spells
        if a.case_id != discharge.case_id
        and a.admitted_at is not None
        and a.admitted_at > start
        and london_date(a.admitted_at) <= last_day
    ]
    if back:
        return "readmitted", f"admitted again (discharge case {back[0].case_id})"
    if ic_outcome == "readmitted_to_hospital":
        return "readmitted", "IC episode outcome: readmitted to hospital"
    if (
        discharge.destination_code in config.care_home_destination_codes
        and discharge.pathway not in config.temporary_bed_pathways
    ):
        return "care_home", f"discharge destination code {discharge.destination_code}"
    if ic_outcome == "long_term_care_home":
        return "care_home", "IC episode outcome: long-term care home"
    if follow_up in FOLLOW_UP_OUTCOMES:
        return FOLLOW_UP_OUTCOMES[follow_up], f"IC 91-day follow-up: {follow_up}"
    if today < last_day:
        return "pending", f"the {config.window_days} days end on {last_day.isoformat()}"
    return "no_later_record", "nothing recorded in the window"


def summarise(fits: Iterable[PatientFit]) -> list[PathwayFigures]:
    """Figures by discharge pathway, in pathway order (every pathway listed; a discharge
    without a pathway, e.g. one the PAS recorded, under `unknown`)."""
    rows = {p: PathwayFigures(p) for p in (*PATHWAYS, NO_PATHWAY)}
    for fit in fits:
        row = rows[fit.discharge.pathway if fit.discharge.pathway in rows else NO_PATHWAY]
        row.discharges += 1
        row.outcomes[fit.outcome] += 1
        row.re_referrals += fit.re_referrals
        row.re_referred += fit.re_referrals > 0
        row.possibly_more_intensive += fit.possibly_more_intensive
    return list(rows.values())


def total(rows: Sequence[PathwayFigures]) -> PathwayFigures:
    out = PathwayFigures("all")
    for row in rows:
        out.discharges += row.discharges
        out.re_referred += row.re_referred
        out.re_referrals += row.re_referrals
        out.possibly_more_intensive += row.possibly_more_intensive
        out.outcomes = dict(Counter(out.outcomes) + Counter(row.outcomes))
    out.outcomes = {k: out.outcomes.get(k, 0) for k in OUTCOMES}
    return out
