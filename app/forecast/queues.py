"""Start windows from a patient's place in a queue and the queue's observed pace: pure functions
over waits (`Episode`) already derived from the events, so the live estimate and the backtest
run the same code.

The method (README "Start windows and forecasts"):

- A queue's *pace* is how many left it on each London day of the window before the estimate,
  every way of leaving counted (a start, a change of plan, a death): the queue moves on for
  whoever leaves it.
- A future day's exits are drawn from the window's days of the same weekday (weekends are slow)
  on which someone was waiting (a day with nobody waiting shows no capacity); `paths` futures
  are drawn. The patient in place k starts on the day the k-th exit falls.
- The window is the central `interval` of those days (10th to 90th percentile for 80%), the
  likely day their median. Today's exits so far are taken off today's draw.

- A waiting patient whom most of the window's exits overtook (they were behind in the queue's
  order and left first) is *held back*: the queue is not being worked in that order for them, so
  no window is given and they are not counted ahead of anyone; the basis says so.

What it does not know, and the backtest measures: a queue is not strictly first come, first
served, and the pace changes.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.timeutil import LONDON, london_date

# Priority ranks a queue may order by (the CHC queue's red, amber, green, not rated).
RANKS = 4
# A key that puts a wait in its place in the queue as at an instant (smaller first).
OrderKey = Callable[["Episode", datetime], tuple[object, ...]]
# A wait's priority rank as at an instant, in a queue ordered by priority (0 first).
RankAt = Callable[["Episode", datetime], int]


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
    """A queue's exits on each day of the window (oldest first) before an estimate, and, for a
    queue ordered by priority, its arrivals on each day by priority rank (they may go ahead)."""

    queue: str
    first_day: date
    last_day: date
    daily: tuple[int, ...]
    started: int  # how many of the exits were starts of the service
    arrivals: tuple[tuple[int, ...], ...] = ()  # per day, arrivals of each rank (0 first)
    # Per day, whether anyone was waiting: a day with nobody waiting shows no capacity.
    busy: tuple[bool, ...] = ()

    @property
    def exits(self) -> int:
        return sum(self.daily)

    @property
    def busy_days(self) -> int:
        return sum(self.busy) if self.busy else len(self.daily)

    @property
    def per_day(self) -> float:
        """Exits a day on the days someone was waiting."""
        return self.exits / self.busy_days if self.busy_days else 0.0

    def pools(self) -> list[list[int]]:
        """The window's exit counts by weekday (Monday first)."""
        return [[self.daily[n] for n in days] for days in self.days_by_weekday()]

    def days_by_weekday(self) -> list[list[int]]:
        """The window's day indices by weekday (Monday first): the days someone was waiting,
        or every one of that weekday if nobody was waiting on any of them."""
        every: list[list[int]] = [[] for _ in range(7)]
        busy: list[list[int]] = [[] for _ in range(7)]
        for n in range(len(self.daily)):
            weekday = (self.first_day + timedelta(days=n)).weekday()
            every[weekday].append(n)
            if not self.busy or self.busy[n]:
                busy[weekday].append(n)
        return [b or e for b, e in zip(busy, every, strict=True)]

    def ahead(self, day: int, rank: int) -> int:
        """Arrivals on window day `day` that go ahead of a patient of `rank` (a higher one)."""
        return sum(self.arrivals[day][:rank]) if self.arrivals else 0


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


def pace_of(
    episodes: Iterable[Episode],
    queue: str,
    *,
    last_day: date,
    window_days: int,
    rank_of: Callable[[Episode], int] | None = None,
) -> Pace:
    """Exits from `queue` on each of the `window_days` London days up to `last_day`; with
    `rank_of` (a priority queue), the arrivals of each day by their rank when they joined."""
    first_day = last_day - timedelta(days=window_days - 1)
    daily = [0] * window_days
    arrivals = [[0] * RANKS for _ in range(window_days)] if rank_of is not None else []
    busy = [False] * window_days
    started = 0
    for e in episodes:
        if e.queue != queue:
            continue
        since = max(0, (london_date(e.joined_at) - first_day).days)
        until = window_days - 1 if e.left_at is None else (london_date(e.left_at) - first_day).days
        for n in range(since, min(until, window_days - 1) + 1):
            busy[n] = True
        if rank_of is not None:
            joined = (london_date(e.joined_at) - first_day).days
            if 0 <= joined < window_days:
                arrivals[joined][min(rank_of(e), RANKS - 1)] += 1
        if e.left_at is None:
            continue
        offset = (london_date(e.left_at) - first_day).days
        if 0 <= offset < window_days:
            daily[offset] += 1
            started += e.started
    return Pace(
        queue,
        first_day,
        last_day,
        tuple(daily),
        started,
        tuple(tuple(a) for a in arrivals),
        tuple(busy),
    )


@dataclass(frozen=True)
class Held:
    """A waiting patient the queue is passing by: `overtaken_by` of the `exits` made from the
    queue in the window while they waited had been behind them in its order."""

    episode: Episode
    overtaken_by: int
    exits: int


def split_held(
    waiting: Sequence[Episode],
    episodes: Iterable[Episode],
    pace: Pace,
    order: OrderKey,
    *,
    at: datetime,
    min_overtaken: int,
    share: float,
) -> tuple[list[Episode], list[Held]]:
    """The waiting patients still worked in queue order, and those held back: overtaken by at
    least `min_overtaken` exits and by at least `share` of the window's exits while they
    waited."""
    start = datetime.combine(pace.first_day, time(0), tzinfo=LONDON)
    end = datetime.combine(pace.last_day + timedelta(days=1), time(0), tzinfo=LONDON)
    left = [
        (e.left_at, order(e, at))
        for e in episodes
        if e.queue == pace.queue and e.left_at is not None and start <= e.left_at < end
    ]
    kept: list[Episode] = []
    held: list[Held] = []
    for e in waiting:
        key = order(e, at)
        while_waiting = [k for when, k in left if when >= e.joined_at]
        overtaken = sum(1 for k in while_waiting if k > key)
        if overtaken >= min_overtaken and overtaken >= share * len(while_waiting):
            held.append(Held(e, overtaken, len(while_waiting)))
        else:
            kept.append(e)
    return kept, held


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
    ranks: Sequence[int],
    *,
    first_weekday: int,
    already_today: int,
    paths: int,
    horizon_days: int,
    rng: random.Random,
) -> list[list[int | None]]:
    """For each place 1..len(`ranks`) (the patient there has priority rank `ranks[i]`), the day
    offset (0: the as-at day) of its start in each of `paths` drawn futures, sorted; None where
    the place is not reached within the horizon.

    A drawn day is one of the window's days of the same weekday: its exits, and in a priority
    queue its arrivals, which go ahead of every patient of a lower priority (counted before that
    day's exits). The patient in place k of rank r starts on the day the exits so far reach k
    plus the arrivals so far that went ahead of rank r.
    """
    pools = pace.days_by_weekday()
    places = len(ranks)
    by_rank: dict[int, list[int]] = {}
    for place, rank in enumerate(ranks):
        by_rank.setdefault(rank, []).append(place)
    groups = list(by_rank.items())
    # Arrivals going ahead of each rank on each window day, worked out once (none in a queue
    # served first come, first served).
    ahead = [tuple(pace.ahead(n, rank) for rank, _ in groups) for n in range(len(pace.daily))]
    jumps = any(any(row) for row in ahead)
    reached: list[list[int | None]] = [[] for _ in range(places)]
    for _ in range(paths):
        done = 0
        jumped = [0] * len(groups)
        next_of = [0] * len(groups)
        left = places
        for day in range(horizon_days):
            pool = pools[(first_weekday + day) % 7]
            drawn = pool[rng.randrange(len(pool))]
            exits = pace.daily[drawn]
            if day == 0:
                exits = max(0, exits - already_today)
            done += exits
            for g, (_rank, members) in enumerate(groups):
                if jumps:
                    jumped[g] += ahead[drawn][g]
                n = next_of[g]
                while n < len(members) and done >= members[n] + 1 + jumped[g]:
                    reached[members[n]].append(day)
                    n += 1
                    left -= 1
                next_of[g] = n
            if left == 0:
                break
        for g, (_rank, members) in enumerate(groups):
            for place in members[next_of[g] :]:
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
    rank_at: Callable[[Episode], int] | None = None,
) -> list[StartWindow]:
    """Each waiting patient's window, in queue order; none when the window saw no exit. In a
    priority queue, `rank_at` gives each waiting patient's rank now."""
    if not waiting or pace.exits == 0:
        return []
    day0 = london_date(at)
    # Not for secrets: seeded draws, so the same events give the same windows.
    rng = random.Random(seed_for(seed, pace.queue, day0))  # noqa: S311
    reached = simulate_places(
        pace,
        [rank_at(e) if rank_at is not None else 0 for e in waiting],
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
