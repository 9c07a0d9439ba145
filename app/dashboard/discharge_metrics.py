"""Daily discharge metrics, computed from each spell's derived facts as at a snapshot time.

Definitions (DOMAIN.md §6.1-6.3), for reporting day D in Europe/London and snapshot time T (the
end of D, or now when D is today):

- *In hospital at T*: admitted at or before T and not discharged, dead or transferred by T.
- `nctr_remaining`: in hospital at T and not meeting the criteria to reside at T
  ("Number of patients remaining in hospital who no longer meet the criteria to reside").
- `nctr_on_day`: not meeting the criteria at any moment of D while in hospital, including those
  who left during D ("Number of patients who no longer meet the criteria to reside").
- `discharged`: `discharge` events on D ("Number of patients discharged"); deaths and transfers
  are not discharges.
- Delay of a discharge: days from its discharge-ready date (final-period rule) to the discharge
  date, in London calendar days; buckets, averages and delayed bed days as §6.3.
- Remaining delays: days from the DRD to D for `nctr_remaining` patients, in the same buckets.
- Primary reason and family: for `nctr_remaining` patients, the primary reason open at T.
- Support areas: delay periods open at T or ended during D; length to their end or to T, in days.
- Length of stay: in hospital at T, London dates from admission to D; 7+, 14+ and 21+ counts with
  the bed days beyond each threshold.
- Pathway shares: discharges on D by the pathway actually used, P3b counted with P0 (§3.3),
  against the expected 50/45/4/1 (minimum, minimum, maximum, maximum; UNVERIFIED U6, data).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.calc.buckets import BUCKET_LABELS, bucket_for, summarise_delays
from app.calc.drd import london_date
from app.calc.primary_reason import choose_primary_reason
from app.discharge.history import DischargeFacts
from app.timeutil import day_bounds

EXPECTED_SHARES = {
    "P0": (50.0, "minimum"),
    "P1": (45.0, "minimum"),
    "P2": (4.0, "maximum"),
    "P3": (1.0, "maximum"),
}
LOS_THRESHOLDS = (7, 14, 21)


@dataclass(frozen=True)
class Spell:
    case_id: int
    site: str | None
    hospital_system: str | None
    admitted_at: datetime
    facts: DischargeFacts  # derived from the events with clinical time up to the snapshot


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


def discharge_metrics(
    spells: Sequence[Spell],
    *,
    day: date,
    snapshot: datetime,
    family_precedence: Sequence[str],
    labels: dict[str, str | None],
) -> dict[str, Any]:
    day_start, day_end = day_bounds(day)
    inpatients = [s for s in spells if in_hospital(s, snapshot)]
    remaining = [s for s in inpatients if nctr_at(s, snapshot)]
    on_day = [
        s
        for s in spells
        if nctr_during(s, day_start, min(day_end, snapshot))
        and s.admitted_at < min(day_end, snapshot)
        and (s.facts.left_hospital_at is None or s.facts.left_hospital_at >= day_start)
    ]
    discharged = [
        s
        for s in spells
        if s.facts.discharged_at is not None and day_start <= s.facts.discharged_at <= snapshot
    ]
    discharge_delays = [_delay_at_discharge(s) for s in discharged]
    summary = summarise_delays(discharge_delays)
    remaining_days = [(day - (s.facts.drd.discharge_ready_date or day)).days for s in remaining]
    primaries = [_primary(s, snapshot, family_precedence) for s in remaining]
    return {
        "nctr_on_day": len(on_day),
        "nctr_remaining": len(remaining),
        "discharged": len(discharged),
        "discharges_by_pathway": _pathway_shares(discharged),
        "discharge_delays": {
            "buckets": summary.bucket_counts,
            "bucket_bed_days": summary.bucket_bed_days,
            "delayed": summary.delayed,
            "no_delay": summary.no_delay,
            "delayed_bed_days": summary.delayed_bed_days,
            "average_including_zero": _round(summary.average_including_zero),
            "average_excluding_zero": _round(summary.average_excluding_zero),
        },
        "remaining_delay_buckets": _buckets(remaining_days),
        "remaining_delayed_bed_days": sum(remaining_days),
        "by_primary_reason": _count_reasons(primaries, labels),
        "by_family": dict(
            sorted(Counter(f or "No family" for _, f in (p for p in primaries if p)).items())
        ),
        "no_reason_recorded": sum(1 for p in primaries if p is None),
        "support_areas": _support_areas(spells, day_start, snapshot),
        "length_of_stay": _length_of_stay(inpatients, day),
        "escalated": sum(1 for s in inpatients if s.facts.escalated),
        "by_site": _by_site(inpatients, remaining, discharged),
    }


def _delay_at_discharge(s: Spell) -> int:
    drd = s.facts.drd.discharge_ready_date
    assert s.facts.discharged_at is not None  # noqa: S101 - only discharged spells come here
    if drd is None:
        return 0  # discharged while meeting the criteria: no delay to count
    return max((london_date(s.facts.discharged_at) - drd).days, 0)


def _pathway_shares(discharged: Sequence[Spell]) -> dict[str, Any]:
    national = Counter(
        "P0" if s.facts.discharge_pathway == "P3b" else s.facts.discharge_pathway
        for s in discharged
    )
    recorded = Counter(s.facts.discharge_pathway for s in discharged)
    total = len(discharged)
    out: dict[str, Any] = {}
    for pathway, (expected, kind) in EXPECTED_SHARES.items():
        count = national.get(pathway, 0)
        out[pathway] = {
            "count": count,
            "percent": _round(100 * count / total) if total else None,
            "expected_percent": expected,
            "expected_is": kind,
        }
    out["P3b_recorded"] = recorded.get("P3b", 0)
    return out


def _buckets(days: Sequence[int]) -> dict[str, int]:
    counts = dict.fromkeys(BUCKET_LABELS, 0)
    for d in days:
        counts[bucket_for(d)] += 1
    return counts


def _primary(s: Spell, at: datetime, precedence: Sequence[str]) -> tuple[str, str | None] | None:
    choice = choose_primary_reason(s.facts.delays, as_at=at, family_precedence=precedence)
    return (choice.period.code, choice.period.family) if choice else None


def _count_reasons(
    primaries: Sequence[tuple[str, str | None] | None], labels: dict[str, str | None]
) -> list[dict[str, Any]]:
    counts = Counter(p for p in primaries if p)
    return [
        {"code": code, "label": labels.get(code), "family": family, "patients": n}
        for (code, family), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0]))
    ]


def _support_areas(
    spells: Sequence[Spell], day_start: datetime, snapshot: datetime
) -> dict[str, Any]:
    lengths: dict[str, list[float]] = defaultdict(list)
    for s in spells:
        for period in s.facts.delays:
            if period.started_at > snapshot:
                continue
            # A period ended after the snapshot was still open at it.
            ended = period.ended_at if period.ended_at and period.ended_at <= snapshot else None
            if ended is not None and ended < day_start:
                continue
            note = s.facts.delay_notes.get((period.code, period.started_at), {})
            area = note.get("support_area") or "not recorded"
            end = ended or snapshot
            lengths[area].append((end - period.started_at).total_seconds() / 86400)
    return {
        area: {"periods": len(v), "average_days": _round(sum(v) / len(v))}
        for area, v in sorted(lengths.items())
    }


def _length_of_stay(inpatients: Sequence[Spell], day: date) -> dict[str, Any]:
    stays = [(day - london_date(s.admitted_at)).days for s in inpatients]
    return {
        f"{t}_plus": {
            "patients": sum(1 for d in stays if d >= t),
            "bed_days_beyond": sum(d - t for d in stays if d >= t),
        }
        for t in LOS_THRESHOLDS
    }


def _by_site(
    inpatients: Sequence[Spell], remaining: Sequence[Spell], discharged: Sequence[Spell]
) -> list[dict[str, Any]]:
    keys = sorted({(s.hospital_system or "", s.site or "") for s in [*inpatients, *discharged]})
    rows = []
    for system, site in keys:

        def match(s: Spell, system: str = system, site: str = site) -> bool:
            return (s.hospital_system or "", s.site or "") == (system, site)

        rows.append(
            {
                "hospital_system": system or None,
                "site": site or None,
                "inpatients": sum(map(match, inpatients)),
                "nctr_remaining": sum(map(match, remaining)),
                "discharged": sum(map(match, discharged)),
                "escalated": sum(1 for s in inpatients if match(s) and s.facts.escalated),
            }
        )
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
