"""Discharge Ready Date (DRD) derived from a criteria-to-reside (CtR) log.

Source: docs/domain.md §4.3 (NHS England, *Discharge ready date: guidance, examples and frequently
asked questions*), golden cases in §4.4, data-model notes in §4.5.

The national rule, as implemented here:

* The DRD is the date the patient stopped meeting the criteria to reside (§4.3 rule 1).
* If the patient meets the criteria again and later stops again (the "final period" rule,
  §4.3 rule 5): for a finished spell the DRD is the start of the final period of not meeting
  CtR; for an unfinished spell it is the start of the current period. Earlier NCTR periods stay
  in ``nctr_periods`` (they still count in daily NCTR snapshots, §4.4 note B) but never move
  the DRD.
* The delay runs from the DRD to the actual discharge date; DRD == discharge date means no
  delay (§4.3 rule 6). Days are calendar-date differences in Europe/London so a change of
  clocks cannot shift a bucket (§4.4, last note).
* DRD is only required for stays of at least one night (§4.3 rule 2, example F), and may be
  left blank for a same-day discharge (§4.3 rule 3, example D). The calculation still returns
  it in that case; leaving it off a return is the reporting layer's choice.

Interpretations (not stated by NHSE; see §4.4 notes C and E):

* Each change is placed by its ``effective_at``, never by when it was recorded, so a backdated
  entry lands where the clinician says it belongs (example E).
* Before the first entry the patient is taken to meet CtR (an inpatient is presumed to need
  the bed until someone records otherwise). Repeated entries with the same status are ward-round
  re-affirmations and change nothing.
* An unfinished spell whose latest status is "meets CtR" has no current NCTR period, so the
  live DRD is empty (note C).
* A finished spell whose final NCTR period ended before discharge (the patient met CtR again
  and left without a new entry): the guidance is literal, "For finished episodes of care, the
  Discharge Ready Date should record the start date of the final period that the patient no
  longer met the 'Criteria to Reside'", so the DRD is that period's start and the spell is in
  the DRD cohort like any other. ``nctr_at_end`` is False for it, which the daily return uses
  (it was not an NCTR patient when discharged) and the patient-level extract shows, so a
  missing "not meeting" entry can be found and corrected. (Until December 2026 HomeFirst gave
  such a spell no DRD; PUBLISHED-RULES.md row 12.)
* Entries effective after ``discharged_at`` cannot affect a finished spell and are ignored;
  refusing such entries belongs where the log is written, not in this pure function.
* Entries with the same ``effective_at`` keep their input (log) order, so the later one wins.
  An NCTR period opened and closed at the same instant is a correction, not a period, and is
  dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.timeutil import london_date

# Hospital-local calendar for every date this module reports (§4.4 note on clocks).
LONDON = ZoneInfo("Europe/London")

NctrPeriod = tuple[datetime, datetime | None]


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime has no defined instant, so it cannot be ordered against the log or
    # turned into a London date; accepting one would silently shift DRDs by an hour in summer.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class CtrChange:
    """One entry of the CtR log: from ``effective_at`` the patient meets CtR (or not).

    ``recorded_at`` is kept for audit (§4.5: both times are stored) and deliberately never used
    by the DRD rule (§4.4 example E).
    """

    effective_at: datetime
    meets: bool
    recorded_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.effective_at, "effective_at")
        if self.recorded_at is not None:
            _require_aware(self.recorded_at, "recorded_at")


@dataclass(frozen=True, slots=True)
class DrdResult:
    """Outcome of :func:`derive_drd`.

    ``period_start`` is the start of the NCTR period that determines the DRD (the current one,
    or for a finished spell the final one), else ``None``. ``nctr_periods`` lists every NCTR
    period in time order as ``(start, end)``; ``end`` is ``None`` only for a period still open
    in an unfinished spell, and is the discharge time for a period that ran up to discharge.
    ``nctr_at_end``: the patient was not meeting CtR at the end of the log (now, for an
    unfinished spell; at the moment of discharge, for a finished one).
    """

    period_start: datetime | None
    discharge_ready_date: date | None
    nctr_periods: list[NctrPeriod]
    nctr_at_end: bool = False


def derive_drd(changes: Iterable[CtrChange], discharged_at: datetime | None = None) -> DrdResult:
    """Apply the final-period rule (§4.3 rule 5) to a CtR log.

    ``changes`` may be in any order; it is sorted by ``effective_at`` with ties kept in input
    order. Pass ``discharged_at`` for a finished spell, ``None`` for a patient still in hospital.
    """
    if discharged_at is not None:
        _require_aware(discharged_at, "discharged_at")
    # sorted() is stable, which is what keeps same-instant entries in log order.
    ordered = sorted(changes, key=lambda change: change.effective_at)
    if discharged_at is not None:
        ordered = [change for change in ordered if change.effective_at <= discharged_at]

    periods: list[NctrPeriod] = []
    open_start: datetime | None = None
    for change in ordered:
        if not change.meets:
            if open_start is None:
                open_start = change.effective_at
            continue
        if open_start is not None:
            if change.effective_at > open_start:
                periods.append((open_start, change.effective_at))
            open_start = None

    if open_start is None:
        if discharged_at is None or not periods:
            return DrdResult(period_start=None, discharge_ready_date=None, nctr_periods=periods)
        # A finished spell that met CtR again before discharge: the final period still gives
        # the DRD (the guidance's literal rule, see the module notes). A "meets CtR" entry at
        # the very instant of discharge leaves the period ending at discharge, which counts
        # as not meeting CtR at discharge, as the spell read model sees it.
        final_start, final_end = periods[-1]
        return DrdResult(
            period_start=final_start,
            discharge_ready_date=london_date(final_start),
            nctr_periods=periods,
            nctr_at_end=final_end == discharged_at,
        )
    # Still NCTR at the end of the log: for a finished spell this period ran up to discharge.
    periods.append((open_start, discharged_at))
    return DrdResult(
        period_start=open_start,
        discharge_ready_date=london_date(open_start),
        nctr_periods=periods,
        nctr_at_end=True,
    )


def days_delayed(drd: date, on: date) -> int:
    """Whole days of delay from the DRD to ``on`` (the discharge date, or today if still in).

    Both are hospital-local calendar dates (use :func:`london_date`). DRD == ``on`` gives 0,
    which §4.3 rule 6 counts as *no delay*; a 0 is still a real value that the "average
    including 0-day delays" uses (§6.3). ``on`` before the DRD is a data error and raises.
    """
    if on < drd:
        raise ValueError(f"date {on.isoformat()} is before the DRD {drd.isoformat()}")
    return (on - drd).days


def is_delayed(drd: date, discharged_on: date) -> bool:
    """True if the discharge was delayed at all, i.e. it happened after the DRD (§4.3 rule 6)."""
    return days_delayed(drd, discharged_on) > 0


def drd_required(admitted_at: datetime, until: datetime) -> bool:
    """Whether a DRD must be recorded: only for stays of at least one night (§4.3 rule 2).

    ``until`` is the discharge time, or the current time for a patient still in hospital. A
    night is counted as a change of Europe/London calendar date, matching how the days of
    delay are counted.
    """
    if until < admitted_at:
        raise ValueError("until is before admitted_at")
    return stayed_a_night(london_date(admitted_at), london_date(until))


def stayed_a_night(admitted_on: date, until_on: date) -> bool:
    """At least one night between two London dates: the DRD cohort's one rule of length."""
    return until_on > admitted_on


# Why a discharge is outside the DRD cohort (the monthly DRD publication's denominator).
UNDER_ONE_NIGHT = "under_one_night"
NO_DRD = "no_drd"
OUTSIDE_COHORT = {
    UNDER_ONE_NIGHT: "stay of under one night: the discharge-ready date is only required for "
    "inpatients with a stay of one night or longer",
    NO_DRD: "no discharge-ready date: no period of not meeting the criteria to reside was "
    "recorded in this stay of one night or longer",
}


@dataclass(frozen=True, slots=True)
class CohortPlace:
    """Where one discharge sits in the DRD measures: its delay in days (DRD to discharge date,
    0 = discharged on the DRD), or why it is outside the cohort (a key of ``OUTSIDE_COHORT``)."""

    delay_days: int | None
    outside_because: str | None = None

    @property
    def in_cohort(self) -> bool:
        return self.outside_because is None


def drd_cohort(admitted_on: date, discharged_on: date, drd: date | None) -> CohortPlace:
    """Place a discharge in the DRD measures (PUBLISHED-RULES.md rows 12 and 14).

    The DRD "should ideally be completed for all inpatients with a stay of one night or longer",
    so a stay of under one night is outside the cohort whatever was recorded. A discharge of one
    night or more with no DRD is outside it too: it is not a 0-day delay. The guidance lets a
    provider leave the DRD blank "for those patients discharged on the same day as their
    discharge ready date"; HomeFirst derives the DRD from the criteria-to-reside log, so such a
    patient has their DRD filled and counts as a 0-day delay. Days are London calendar dates.
    """
    if not stayed_a_night(admitted_on, discharged_on):
        return CohortPlace(None, UNDER_ONE_NIGHT)
    if drd is None:
        return CohortPlace(None, NO_DRD)
    return CohortPlace(days_delayed(drd, discharged_on))
