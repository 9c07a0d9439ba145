"""Pure figures for the IC report: whether a clock was met, rates against a standard, and
summaries of lengths. Every figure is derived from the stored clocks and events (ARCHITECTURE.md
principle 4), never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import mean, median
from typing import Literal

from pydantic import BaseModel

from app.models import Clock

Result = Literal["met", "breached", "pending"]
DAY = 86_400.0


def clock_result(clock: Clock, now: datetime) -> Result:
    """Met when it stopped within its budget; breached when the budget ran out (even if the
    sweeper has not recorded it yet); pending while it still runs inside the budget."""
    if clock.state == "stopped":
        return "met" if clock.consumed_seconds <= clock.budget_seconds else "breached"
    if clock.breached_at is not None or (clock.due_at is not None and clock.due_at <= now):
        return "breached"
    return "pending"


def consumed_seconds(clock: Clock, now: datetime) -> float:
    """Counted time so far (wall-clock clocks only: the running stretch is added as elapsed)."""
    running = (now - clock.running_since).total_seconds() if clock.running_since else 0.0
    return clock.consumed_seconds + max(running, 0.0)


class RateRead(BaseModel):
    """Met and breached among the decided cases; pending ones are counted but not in the rate."""

    count: int
    met: int
    breached: int
    pending: int
    percent_met: float | None


@dataclass
class Tally:
    met: int = 0
    breached: int = 0
    pending: int = 0

    def add(self, result: Result) -> None:
        setattr(self, result, getattr(self, result) + 1)

    def read(self) -> RateRead:
        decided = self.met + self.breached
        return RateRead(
            count=decided + self.pending,
            met=self.met,
            breached=self.breached,
            pending=self.pending,
            percent_met=round(100 * self.met / decided, 1) if decided else None,
        )


class LengthSummary(BaseModel):
    count: int
    mean_days: float | None
    median_days: float | None
    max_days: float | None


def summarise_days(seconds: list[float]) -> LengthSummary:
    days = [s / DAY for s in seconds]
    if not days:
        return LengthSummary(count=0, mean_days=None, median_days=None, max_days=None)
    return LengthSummary(
        count=len(days),
        mean_days=round(mean(days), 1),
        median_days=round(median(days), 1),
        max_days=round(max(days), 1),
    )
