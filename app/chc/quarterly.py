"""The quarterly CHC and FNC collection, one row per organisation and financial quarter.

Fields as docs/domain.md §7.7 lists them, each derived from the CHC event log:
- new referrals: cases opened in the quarter (their first notice);
- referrals completed: first eligibility decisions (`screen_out`, `decide`, `accept_fast_track`)
  in the quarter; within 28 days when the case's first `chc_28_day` clock used no more than
  its budget;
- incomplete referrals over 28 days: at the quarter's end, cases opened more than 28 days
  earlier with no decision yet (bands as in `pathways/config/chc-local.yaml`; UNVERIFIED U8);
- eligible (standard and Fast Track), not eligible, FNC: outcomes of those decisions;
- no longer eligible: reviews in the quarter with that outcome;
- assessments completed and DSTs in acute and non-acute settings: `record_dst` events;
- local requests for review: `dispute` events.
Personal health budgets are not recorded by HomeFirst, so that column is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.models import CaseEvent, Clock
from app.timeutil import day_bounds, london_date

DECISIONS = ("screen_out", "decide", "accept_fast_track")
TRACKED = (*DECISIONS, "open", "record_dst", "complete_review", "dispute")


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


def quarterly_row(
    quarter: Quarter,
    organisation: str,
    events: Sequence[CaseEvent],
    clocks28: dict[int, Clock],
    bands: Sequence[tuple[str, float, float | None]],
    now: datetime,
) -> dict[str, Any]:
    def inside(e: CaseEvent) -> bool:
        return quarter.first_day <= london_date(e.occurred_at) <= quarter.last_day

    opened = {e.case_id: e for e in events if e.event == "open"}
    first_decision: dict[int, CaseEvent] = {}
    for e in events:
        if e.event in DECISIONS:
            first_decision.setdefault(e.case_id, e)
    decided = [e for e in first_decision.values() if inside(e)]
    outcomes = [e.data.get("decision_outcome") for e in decided]
    fast = [e for e in decided if e.event == "accept_fast_track"]
    within = [
        e
        for e in decided
        if (c := clocks28.get(e.case_id)) is not None and c.consumed_seconds <= c.budget_seconds
    ]
    dsts = [e for e in events if e.event == "record_dst" and inside(e)]
    acute = sum(1 for e in dsts if e.data.get("dst_setting") == "acute")
    eligible = sum(1 for o in outcomes if o == "chc_eligible")
    end = min(now, _end_instant(quarter))
    overdue = [
        (end - o.occurred_at).total_seconds() / 86400 - 28
        for cid, o in opened.items()
        if o.occurred_at <= end
        and (cid not in first_decision or first_decision[cid].occurred_at > end)
    ]
    overdue = [days for days in overdue if days > 0]
    row: dict[str, Any] = {
        "Quarter": quarter.label,
        "Organisation": organisation,
        "New referrals": sum(1 for e in opened.values() if inside(e)),
        "Referrals completed": len(decided),
        "Referrals completed within 28 days": len(within),
        "Incomplete referrals over 28 days": len(overdue),
    }
    for key, lo, hi in bands:
        row[f"Incomplete referrals over 28 days - {key}"] = sum(
            1 for d in overdue if lo * 7 <= d and (hi is None or d < hi * 7)
        )
    row.update(
        {
            "Number eligible - standard": sum(
                1
                for e in decided
                if e not in fast and e.data.get("decision_outcome") == "chc_eligible"
            ),
            "Number eligible - Fast Track": sum(
                1 for e in fast if e.data.get("decision_outcome") == "chc_eligible"
            ),
            "Eligible": eligible,
            "Not eligible": sum(1 for o in outcomes if o != "chc_eligible"),
            "No longer eligible": sum(
                1
                for e in events
                if e.event == "complete_review"
                and inside(e)
                and e.data.get("review_outcome") == "no_longer_eligible"
            ),
            "FNC activity": sum(1 for o in outcomes if o == "fnc"),
            "Assessments completed": len({e.case_id for e in dsts}),
            # Eligible after a full assessment, per full assessment (Fast Track has no DST).
            "Assessment conversion rate (%)": _pct(
                eligible - sum(1 for e in fast if e.data.get("decision_outcome") == "chc_eligible"),
                len({e.case_id for e in dsts}),
            ),
            "Referral conversion rate (%)": _pct(eligible, len(decided)),
            "Local requests for review": sum(
                1 for e in events if e.event == "dispute" and inside(e)
            ),
            "DSTs completed in acute setting": acute,
            "DSTs completed in non-acute setting": len(dsts) - acute,
        }
    )
    return row


def _end_instant(quarter: Quarter) -> datetime:
    return day_bounds(quarter.last_day)[1] - timedelta(microseconds=1)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None
