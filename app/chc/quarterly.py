"""The quarterly CHC and FNC collection: one row per sub-ICB location and financial quarter.

The published field list (PUBLISHED-RULES row 29): "number eligible for NHS CHC, incomplete
referrals over 28 days, personal health budgets, number of new referrals, number of referrals
completed, number of referrals completed within 28 days, number of assessments completed, number
assessed as eligible/ not eligible, number no longer eligible, assessment conversion rate,
referral conversion rate and number of decision support tools (DST) completed in acute/ non-acute
setting and NHS-funded Nursing Care activity"; "Data are collected quarterly and cover Integrated
Care Board Sub Locations". Each figure is derived from the CHC event log:

- A referral is the earliest notice "that full consideration for NHS Continuing Healthcare is
  required" (Data Dictionary). A negative Checklist (`screen_out`) shows that full consideration
  was not required, so that case is not a referral at all, whenever the Checklist was done; its
  count is given apart. A case still waiting for its Checklist counts as a referral.
- Standard CHC only in the referral and 28-day figures: a case on the Fast Track route by the
  quarter's end is reported in the Fast Track columns instead.
- referrals completed: first standard eligibility decisions (`decide`) in the quarter; within 28
  days when the case's first `chc_28_day` clock used no more than its budget;
- incomplete referrals over 28 days: at the quarter's end, standard referrals opened more than 28
  days earlier with no decision, not withdrawn and not ended by death (bands as in
  `pathways/config/chc-local.yaml`; UNVERIFIED U8);
- number eligible: a SNAPSHOT, the people eligible at the quarter's end (their latest eligibility
  determination by then says chc_eligible and the case has not ended). The decisions made in the
  quarter are "Number assessed as eligible / not eligible" (standard) and the Fast Track columns;
- number no longer eligible: decisions after a reassessment (`decide_reassessment`, a new DST
  and an ICB decision) in the quarter that end eligibility. "Eligibility cannot be determined at
  a Review": reviews recorded as `no_longer_eligible` on pathway version 1 are counted in a column
  of their own, and end eligibility in the snapshot because that is what the record says;
- assessments completed: cases whose full assessment DST (not a reassessment's) was recorded in
  the quarter; DSTs in acute and non-acute settings count every `record_dst` event;
- local requests for review: `dispute` events (a local column).
Personal health budgets are not recorded by HomeFirst, so that column is absent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.chc.config import SubIcbLocation
from app.models import CaseEvent, Clock
from app.timeutil import day_bounds, london_date

FIRST_DECISIONS = ("screen_out", "decide", "accept_fast_track")
# Events that settle eligibility for a while, and what they say (the decision_outcome).
DETERMINATIONS = (*FIRST_DECISIONS, "resolve_dispute", "decide_reassessment")
ENDINGS = ("close", "record_death", "withdraw")
TRACKED = (
    *DETERMINATIONS,
    *ENDINGS,
    "open",
    "fast_track",
    "record_dst",
    "start_reassessment",
    "complete_review",
    "dispute",
)
LEGACY_REVIEW_OUTCOME = "no_longer_eligible"  # pathway version 1 only


@dataclass(frozen=True)
class Quarter:
    fy_start: int  # 2026 for 2026/27
    number: int  # 1 = April to June

    @property
    def label(self) -> str:
        return f"{self.fy_start}/{str(self.fy_start + 1)[2:]} Q{self.number}"

    @property
    def first_day(self) -> date:
        month = 4 + 3 * (self.number - 1)
        return date(self.fy_start + (month - 1) // 12, (month - 1) % 12 + 1, 1)

    @property
    def last_day(self) -> date:
        nxt = Quarter(self.fy_start + (self.number == 4), self.number % 4 + 1).first_day
        return nxt - timedelta(days=1)


@dataclass
class _CaseHistory:
    """One case's tracked events in the case's own order (seq)."""

    events: list[CaseEvent]

    def named(self, *names: str) -> list[CaseEvent]:
        return [e for e in self.events if e.event in names]

    def first(self, *names: str) -> CaseEvent | None:
        return next(iter(self.named(*names)), None)

    @property
    def opened(self) -> CaseEvent | None:
        return self.first("open")

    @property
    def first_decision(self) -> CaseEvent | None:
        return self.first(*FIRST_DECISIONS)

    @property
    def screened_out(self) -> bool:
        decision = self.first_decision
        return decision is not None and decision.event == "screen_out"

    def by(self, end: datetime, *names: str) -> list[CaseEvent]:
        return [e for e in self.named(*names) if e.occurred_at <= end]

    def fast_tracked_by(self, end: datetime) -> bool:
        return bool(self.by(end, "fast_track"))

    def ended_by(self, end: datetime) -> bool:
        return bool(self.by(end, *ENDINGS))

    def eligible_at(self, end: datetime) -> CaseEvent | None:
        """The determination that makes the person eligible at `end`, if they are."""
        if self.ended_by(end):
            return None
        latest: CaseEvent | None = None
        for e in self.by(end, *DETERMINATIONS, "complete_review"):
            if e.event != "complete_review":
                latest = e
            elif e.data.get("review_outcome") == LEGACY_REVIEW_OUTCOME:
                latest = e  # a version 1 record that ended eligibility at a review
        if latest is None or latest.event == "complete_review":
            return None
        return latest if latest.data.get("decision_outcome") == "chc_eligible" else None

    def reassessment_dsts(self) -> set[int]:
        """Ids of DSTs recorded in a reassessment (after a start_reassessment)."""
        started = False
        ids: set[int] = set()
        for e in self.events:
            if e.event == "start_reassessment":
                started = True
            elif e.event == "decide_reassessment":
                started = False
            elif e.event == "record_dst" and started:
                ids.add(e.id)
        return ids


def location_columns(organisation: str, location: SubIcbLocation | None) -> dict[str, Any]:
    """The reporting unit: the organisation's sub-ICB location, or why it has no code."""
    if location is None:
        return {
            "Sub-ICB location code": "",
            "Sub-ICB location name": "not configured (pathways/config/chc-local.yaml)",
            "Sub-ICB location code verified": "no",
            "HomeFirst organisation": organisation,
        }
    return {
        "Sub-ICB location code": location.code or "",
        "Sub-ICB location name": location.name,
        "Sub-ICB location code verified": "yes" if location.verified else "no",
        "HomeFirst organisation": organisation,
    }


def quarterly_row(
    quarter: Quarter,
    organisation: str,
    events: Sequence[CaseEvent],
    clocks28: dict[int, Clock],
    bands: Sequence[tuple[str, float, float | None]],
    now: datetime,
    *,
    locations: Mapping[str, SubIcbLocation] | None = None,
) -> dict[str, Any]:
    """The quarter's row for `organisation` from its tracked CHC events (`TRACKED`) and each
    case's first 28-day clock. `locations` maps organisations to sub-ICB locations (by default
    `sub_icb_locations` of the CHC configuration)."""
    if locations is None:
        from app.chc.config import chc_config

        locations = chc_config().local.sub_icb_locations

    def inside(e: CaseEvent) -> bool:
        return quarter.first_day <= london_date(e.occurred_at) <= quarter.last_day

    grouped: dict[int, list[CaseEvent]] = defaultdict(list)
    for e in sorted(events, key=lambda e: (e.case_id, e.seq)):
        grouped[e.case_id].append(e)
    cases = {cid: _CaseHistory(evs) for cid, evs in grouped.items()}
    end = min(now, _end_instant(quarter))

    def standard_at_end(h: _CaseHistory) -> bool:
        return not h.screened_out and not h.fast_tracked_by(end)

    new_referrals = [
        h for h in cases.values() if h.opened and inside(h.opened) and standard_at_end(h)
    ]
    first_decisions = [h.first_decision for h in cases.values()]
    negative_checklists = [
        d for d in first_decisions if d is not None and d.event == "screen_out" and inside(d)
    ]
    completed = [d for d in first_decisions if d is not None and d.event == "decide" and inside(d)]
    within = [
        e
        for e in completed
        if (c := clocks28.get(e.case_id)) is not None and c.consumed_seconds <= c.budget_seconds
    ]
    overdue = [
        (end - h.opened.occurred_at).total_seconds() / 86400 - 28
        for h in cases.values()
        if h.opened is not None
        and h.opened.occurred_at <= end
        and standard_at_end(h)
        and not h.by(end, *FIRST_DECISIONS)
        and not h.ended_by(end)
    ]
    overdue = [days for days in overdue if days > 0]
    eligible_now = [
        eligible for h in cases.values() if (eligible := h.eligible_at(end)) is not None
    ]
    fast_eligible_now = sum(1 for d in eligible_now if d.event == "accept_fast_track")
    fast_referrals = [
        ft for h in cases.values() if (ft := h.first("fast_track")) is not None and inside(ft)
    ]
    fast_decided = [
        d for d in first_decisions if d is not None and d.event == "accept_fast_track" and inside(d)
    ]
    assessed_eligible = sum(
        1 for e in completed if e.data.get("decision_outcome") == "chc_eligible"
    )
    reassessment_dsts = set().union(*(h.reassessment_dsts() for h in cases.values()))
    dsts = [e for e in events if e.event == "record_dst" and inside(e)]
    assessments = {e.case_id for e in dsts if e.id not in reassessment_dsts}
    acute = sum(1 for e in dsts if e.data.get("dst_setting") == "acute")
    no_longer = [
        e
        for e in events
        if e.event == "decide_reassessment"
        and inside(e)
        and e.data.get("decision_outcome") != "chc_eligible"
    ]
    legacy_reviews = [
        e
        for e in events
        if e.event == "complete_review"
        and inside(e)
        and e.data.get("review_outcome") == LEGACY_REVIEW_OUTCOME
    ]
    fnc = {
        e.case_id
        for e in events
        if e.event in ("screen_out", "decide", "decide_reassessment")
        and inside(e)
        and e.data.get("decision_outcome") == "fnc"
    }
    row: dict[str, Any] = {
        "Quarter": quarter.label,
        **location_columns(organisation, locations.get(organisation)),
        "Number eligible at quarter end": len(eligible_now),
        "Number eligible at quarter end - standard": len(eligible_now) - fast_eligible_now,
        "Number eligible at quarter end - Fast Track": fast_eligible_now,
        "Number of new referrals": len(new_referrals),
        "Number of referrals completed": len(completed),
        "Number of referrals completed within 28 days": len(within),
        "Incomplete referrals over 28 days": len(overdue),
    }
    for key, lo, hi in bands:
        row[f"Incomplete referrals over 28 days - {key}"] = sum(
            1 for d in overdue if lo * 7 <= d and (hi is None or d < hi * 7)
        )
    row.update(
        {
            "Number of assessments completed": len(assessments),
            "Number assessed as eligible": assessed_eligible,
            "Number assessed as not eligible": len(completed) - assessed_eligible,
            "Number no longer eligible": len(no_longer),
            # Eligible after a full assessment, per full assessment (Fast Track has no DST).
            "Assessment conversion rate (%)": _pct(assessed_eligible, len(assessments)),
            "Referral conversion rate (%)": _pct(assessed_eligible, len(completed)),
            "DSTs completed in acute setting": acute,
            "DSTs completed in non-acute setting": len(dsts) - acute,
            "NHS-funded Nursing Care decisions": len(fnc),
            "Fast Track referrals": len(fast_referrals),
            "Fast Track referrals found eligible": sum(
                1 for e in fast_decided if e.data.get("decision_outcome") == "chc_eligible"
            ),
            "Negative Checklists (not referrals for full consideration)": len(negative_checklists),
            "Local requests for review": sum(
                1 for e in events if e.event == "dispute" and inside(e)
            ),
            "Reviews recorded as no longer eligible (pathway v1, not a decision)": len(
                legacy_reviews
            ),
        }
    )
    return row


def _end_instant(quarter: Quarter) -> datetime:
    return day_bounds(quarter.last_day)[1] - timedelta(microseconds=1)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None
