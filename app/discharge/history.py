"""Facts derived from a discharge case's events: nothing here is stored or typed by hand.

The events are the log (ARCHITECTURE.md §1 principle 4): criteria-to-reside changes give the
discharge-ready date, `open_delay` / `end_delay` and the exits give the delay periods, and
`set_pathway` / `discharge` give the pathway history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.discharge.drd import CtrChange, DrdResult, derive_drd
from app.discharge.primary_reason import DelayPeriod
from app.models import CaseEvent

NOT_MEETING, MEETS_AGAIN = "not_meeting_ctr", "meets_ctr_again"
OPEN_DELAY, END_DELAY, SET_PRIMARY = "open_delay", "end_delay", "set_primary_delay"
DISCHARGE = "discharge"
# A discharge cancelled afterwards (the PAS's A13): the patient never left; the spell is open again.
CANCEL_DISCHARGE = "cancel_discharge"
# Events after which no delay period stays open (their pathway effect is close_all_delays).
CLOSES_ALL_DELAYS = frozenset({MEETS_AGAIN, DISCHARGE, "cancel", "died", "transfer"})
LEAVES_HOSPITAL = frozenset({DISCHARGE, "died", "transfer"})
RAISE_ESCALATION, CLEAR_ESCALATION = "raise_escalation", "clear_escalation"
EVENTS_OF_INTEREST = (
    frozenset(
        {
            NOT_MEETING,
            MEETS_AGAIN,
            OPEN_DELAY,
            END_DELAY,
            SET_PRIMARY,
            # A planned pathway is set by any of these three (derive_facts reads each).
            "set_pathway",
            "open",
            "accept",
            RAISE_ESCALATION,
            CLEAR_ESCALATION,
            CANCEL_DISCHARGE,
        }
    )
    | CLOSES_ALL_DELAYS
)

# (delay code, date of the clinical time) -> family of the code in the list then in force.
FamilyOf = Callable[[str, datetime], str | None]


@dataclass(frozen=True)
class PathwayChange:
    pathway: str
    at: datetime
    by: str
    reason: str | None
    actual: bool  # True for the pathway recorded at discharge


@dataclass(frozen=True)
class DischargeFacts:
    drd: DrdResult
    ctr_log: list[CtrChange]
    delays: list[DelayPeriod]
    delay_notes: dict[tuple[str, datetime], dict[str, Any]]
    pathways: list[PathwayChange]
    left_hospital_at: datetime | None
    # Set only when the spell ended with `discharge` (not death or transfer).
    discharged_at: datetime | None = None
    discharge_pathway: str | None = None
    escalated: bool = False


def derive_facts(events: Iterable[CaseEvent], family_of: FamilyOf) -> DischargeFacts:
    ordered = sorted(events, key=lambda e: e.seq)
    ctr: list[CtrChange] = []
    open_periods: dict[str, DelayPeriod] = {}
    closed: list[DelayPeriod] = []
    notes: dict[tuple[str, datetime], dict[str, Any]] = {}
    pathways: list[PathwayChange] = []
    left_at: datetime | None = None
    discharged: tuple[datetime, str | None] | None = None
    escalated = False
    for e in ordered:
        at = e.occurred_at
        if e.event in (NOT_MEETING, MEETS_AGAIN):
            ctr.append(
                CtrChange(effective_at=at, meets=e.event == MEETS_AGAIN, recorded_at=e.recorded_at)
            )
        elif e.event == OPEN_DELAY:
            code = e.data["delay_code"]
            open_periods[code] = DelayPeriod(
                code,
                family_of(code, at),
                at,
                None,
                e.recorded_at,
                bool(e.data.get("delay_primary")),
            )
            notes[(code, at)] = {k: e.data.get(k) for k in ("support_area", "delay_note")}
            notes[(code, at)]["codelist"] = (e.data.get("_codelists") or {}).get("delay_code")
        elif e.event == END_DELAY:
            period = open_periods.pop(e.data["delay_code"], None)
            if period is not None:
                closed.append(_ended(period, at))
        elif e.event == SET_PRIMARY:
            code = e.data["delay_code"]
            open_periods = {c: _marked(p, c == code) for c, p in open_periods.items()}
        if e.event in CLOSES_ALL_DELAYS:
            closed += [_ended(p, at) for p in open_periods.values()]
            open_periods = {}
        if e.event in ("set_pathway", "open", "accept") and e.data.get("pathway"):
            pathways.append(PathwayChange(e.data["pathway"], at, e.actor_username, e.reason, False))
        # The PAS's discharge (actor role `interface`) may not know the pathway.
        if e.event == DISCHARGE and e.data.get("discharge_pathway"):
            pathways.append(
                PathwayChange(e.data["discharge_pathway"], at, e.actor_username, e.reason, True)
            )
        if e.event in LEAVES_HOSPITAL:
            left_at = at
        if e.event == DISCHARGE:
            discharged = (at, e.data.get("discharge_pathway"))
        if e.event == CANCEL_DISCHARGE:
            left_at, discharged = None, None
            pathways = [p for p in pathways if not p.actual]
        if e.event in (RAISE_ESCALATION, CLEAR_ESCALATION):
            escalated = e.event == RAISE_ESCALATION
    delays = sorted([*closed, *open_periods.values()], key=lambda p: (p.started_at, p.code))
    return DischargeFacts(
        derive_drd(ctr, left_at),
        ctr,
        delays,
        notes,
        pathways,
        left_at,
        discharged[0] if discharged else None,
        discharged[1] if discharged else None,
        escalated,
    )


def _ended(period: DelayPeriod, at: datetime) -> DelayPeriod:
    # An entry backdated to before the delay began (say, meeting the criteria again from a time
    # before the delay was opened) leaves the delay with no length, rather than a negative one.
    end = max(at, period.started_at)
    return DelayPeriod(
        period.code,
        period.family,
        period.started_at,
        end,
        period.recorded_at,
        period.marked_primary,
    )


def _marked(period: DelayPeriod, primary: bool) -> DelayPeriod:
    return DelayPeriod(
        period.code, period.family, period.started_at, period.ended_at, period.recorded_at, primary
    )
