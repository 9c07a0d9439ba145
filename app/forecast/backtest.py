"""The backtest: start windows and clearance forecasts made as at midnight of past days, by the
same code as today's, against what happened since.

- A start window's *error* is the actual start day minus the likely day (days; positive: later
  than likely). Only waits that ended in a start are scored; a wait that ended another way
  (meets the criteria again, another pathway, death, withdrawal) is counted apart.
- *Coverage* is the share of scored windows whose start fell inside them, counting as misses the
  patients still waiting after their window's last day (their start cannot fall inside it any
  more); those still waiting inside their window are not yet known and left out.
- The clearance forecast is checked on the backlog `clearance_ahead_weeks` after each as-at day:
  error against the likely size, coverage of the interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.forecast import clearance as clearance_forecast
from app.forecast.config import ForecastConfig
from app.forecast.queues import (
    Episode,
    OrderKey,
    RankAt,
    in_queue,
    pace_of,
    split_held,
    start_windows,
)
from app.timeutil import day_bounds, london_date


@dataclass
class Score:
    """The backtest of one queue (or of the clearance forecast)."""

    queue: str
    estimates: int = 0  # windows given
    scored: int = 0  # of them, ended in a start (error measured)
    errors: list[int] = field(default_factory=list)
    inside: int = 0
    missed_still_waiting: int = 0
    not_yet_known: int = 0
    ended_otherwise: int = 0
    no_pace: int = 0  # waiting patients given no window (no exits in the window)
    held_back: int = 0  # waiting patients given no window: the queue was passing them by
    widths: list[int] = field(default_factory=list)

    @property
    def mae(self) -> float | None:
        return sum(abs(e) for e in self.errors) / len(self.errors) if self.errors else None

    @property
    def bias(self) -> float | None:
        return sum(self.errors) / len(self.errors) if self.errors else None

    @property
    def judged(self) -> int:
        return self.scored + self.missed_still_waiting

    @property
    def coverage(self) -> float | None:
        return self.inside / self.judged if self.judged else None

    @property
    def mean_width(self) -> float | None:
        return sum(self.widths) / len(self.widths) if self.widths else None


@dataclass(frozen=True)
class Backtest:
    as_at_days: list[date]
    now: datetime
    queues: list[Score]
    clearance: Score


def as_at_days(today: date, cfg: ForecastConfig) -> list[date]:
    """Past as-at days, oldest first: every `every_days` back from a week ago over `weeks`."""
    bt = cfg.backtest
    last = today - timedelta(days=7)
    count = bt.weeks * 7 // bt.every_days
    return sorted(last - timedelta(days=bt.every_days * n) for n in range(count))


def score_queue(
    episodes: Sequence[Episode],
    queue: str,
    order: OrderKey,
    *,
    rank: RankAt | None = None,
    window_days: int,
    days: Sequence[date],
    now: datetime,
    cfg: ForecastConfig,
) -> Score:
    score = Score(queue)
    today = london_date(now)
    mine = [e for e in episodes if e.queue == queue]
    for day in days:
        at = _midnight(day)
        waiting = in_queue(mine, queue, at, order)
        pace = pace_of(
            mine,
            queue,
            last_day=day - timedelta(days=1),
            window_days=window_days,
            rank_of=None if rank is None else (lambda e: rank(e, e.joined_at)),
        )
        worked, held = split_held(
            waiting,
            mine,
            pace,
            order,
            at=at,
            min_overtaken=cfg.queues.held_back.min_overtaken,
            share=cfg.queues.held_back.share,
        )
        score.held_back += len(held)
        windows = start_windows(
            worked,
            pace,
            at=at,
            already_today=0,
            paths=cfg.paths,
            horizon_days=cfg.horizon_days,
            quantiles=cfg.quantiles,
            seed=cfg.seed,
            rank_at=None if rank is None else _rank_now(rank, at),
        )
        score.no_pace += len(worked) - len(windows)
        for w in windows:
            score.estimates += 1
            if w.earliest is not None and w.latest is not None:
                score.widths.append((w.latest - w.earliest).days)
            e = w.episode
            if e.left_at is not None and e.left_at <= now:
                if not e.started:
                    score.ended_otherwise += 1
                    continue
                actual = london_date(e.left_at)
                score.scored += 1
                if w.likely is not None:
                    score.errors.append((actual - w.likely).days)
                if (
                    w.earliest is not None
                    and w.earliest <= actual
                    and (w.latest is None or actual <= w.latest)
                ):
                    score.inside += 1
            elif w.latest is not None and today > w.latest:
                score.missed_still_waiting += 1
            else:
                score.not_yet_known += 1
    return score


def score_clearance(
    episodes: Sequence[Episode], *, days: Sequence[date], now: datetime, cfg: ForecastConfig
) -> Score:
    ahead = cfg.backtest.clearance_ahead_weeks
    score = Score("chc-clearance")
    for day in days:
        target = day + timedelta(days=7 * ahead)
        if _midnight(target) > now:
            continue
        found = clearance_forecast.forecast(
            episodes, at=_midnight(day), cfg=cfg, weeks=ahead, to_clear=False
        )
        if found.flow.days == 0 or not found.fan:
            continue
        week = found.fan[-1]
        actual = sum(1 for e in episodes if e.waiting_at(_midnight(target)))
        score.estimates += 1
        score.scored += 1
        score.errors.append(actual - week.likely)
        score.widths.append(week.upper - week.lower)
        score.inside += week.lower <= actual <= week.upper
    return score


def run(
    waits: dict[str, tuple[list[Episode], OrderKey, RankAt | None, int]],
    chc: list[Episode] | None,
    *,
    now: datetime,
    cfg: ForecastConfig,
    progress: Callable[[str], None] | None = None,
) -> Backtest:
    """Every queue of `waits` (queue -> its waits, order, priority rank in a priority queue and
    pace window) and the clearance."""
    days = as_at_days(london_date(now), cfg)
    scores = []
    for queue, (episodes, order, rank, window_days) in waits.items():
        if progress is not None:
            progress(queue)
        scores.append(
            score_queue(
                episodes,
                queue,
                order,
                rank=rank,
                window_days=window_days,
                days=days,
                now=now,
                cfg=cfg,
            )
        )
    clearance = score_clearance(chc, days=days, now=now, cfg=cfg) if chc else Score("chc-clearance")
    return Backtest(days, now, scores, clearance)


def _midnight(day: date) -> datetime:
    return day_bounds(day)[0]


def _rank_now(rank: RankAt, at: datetime) -> Callable[[Episode], int]:
    return lambda e: rank(e, at)
