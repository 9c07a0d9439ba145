"""The data-quality measures of one day, derived from the case events: pure functions.

A day's figures are what the record said at the end of that day (its snapshot: the last instant
of the London day, or now while it runs): only events recorded by then, with clinical time by
then, are read. So a finished day's figures never change, and an entry recorded late shows as
late instead of quietly mending the day it belongs to. Definitions: README "Data quality of
discharge-ready dates".

- Census: inpatients at the snapshot (admitted, not left) with at least `min_nights` nights
  (London dates from admission to the census day), on the ward they were on at the snapshot.
- `no_status`: a census patient with no criteria-to-reside entry (not meeting / meets again).
- `delayed_no_reason`: not meeting the criteria at the snapshot, at least
  `delay_reason_due_after_days` past the discharge-ready date, no delay reason open.
- `reason_while_meeting`: a delay reason open at the snapshot while the criteria-to-reside log
  (in clinical order) says the patient meets the criteria (or has no entry).
- `backdated`: a criteria-to-reside entry recorded that day more than `backdated_after_hours`
  after its clinical time; put on the ward the patient was on when it was recorded.
- `flip_flop`: in clinical order, not meeting -> meets again -> not meeting, the second "not
  meeting" within `flip_flop_window_hours` of the "meets again"; counted once, on the day the
  last of its three entries was recorded, on the ward at that instant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

from app.discharge.history import EVENTS_OF_INTEREST, MEETS_AGAIN, NOT_MEETING, derive_facts
from app.discharge.wards import ward_at
from app.models import CaseEvent
from app.quality.config import Problem, QualityConfig
from app.timeutil import day_bounds, london_date

NO_WARD = "(no ward)"
CTR_EVENTS = frozenset({NOT_MEETING, MEETS_AGAIN})
CENSUS_PROBLEMS: tuple[Problem, ...] = ("no_status", "delayed_no_reason", "reason_while_meeting")


@dataclass(frozen=True)
class SpellInput:
    """One discharge case as the measures read it: its events, oldest first (by seq)."""

    case_id: int
    site: str | None
    patient_ref: str | None
    admitted_at: datetime
    events: Sequence[CaseEvent]

    @cached_property
    def settled(self) -> datetime | None:
        """From when nothing can change the spell's figures: it had left hospital and its last
        event was recorded (None while it is in hospital, or if it never left)."""
        if not self.events:
            return None
        facts = derive_facts([e for e in self.events if e.event in EVENTS_OF_INTEREST], _no_family)
        left = facts.left_hospital_at
        if left is None:
            return None
        return max(left, *(e.recorded_at for e in self.events))


@dataclass(frozen=True)
class Finding:
    """One thing to fix: a patient, the measure, where, and what is wrong in words."""

    case_id: int
    measure: Problem
    ward: str
    site: str | None
    patient_ref: str | None
    detail: str
    in_census: bool


@dataclass
class Tally:
    """The counts of one ward (or the whole) on one day."""

    census: int = 0
    with_status: int = 0
    ctr_entries: int = 0
    backdated: int = 0
    backdated_by: Counter[str] = field(default_factory=Counter)
    flip_flops: int = 0
    delayed: int = 0
    delayed_no_reason: int = 0
    reason_while_meeting: int = 0
    with_problem: int = 0

    def add(self, other: Tally) -> None:
        for name in (
            "census",
            "with_status",
            "ctr_entries",
            "backdated",
            "flip_flops",
            "delayed",
            "delayed_no_reason",
            "reason_while_meeting",
            "with_problem",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.backdated_by.update(other.backdated_by)


@dataclass(frozen=True)
class DayQuality:
    day: date
    snapshot: datetime
    wards: dict[str, Tally]
    findings: list[Finding]


def as_recorded(events: Iterable[CaseEvent], at: datetime) -> list[CaseEvent]:
    """The events the record held at `at`: recorded by then, with clinical time by then."""
    return [e for e in events if e.recorded_at <= at and e.occurred_at <= at]


def day_quality(
    spells: Iterable[SpellInput], *, day: date, snapshot: datetime, cfg: QualityConfig
) -> DayQuality:
    """Every measure of `day` (its figures as recorded by `snapshot`), per ward."""
    wards: dict[str, Tally] = {}
    findings: list[Finding] = []
    day_start, _ = day_bounds(day)

    def tally(ward: str) -> Tally:
        return wards.setdefault(ward, Tally())

    for spell in spells:
        if spell.settled is not None and spell.settled < day_start:
            continue  # left before the day, and nothing recorded since: nothing to count
        known = as_recorded(spell.events, snapshot)
        if not any(e.event == "open" for e in known) or spell.admitted_at > snapshot:
            continue  # not yet known, or not yet admitted, at the snapshot
        found = _spell_findings(spell, known, day, day_start, snapshot, cfg)
        census_ward = found.census_ward
        if census_ward is not None:
            t = tally(census_ward)
            t.census += 1
            t.with_status += found.has_status
            t.delayed += found.delayed
            problems = {f.measure for f in found.findings} & set(cfg.score_counts)
            t.with_problem += bool(problems)
        for f in found.findings:
            if f.measure == "no_status":
                continue
            t = tally(f.ward)
            if f.measure == "delayed_no_reason":
                t.delayed_no_reason += 1
            elif f.measure == "reason_while_meeting":
                t.reason_while_meeting += 1
            elif f.measure == "flip_flop":
                t.flip_flops += 1
        for ward, band in found.backdated:
            t = tally(ward)
            t.backdated += 1
            t.backdated_by[band] += 1
        for ward in found.entries:
            tally(ward).ctr_entries += 1
        findings += found.findings
    return DayQuality(day, snapshot, dict(sorted(wards.items())), findings)


@dataclass
class _Found:
    census_ward: str | None = None
    has_status: bool = False
    delayed: bool = False
    entries: list[str] = field(default_factory=list)  # ward of each entry recorded that day
    backdated: list[tuple[str, str]] = field(default_factory=list)  # (ward, band)
    findings: list[Finding] = field(default_factory=list)


def _spell_findings(
    spell: SpellInput,
    known: list[CaseEvent],
    day: date,
    day_start: datetime,
    snapshot: datetime,
    cfg: QualityConfig,
) -> _Found:
    out = _Found()
    facts = derive_facts([e for e in known if e.event in EVENTS_OF_INTEREST], _no_family)
    ctr = [e for e in known if e.event in CTR_EVENTS]
    left = facts.left_hospital_at
    nights = (day - london_date(spell.admitted_at)).days
    in_census = (left is None or left > snapshot) and nights >= cfg.min_nights

    def finding(measure: Problem, ward: str, detail: str) -> Finding:
        return Finding(
            spell.case_id, measure, ward, spell.site, spell.patient_ref, detail, in_census
        )

    if in_census:
        ward = ward_at(known, snapshot) or NO_WARD
        out.census_ward = ward
        out.has_status = bool(ctr)
        if not ctr:
            out.findings.append(
                finding("no_status", ward, f"no criteria-to-reside entry in {nights} night(s)")
            )
        nctr = any(s <= snapshot and (e is None or e > snapshot) for s, e in facts.drd.nctr_periods)
        reason_open = [
            p.code
            for p in facts.delays
            if p.started_at <= snapshot and (p.ended_at is None or p.ended_at > snapshot)
        ]
        drd = facts.drd.discharge_ready_date
        if nctr and drd is not None and (day - drd).days >= cfg.delay_reason_due_after_days:
            out.delayed = True
            if not reason_open:
                out.findings.append(
                    finding(
                        "delayed_no_reason",
                        ward,
                        f"not meeting the criteria since {drd.isoformat()} "
                        f"({(day - drd).days} day(s)), no delay reason open",
                    )
                )
        if not nctr and reason_open:
            status = "meets the criteria to reside" if ctr else "no criteria-to-reside entry"
            out.findings.append(
                finding(
                    "reason_while_meeting",
                    ward,
                    f"delay reason {', '.join(sorted(reason_open))} open, but {status}",
                )
            )
    threshold = timedelta(hours=cfg.backdated_after_hours)
    for e in ctr:
        if not day_start <= e.recorded_at <= snapshot:
            continue
        ward = ward_at(known, e.recorded_at) or NO_WARD
        out.entries.append(ward)
        late = e.recorded_at - e.occurred_at
        if late > threshold:
            hours = late.total_seconds() / 3600
            out.backdated.append((ward, cfg.band_of(hours)))
            out.findings.append(
                finding(
                    "backdated",
                    ward,
                    f"{_label(e.event)} for {_at(e.occurred_at)} recorded {_at(e.recorded_at)}: "
                    f"{hours:.0f} hours late",
                )
            )
    for a, b, c in flip_flops(ctr, timedelta(hours=cfg.flip_flop_window_hours)):
        last = max(a.recorded_at, b.recorded_at, c.recorded_at)
        if london_date(last) != day:
            continue
        ward = ward_at(known, last) or NO_WARD
        out.findings.append(
            finding(
                "flip_flop",
                ward,
                f"not meeting {_at(a.occurred_at)}, meets again {_at(b.occurred_at)}, "
                f"not meeting {_at(c.occurred_at)}",
            )
        )
    return out


def status_changes(ctr: Iterable[CaseEvent]) -> list[CaseEvent]:
    """The entries that change the status, in clinical order (ties in log order), as the
    discharge-ready date reads them (app.discharge.drd): a repeat of the same status is not a
    change, and "not meeting" undone at the same instant is no period."""
    out: list[CaseEvent] = []
    for e in sorted(ctr, key=lambda e: (e.occurred_at, e.seq)):
        if out and out[-1].event == e.event:
            continue
        if e.event == MEETS_AGAIN and out and out[-1].occurred_at == e.occurred_at:
            out.pop()  # not meeting and meeting again at one instant: a correction, no period
            continue
        if not out and e.event == MEETS_AGAIN:
            continue  # meeting the criteria is the presumption before the first entry
        out.append(e)
    return out


def flip_flops(
    ctr: Iterable[CaseEvent], window: timedelta
) -> list[tuple[CaseEvent, CaseEvent, CaseEvent]]:
    """Each (not meeting, meets again, not meeting) in a row whose second "not meeting" is
    within `window` of the "meets again" (clinical time)."""
    changes = status_changes(ctr)
    return [
        (a, b, c)
        for a, b, c in zip(changes, changes[1:], changes[2:], strict=False)
        if a.event == NOT_MEETING and c.occurred_at - b.occurred_at <= window
    ]


def _no_family(_code: str, _at: datetime) -> str | None:
    return None  # the measures need no delay-reason family


def _label(event: str) -> str:
    return "not meeting the criteria" if event == NOT_MEETING else "meets the criteria again"


def _at(at: datetime) -> str:
    return at.isoformat(timespec="minutes").replace("+00:00", "Z")
