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
  live DRD is empty (note C). A finished spell whose final NCTR period ended before discharge
  (the patient met CtR when they left) has no DRD either: the earlier period must not turn
  into a delay, which is the point of the final-period rule.
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
    or for a finished spell the final one that ran up to discharge), else ``None``.
    ``nctr_periods`` lists every NCTR period in time order as ``(start, end)``; ``end`` is
    ``None`` only for a period still open in an unfinished spell, and is the discharge time
    for a period that ran up to discharge.
    """

    period_start: datetime | None
    discharge_ready_date: date | None
    nctr_periods: list[NctrPeriod]


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
        return DrdResult(period_start=None, discharge_ready_date=None, nctr_periods=periods)
    # Still NCTR at the end of the log: for a finished spell this period ran up to discharge.
    periods.append((open_start, discharged_at))
    return DrdResult(
        period_start=open_start,
        discharge_ready_date=london_date(open_start),
        nctr_periods=periods,
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
    admitted_on = london_date(admitted_at)
    until_on = london_date(until)
    if until < admitted_at:
        raise ValueError("until is before admitted_at")
    return until_on > admitted_on
