"""Daily discharge metrics, computed from each spell's derived facts as at a snapshot time.

Definitions (docs/domain.md §6.1-6.3), for reporting day D in Europe/London and snapshot time T (the
end of D, or now when D is today):

- *In hospital at T*: admitted at or before T and not discharged, dead or transferred by T.
- `nctr_remaining`: in hospital at T and not meeting the criteria to reside at T
  ("Number of patients remaining in hospital who no longer meet the criteria to reside").
- `nctr_on_day`: not meeting the criteria at any moment of D while in hospital, including those
  who left during D ("Number of patients who no longer meet the criteria to reside").
- `discharged_nctr`: `discharge` events on D of patients not meeting the criteria at the moment
  of discharge: the sitrep's "Number of patients discharged" (trusts report NCTR patients "and
  of these, the number of patients discharged … or remaining in hospital", PUBLISHED-RULES.md
  row 10), so `discharged_nctr` + `nctr_remaining` = the NCTR patients of the day, less those
  who met the criteria again during it.
- `discharged`: every `discharge` event on D, NCTR or not (a local count, never exported under
  the national name); deaths and transfers are not discharges.
- Delay of a discharge: days from its discharge-ready date (final-period rule) to the discharge
  date, in London calendar days; buckets, averages and delayed bed days as §6.3, over the DRD
  cohort only (`app.discharge.drd.drd_cohort`: stays of one night or more with a DRD). The
  others are counted in `discharge_delays.outside_cohort`, by why.
- Remaining delays: days from the DRD to D for `nctr_remaining` patients, in the same buckets.
- Primary reason and family: for `nctr_remaining` patients, the primary reason open at T;
  `delay_reasons_los_7_plus` the same for those whose length of stay is 7 days or more (the
  national "Delay reason LOS 7+" group, PUBLISHED-RULES.md row 8).
- Support areas: delay periods open at T or ended during D; length to their end or to T, in days.
- Length of stay: in hospital at T, London dates from admission to D; 7+, 14+ and 21+ counts with
  the bed days beyond each threshold over all inpatients (a local figure).
- `additional_bed_days`: for `nctr_remaining` patients whose length of stay is at least 7, 14
  or 21 days, the bed days lost to delay so far (days from the DRD to D): the sitrep's "Number of
  additional bed days, patients with length of stay of N days or over" as at T
  (PUBLISHED-RULES.md row 11). The national series is a weekly snapshot: the weekly export
  reads it from the week's last day.
- Pathway shares: discharges on D by the pathway actually used, P3b counted with P0 (§3.3),
  against the expected 50/45/4/1 (minimum, minimum, maximum, maximum; U6, verified, with the
  Bolton 65+ caveat; data).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.discharge.buckets import BUCKET_LABELS, bucket_for, summarise_delays
from app.discharge.drd import OUTSIDE_COHORT, CohortPlace, drd_cohort
from app.discharge.history import DischargeFacts
from app.discharge.primary_reason import choose_primary_reason
from app.timeutil import day_bounds, london_date

EXPECTED_SHARES = {
    "P0": (50.0, "minimum"),
    "P1": (45.0, "minimum"),
    "P2": (4.0, "maximum"),
    "P3": (1.0, "maximum"),
}
LOS_THRESHOLDS = (7, 14, 21)
# Delay reasons are reported nationally for NCTR patients with a length of stay of 7+ days.
REASONS_MIN_STAY = 7
# Bumped when a figure's definition changes; a stored day keeps the version it was made with.
DEFINITIONS = 3  # 3: adds `expected_discharge` (issue 17); the rest as in 2
MICROSECONDS_PER_DAY = 86_400_000_000
NOT_RECORDED = "not recorded"
ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Spell:
    case_id: int
    site: str | None
    hospital_system: str | None
    admitted_at: datetime
    facts: DischargeFacts  # derived from the events with clinical time up to the snapshot
    ward: str | None = None  # the ward at the snapshot (app.discharge.wards)
    edd: date | None = None  # the expected discharge date in force at the snapshot
    first_edd: date | None = None  # the first one set, up to the snapshot (app.discharge.edd)


def snapshot_time(day: date, now: datetime) -> datetime:
    """The last instant of the day (a period starting at midnight belongs to the next day), or
    now while the day is still running."""
    return min(day_bounds(day)[1] - timedelta(microseconds=1), now)


def in_hospital(s: Spell, at: datetime) -> bool:
    left = s.facts.left_hospital_at
    return s.admitted_at <= at and (left is None or left > at)


def nctr_at(s: Spell, at: datetime) -> bool:
    return any(start <= at and (end is None or end > at) for start, end in s.facts.drd.nctr_periods)


def nctr_during(s: Spell, day_start: datetime, day_end: datetime) -> bool:
    return any(
        start < day_end and (end is None or end > day_start)
        for start, end in s.facts.drd.nctr_periods
    )


@dataclass(frozen=True)
class Discharged:
    cohort: CohortPlace  # the delay in the DRD measures, or why it is outside them
    nctr: bool  # not meeting the criteria to reside at the moment of discharge
    pathway: str | None
    hospital_system: str | None
    site: str | None
    # Date of discharge minus the first expected discharge date (None: no EDD was set).
    from_first_edd: int | None = None


@dataclass
class SiteCounts:
    inpatients: int = 0
    nctr_remaining: int = 0
    escalated: int = 0


@dataclass
class Aggregates:
    """What the day's figures are made from. The plain derivation (`aggregate_spells`) and the
    projection's SQL (`app.dashboard.live_repository`) both produce one; `assemble` turns
    either into the same figures, so the two can be compared exactly."""

    nctr_on_day: int = 0
    remaining_days: Counter[int] = field(default_factory=Counter)  # days since DRD -> patients
    # (length of stay, days since DRD) -> patients, for those remaining NCTR
    remaining_stays: Counter[tuple[int, int]] = field(default_factory=Counter)
    discharges: list[Discharged] = field(default_factory=list)
    primaries: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    primaries_long_stay: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    support: dict[str, tuple[int, int]] = field(default_factory=dict)  # area -> (periods, µs)
    stays: Counter[int] = field(default_factory=Counter)  # London days since admission -> n
    sites: dict[tuple[str, str], SiteCounts] = field(default_factory=dict)
    with_edd: int = 0  # inpatients with an expected discharge date
    edd_passed: int = 0  # inpatients whose expected discharge date is before the day


def discharge_metrics(
    spells: Sequence[Spell],
    *,
    day: date,
    snapshot: datetime,
    family_precedence: Sequence[str],
    labels: dict[str, str | None],
) -> dict[str, Any]:
    """The day's figures from spells whose facts were derived up to the snapshot."""
    return assemble(aggregate_spells(spells, day, snapshot, family_precedence), labels)


def aggregate_spells(
    spells: Sequence[Spell], day: date, snapshot: datetime, family_precedence: Sequence[str]
) -> Aggregates:
    day_start, day_end = day_bounds(day)
    until = min(day_end, snapshot)
    agg = Aggregates()
    for s in spells:
        key = (s.hospital_system or "", s.site or "")
        if in_hospital(s, snapshot):
            site = agg.sites.setdefault(key, SiteCounts())
            site.inpatients += 1
            site.escalated += s.facts.escalated
            stay = (day - london_date(s.admitted_at)).days
            agg.stays[stay] += 1
            agg.with_edd += s.edd is not None
            agg.edd_passed += s.edd is not None and s.edd < day
            if nctr_at(s, snapshot):
                site.nctr_remaining += 1
                since_drd = (day - (s.facts.drd.discharge_ready_date or day)).days
                agg.remaining_days[since_drd] += 1
                agg.remaining_stays[(stay, since_drd)] += 1
                primary = _primary(s, snapshot, family_precedence)
                if primary is not None:
                    agg.primaries[primary] += 1
                    if stay >= REASONS_MIN_STAY:
                        agg.primaries_long_stay[primary] += 1
        if (
            nctr_during(s, day_start, until)
            and s.admitted_at < until
            and (s.facts.left_hospital_at is None or s.facts.left_hospital_at >= day_start)
        ):
            agg.nctr_on_day += 1
        discharged_at = s.facts.discharged_at
        if discharged_at is not None and day_start <= discharged_at <= snapshot:
            agg.sites.setdefault(key, SiteCounts())
            agg.discharges.append(
                Discharged(
                    drd_cohort(
                        london_date(s.admitted_at),
                        london_date(discharged_at),
                        s.facts.drd.discharge_ready_date,
                    ),
                    s.facts.drd.nctr_at_end,
                    s.facts.discharge_pathway,
                    s.hospital_system,
                    s.site,
                    (london_date(discharged_at) - s.first_edd).days if s.first_edd else None,
                )
            )
    agg.support = _support_areas(spells, day_start, snapshot)
    return agg


def assemble(agg: Aggregates, labels: dict[str, str | None]) -> dict[str, Any]:
    summary = summarise_delays(
        d.cohort.delay_days for d in agg.discharges if d.cohort.delay_days is not None
    )
    outside = Counter(d.cohort.outside_because for d in agg.discharges if not d.cohort.in_cohort)
    remaining = sum(agg.remaining_days.values())
    with_reason = sum(agg.primaries.values())
    by_family = Counter[str]()
    for (_, family), n in agg.primaries.items():
        by_family[family or "No family"] += n
    return {
        "nctr_on_day": agg.nctr_on_day,
        "nctr_remaining": remaining,
        "definitions": DEFINITIONS,
        "discharged_nctr": sum(1 for d in agg.discharges if d.nctr),
        "discharged": len(agg.discharges),
        "discharges_by_pathway": _pathway_shares([d.pathway for d in agg.discharges]),
        "discharge_delays": {
            "buckets": summary.bucket_counts,
            "bucket_bed_days": summary.bucket_bed_days,
            "delayed": summary.delayed,
            "no_delay": summary.no_delay,
            "delayed_bed_days": summary.delayed_bed_days,
            "average_including_zero": _round(summary.average_including_zero),
            "average_excluding_zero": _round(summary.average_excluding_zero),
            "in_cohort": summary.discharges,
            "outside_cohort": {why: outside.get(why, 0) for why in OUTSIDE_COHORT},
        },
        "remaining_delay_buckets": _buckets(agg.remaining_days),
        "remaining_delayed_bed_days": sum(d * n for d, n in agg.remaining_days.items()),
        "by_primary_reason": _count_reasons(agg.primaries, labels),
        "by_family": dict(sorted(by_family.items())),
        "delay_reasons_los_7_plus": _count_reasons(agg.primaries_long_stay, labels),
        "no_reason_recorded": remaining - with_reason,
        "support_areas": {
            area: {"periods": n, "average_days": _round(total_us / n / MICROSECONDS_PER_DAY)}
            for area, (n, total_us) in sorted(agg.support.items())
        },
        "length_of_stay": _length_of_stay(agg.stays),
        "additional_bed_days": _additional_bed_days(agg.remaining_stays),
        "escalated": sum(s.escalated for s in agg.sites.values()),
        "expected_discharge": _expected_discharge(agg),
        "by_site": _by_site(agg),
    }


# How far a discharge landed from the first expected discharge date, in days (a local measure).
EDD_LANDING = (
    ("earlier", None, -1),
    ("on_the_day", 0, 0),
    ("1", 1, 1),
    ("2-3", 2, 3),
    ("4-7", 4, 7),
    ("8+", 8, None),
)


def _expected_discharge(agg: Aggregates) -> dict[str, Any]:
    """Inpatients with an EDD and those past it; the day's discharges against the first EDD."""
    inpatients = sum(c.inpatients for c in agg.sites.values())
    landed = [d.from_first_edd for d in agg.discharges if d.from_first_edd is not None]
    return {
        "inpatients_with_edd": agg.with_edd,
        "inpatients_with_edd_percent": _round(100 * agg.with_edd / inpatients)
        if inpatients
        else None,
        "inpatients_past_edd": agg.edd_passed,
        "discharges_from_first_edd": {
            name: sum(
                1 for n in landed if (low is None or n >= low) and (high is None or n <= high)
            )
            for name, low, high in EDD_LANDING
        },
        "discharges_without_edd": len(agg.discharges) - len(landed),
        "discharges_average_days_from_first_edd": _round(sum(landed) / len(landed))
        if landed
        else None,
    }


def _pathway_shares(pathways: Sequence[str | None]) -> dict[str, Any]:
    national = Counter("P0" if p == "P3b" else p for p in pathways)
    total = len(pathways)
    out: dict[str, Any] = {}
    for pathway, (expected, kind) in EXPECTED_SHARES.items():
        count = national.get(pathway, 0)
        out[pathway] = {
            "count": count,
            "percent": _round(100 * count / total) if total else None,
            "expected_percent": expected,
            "expected_is": kind,
        }
    out["P3b_recorded"] = sum(1 for p in pathways if p == "P3b")
    return out


def _buckets(days: Counter[int]) -> dict[str, int]:
    counts = dict.fromkeys(BUCKET_LABELS, 0)
    for d, n in days.items():
        counts[bucket_for(d)] += n
    return counts


def _primary(s: Spell, at: datetime, precedence: Sequence[str]) -> tuple[str, str | None] | None:
    choice = choose_primary_reason(s.facts.delays, as_at=at, family_precedence=precedence)
    return (choice.period.code, choice.period.family) if choice else None


def _count_reasons(
    counts: Counter[tuple[str, str | None]], labels: dict[str, str | None]
) -> list[dict[str, Any]]:
    return [
        {"code": code, "label": labels.get(code), "family": family, "patients": n}
        for (code, family), n in sorted(counts.items(), key=_reason_order)
    ]


def _reason_order(item: tuple[tuple[str, str | None], int]) -> tuple[int, str, str]:
    (code, family), n = item
    return (-n, code, family or "")


def _support_areas(
    spells: Sequence[Spell], day_start: datetime, snapshot: datetime
) -> dict[str, tuple[int, int]]:
    """Delay periods open at the snapshot or ended during the day, by support area: how many,
    and their lengths (to their end, or to the snapshot) in whole microseconds."""
    totals: dict[str, tuple[int, int]] = {}
    for s in spells:
        for period in s.facts.delays:
            if period.started_at > snapshot:
                continue
            # A period ended after the snapshot was still open at it.
            ended = period.ended_at if period.ended_at and period.ended_at <= snapshot else None
            if ended is not None and ended < day_start:
                continue
            note = s.facts.delay_notes.get((period.code, period.started_at), {})
            area = note.get("support_area") or NOT_RECORDED
            n, total = totals.get(area, (0, 0))
            length = ((ended or snapshot) - period.started_at) // ONE_MICROSECOND
            totals[area] = (n + 1, total + length)
    return totals


def _length_of_stay(stays: Counter[int]) -> dict[str, Any]:
    return {
        f"{t}_plus": {
            "patients": sum(n for d, n in stays.items() if d >= t),
            "bed_days_beyond": sum((d - t) * n for d, n in stays.items() if d >= t),
        }
        for t in LOS_THRESHOLDS
    }


def _additional_bed_days(remaining: Counter[tuple[int, int]]) -> dict[str, Any]:
    """Bed days lost to delay (days since the DRD) of patients remaining NCTR whose length of
    stay is at least each threshold."""
    return {
        f"{t}_plus": {
            "patients": sum(n for (stay, _), n in remaining.items() if stay >= t),
            "bed_days": sum(delay * n for (stay, delay), n in remaining.items() if stay >= t),
        }
        for t in LOS_THRESHOLDS
    }


def _by_site(agg: Aggregates) -> list[dict[str, Any]]:
    discharged = Counter((d.hospital_system or "", d.site or "") for d in agg.discharges)
    discharged_nctr = Counter(
        (d.hospital_system or "", d.site or "") for d in agg.discharges if d.nctr
    )
    return [
        {
            "hospital_system": system or None,
            "site": site or None,
            "inpatients": c.inpatients,
            "nctr_remaining": c.nctr_remaining,
            "discharged": discharged.get((system, site), 0),
            "discharged_nctr": discharged_nctr.get((system, site), 0),
            "escalated": c.escalated,
        }
        for (system, site), c in sorted(agg.sites.items())
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
