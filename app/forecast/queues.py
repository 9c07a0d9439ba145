"""Start windows from a patient's place in a queue and the queue's observed pace: pure functions
over waits (`Episode`) already derived from the events, so the live estimate and the backtest
run the same code.

The method (README "Start windows and forecasts"):

- A queue's *pace* is how many left it on each London day of the window before the estimate,
  every way of leaving counted (a start, a change of plan, a death): the queue moves on for
  whoever leaves it.
- A future day's exits are drawn from the window's days of the same weekday (weekends are slow);
  `paths` futures are drawn. The patient in place k starts on the day the k-th exit falls.
- The window is the central `interval` of those days (10th to 90th percentile for 80%), the
  likely day their median. Today's exits so far are taken off today's draw.

What it does not know, and the backtest measures: a queue is not strictly first come, first
served, and the pace changes.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.timeutil import london_date

# A key that puts a wait in its place in the queue as at an instant (smaller first).
OrderKey = Callable[["Episode", datetime], tuple[object, ...]]


@dataclass(frozen=True)
class Episode:
    """One wait of one case in one queue: from when it joined to when it left (None: waiting)."""

    case_id: int
    queue: str
    joined_at: datetime
    left_at: datetime | None
    started: bool  # left by starting the service (False: another way, or still waiting)
    patient_ref: str | None = None

    def waiting_at(self, at: datetime) -> bool:
        return self.joined_at <= at and (self.left_at is None or self.left_at > at)


@dataclass(frozen=True)
class Pace:
    """A queue's exits on each day of the window (oldest first) before an estimate."""

    queue: str
    first_day: date
    last_day: date
    daily: tuple[int, ...]
    started: int  # how many of the exits were starts of the service

    @property
    def exits(self) -> int:
        return sum(self.daily)

    @property
    def per_day(self) -> float:
        return self.exits / len(self.daily)

    def pools(self) -> list[list[int]]:
        """The window's exit counts by weekday (Monday first)."""
        pools: list[list[int]] = [[] for _ in range(7)]
        for n, count in enumerate(self.daily):
            pools[(self.first_day + timedelta(days=n)).weekday()].append(count)
        return pools


@dataclass(frozen=True)
class Window:
    """When the patient in a place is likely to start: day offsets from the as-at day, None
    beyond the horizon."""

    earliest: int | None
    likely: int | None
    latest: int | None


@dataclass(frozen=True)
class StartWindow:
    episode: Episode
    place: int  # 1: next to start
    waiting_days: int
    earliest: date | None
    likely: date | None
    latest: date | None  # None: beyond the horizon


def pace_of(episodes: Iterable[Episode], queue: str, *, last_day: date, window_days: int) -> Pace:
    """Exits from `queue` on each of the `window_days` London days up to `last_day`."""
    first_day = last_day - timedelta(days=window_days - 1)
    daily = [0] * window_days
    started = 0
    for e in episodes:
        if e.queue != queue or e.left_at is None:
            continue
        offset = (london_date(e.left_at) - first_day).days
        if 0 <= offset < window_days:
            daily[offset] += 1
            started += e.started
    return Pace(queue, first_day, last_day, tuple(daily), started)


def in_queue(
    episodes: Iterable[Episode], queue: str, at: datetime, order: OrderKey
) -> list[Episode]:
    """The waits in `queue` at `at`, in queue order."""
    waiting = [e for e in episodes if e.queue == queue and e.waiting_at(at)]
    return sorted(waiting, key=lambda e: order(e, at))


def first_come(episode: Episode, _at: datetime) -> tuple[object, ...]:
    """First come, first served: the longest wait first, then the lower case number."""
    return (episode.joined_at, episode.case_id)


def seed_for(base: int, queue: str, day: date) -> int:
    """The draws' seed for one queue on one as-at day: the same events give the same figures."""
    return base ^ zlib.crc32(f"{queue}|{day.isoformat()}".encode())


def simulate_places(
    pace: Pace,
    places: int,
    *,
    first_weekday: int,
    already_today: int,
    paths: int,
    horizon_days: int,
    rng: random.Random,
) -> list[list[int | None]]:
    """For each place 1..`places`, the day offset (0: the as-at day) of its start in each of
    `paths` drawn futures, sorted; None where the place is not reached within the horizon."""
    pools = pace.pools()
    reached: list[list[int | None]] = [[] for _ in range(places)]
    for _ in range(paths):
        done = 0
        for day in range(horizon_days):
            pool = pools[(first_weekday + day) % 7]
            exits = pool[rng.randrange(len(pool))]
            if day == 0:
                exits = max(0, exits - already_today)
            for place in range(done, min(done + exits, places)):
                reached[place].append(day)
            done += exits
            if done >= places:
                break
        for place in range(done, places):
            reached[place].append(None)
    for days in reached:
        days.sort(key=lambda d: horizon_days if d is None else d)
    return reached


def window_of(days: Sequence[int | None], lower: float, upper: float) -> Window:
    """The `lower`, median and `upper` quantiles of sorted day offsets (nearest rank)."""

    def at(q: float) -> int | None:
        return days[round(q * (len(days) - 1))]

    return Window(at(lower), at(0.5), at(upper))


def start_windows(
    waiting: Sequence[Episode],
    pace: Pace,
    *,
    at: datetime,
    already_today: int,
    paths: int,
    horizon_days: int,
    quantiles: tuple[float, float],
    seed: int,
) -> list[StartWindow]:
    """Each waiting patient's window, in queue order; none when the window saw no exit."""
    if not waiting or pace.exits == 0:
        return []
    day0 = london_date(at)
    # Not for secrets: seeded draws, so the same events give the same windows.
    rng = random.Random(seed_for(seed, pace.queue, day0))  # noqa: S311
    reached = simulate_places(
        pace,
        len(waiting),
        first_weekday=day0.weekday(),
        already_today=already_today,
        paths=paths,
        horizon_days=horizon_days,
        rng=rng,
    )
    out = []
    for place, (episode, days) in enumerate(zip(waiting, reached, strict=True), start=1):
        w = window_of(days, *quantiles)
        out.append(
            StartWindow(
                episode=episode,
                place=place,
                waiting_days=(day0 - london_date(episode.joined_at)).days,
                earliest=_day(day0, w.earliest),
                likely=_day(day0, w.likely),
                latest=_day(day0, w.latest),
            )
        )
    return out


def exits_today(episodes: Iterable[Episode], queue: str, at: datetime) -> int:
    """Exits from `queue` earlier on the as-at day, up to `at`."""
    day = london_date(at)
    return sum(
        1
        for e in episodes
        if e.queue == queue
        and e.left_at is not None
        and e.left_at <= at
        and london_date(e.left_at) == day
    )


def _day(day0: date, offset: int | None) -> date | None:
    return None if offset is None else day0 + timedelta(days=offset)
