"""The CHC backlog clearance forecast: the backlog now against its arrivals and exits per day
over a window, drawn forward many times (days drawn by weekday, a day's arrivals and exits
together, so a busy day stays busy on both counts).

Weeks to clear is the week in which a drawn future's backlog first reaches zero; the forecast
gives the central interval over the futures and, week by week, the backlog's fan.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.forecast.config import ForecastConfig
from app.forecast.queues import Episode, seed_for, window_of
from app.timeutil import london_date


@dataclass(frozen=True)
class Flow:
    """Arrivals and exits on each day of the window (oldest first)."""

    first_day: date
    arrivals: tuple[int, ...]
    exits: tuple[int, ...]
    started: int  # exits that went on to the panel or a decision

    @property
    def days(self) -> int:
        return len(self.arrivals)

    def per_week(self, counts: Sequence[int]) -> float:
        return sum(counts) * 7 / self.days


@dataclass(frozen=True)
class FanWeek:
    week_ending: date
    lower: int
    likely: int
    upper: int


@dataclass(frozen=True)
class Clearance:
    as_at: datetime
    backlog: int
    flow: Flow
    # Weeks to clear: None where that quantile's futures had not cleared within the horizon.
    weeks_lower: int | None
    weeks_likely: int | None
    weeks_upper: int | None
    cleared_share: float  # of the futures, cleared within the horizon
    fan: list[FanWeek]


def flow_of(episodes: Sequence[Episode], *, last_day: date, window_days: int) -> Flow:
    first = last_day - timedelta(days=window_days - 1)
    arrivals = [0] * window_days
    exits = [0] * window_days
    started = 0
    for e in episodes:
        joined = (london_date(e.joined_at) - first).days
        if 0 <= joined < window_days:
            arrivals[joined] += 1
        if e.left_at is not None:
            left = (london_date(e.left_at) - first).days
            if 0 <= left < window_days:
                exits[left] += 1
                started += e.started
    return Flow(first, tuple(arrivals), tuple(exits), started)


def forecast(
    episodes: Sequence[Episode],
    *,
    at: datetime,
    cfg: ForecastConfig,
    weeks: int | None = None,
    to_clear: bool = True,
) -> Clearance:
    """The backlog at `at` and its drawn futures (`weeks` of fan, the configuration's by
    default; with `to_clear`, the weeks to clear looked for up to the horizon)."""
    settings = cfg.clearance
    day0 = london_date(at)
    flow = flow_of(episodes, last_day=day0 - timedelta(days=1), window_days=settings.window_days)
    backlog = sum(1 for e in episodes if e.waiting_at(at))
    fan_weeks = settings.fan_weeks if weeks is None else weeks
    pools: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for n in range(flow.days):
        weekday = (flow.first_day + timedelta(days=n)).weekday()
        pools[weekday].append((flow.arrivals[n], flow.exits[n]))
    # Not for secrets: seeded draws, so the same events give the same forecast.
    rng = random.Random(seed_for(cfg.seed, "chc-clearance", day0))  # noqa: S311
    horizon = settings.horizon_weeks * 7 if to_clear else fan_weeks * 7
    cleared: list[int | None] = []
    weekly: list[list[int]] = [[] for _ in range(fan_weeks)]
    for _ in range(settings.paths):
        size, done = backlog, None if backlog else 0
        for day in range(horizon):
            pool = pools[(day0.weekday() + day) % 7]
            came, went = pool[rng.randrange(len(pool))]
            size = max(0, size + came - went)
            if size == 0 and done is None:
                done = day // 7 + 1
            week, end_of_week = divmod(day + 1, 7)
            if end_of_week == 0 and week <= fan_weeks:
                weekly[week - 1].append(size)
            if done is not None and day + 1 >= fan_weeks * 7:
                break
        cleared.append(done)
    cleared.sort(key=lambda w: settings.horizon_weeks + 1 if w is None else w)
    lower, upper = cfg.quantiles
    weeks_window = window_of(cleared, lower, upper)
    fan = []
    for n, sizes in enumerate(weekly, start=1):
        sizes.sort()
        w = window_of(sizes, lower, upper)
        fan.append(
            FanWeek(day0 + timedelta(days=7 * n - 1), w.earliest or 0, w.likely or 0, w.latest or 0)
        )
    return Clearance(
        as_at=at,
        backlog=backlog,
        flow=flow,
        weeks_lower=weeks_window.earliest,
        weeks_likely=weeks_window.likely,
        weeks_upper=weeks_window.latest,
        cleared_share=sum(1 for w in cleared if w is not None) / len(cleared),
        fan=fan,
    )
