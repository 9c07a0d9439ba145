"""The what-if model: a discrete-event simulation (SimPy) of the patients ready for discharge
waiting in hospital for pathways 1-3, and of the CHC assessment backlog. Pure: no database, no
clock; the same system, scenario, horizon, runs and seed give byte-identical results.

What it simulates (README "What-if simulation"):

- Arrivals: patients become ready for discharge on each pathway as a Poisson process at the
  observed rate (one SimPy event each).
- P1 (home care) and P3 (placements): a daily number of starts, Poisson about the observed mean,
  taken once a day (at midday) by the longest waiting first. A start not used that day is lost.
- P2 (community beds): a patient leaves hospital when a bed is free, once a day; a bed is held
  for a length of stay drawn for that patient (gamma, shape 2: about as variable as the stays
  seen). The beds are full at the start, each with a remaining stay drawn the same way.
- CHC: referrals join the backlog at the observed weekly rate (Poisson a day); each assessor
  completes assessments at the observed rate per assessor (Poisson a day), oldest first.
- Delayed bed days: the time every waiting patient spends in hospital while ready, integrated
  exactly over each day; cost: each day's delayed bed days at the tariff in force that day.

Common random numbers: each source of randomness has its own stream, seeded by the run's seed
and the stream's name, and a day's capacity is drawn by inversion from one uniform number; so the
baseline and the scenario of a run see the same patients arrive at the same moments with the same
stays, and a day with more capacity never gets fewer starts. The difference between them is the
capacity's, not chance's. Run i uses seed + i.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import simpy

PATHWAYS = ("P1", "P2", "P3")
# The hour of the day the day's starts, bed admissions and assessments happen (as a day's
# fraction): midday, so a patient ready in the morning can leave that day.
MIDDAY = 0.5
LOS_SHAPE = 2.0  # gamma shape of a community bed stay (coefficient of variation 1/sqrt(2))
MAX_POISSON_MEAN = 700.0  # exp(-mean) stays a normal float below this


@dataclass(frozen=True)
class StartsPathway:
    """P1 or P3: patients waiting for a start that a daily capacity gives."""

    arrivals_per_day: float
    starts_per_day: float
    waiting: tuple[float, ...] = ()  # days each patient waiting now has waited


@dataclass(frozen=True)
class BedPathway:
    """P2: patients waiting for a community bed."""

    arrivals_per_day: float
    beds: int
    length_of_stay_days: float
    waiting: tuple[float, ...] = ()


@dataclass(frozen=True)
class Chc:
    arrivals_per_week: float
    assessors: float
    per_assessor_per_week: float
    backlog: tuple[float, ...] = ()  # days each referral in the backlog has waited


@dataclass(frozen=True)
class System:
    p1: StartsPathway
    p2: BedPathway
    p3: StartsPathway
    chc: Chc
    # The cost of one delayed bed day on each day of the horizon (0 where none is in force).
    tariff: tuple[float, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """Capacity changes from the baseline (added; negative takes away)."""

    p1_starts_per_day: float = 0
    community_beds: int = 0
    p2_length_of_stay_days: float = 0
    p3_starts_per_day: float = 0
    chc_assessors: float = 0
    # Demand: every pathway's and CHC's arrivals changed by this percentage.
    arrivals_percent: float = 0


def apply(system: System, scenario: Scenario) -> System:
    """The system with the scenario's changes (never below zero; a stay at least a day)."""
    demand = max(0.0, 1 + scenario.arrivals_percent / 100)
    p1, p2, p3, chc = system.p1, system.p2, system.p3, system.chc
    return replace(
        system,
        p1=replace(
            p1,
            arrivals_per_day=p1.arrivals_per_day * demand,
            starts_per_day=max(0.0, p1.starts_per_day + scenario.p1_starts_per_day),
        ),
        p2=replace(
            p2,
            arrivals_per_day=p2.arrivals_per_day * demand,
            beds=max(0, p2.beds + scenario.community_beds),
            length_of_stay_days=max(1.0, p2.length_of_stay_days + scenario.p2_length_of_stay_days),
        ),
        p3=replace(
            p3,
            arrivals_per_day=p3.arrivals_per_day * demand,
            starts_per_day=max(0.0, p3.starts_per_day + scenario.p3_starts_per_day),
        ),
        chc=replace(
            chc,
            arrivals_per_week=chc.arrivals_per_week * demand,
            assessors=max(0.0, chc.assessors + scenario.chc_assessors),
        ),
    )


def scaled(system: System, factor: float) -> System:
    """The system `factor` times the size: every rate, capacity and queue multiplied (a queue
    by repeating its waits in their order, rounded to whole patients); stays and each
    assessor's rate unchanged."""

    def times(waits: tuple[float, ...]) -> tuple[float, ...]:
        n = round(len(waits) * factor)
        return tuple(waits[int(i / factor)] for i in range(n)) if waits else ()

    p1, p2, p3, chc = system.p1, system.p2, system.p3, system.chc
    return replace(
        system,
        p1=StartsPathway(
            p1.arrivals_per_day * factor, p1.starts_per_day * factor, times(p1.waiting)
        ),
        p2=BedPathway(
            p2.arrivals_per_day * factor,
            round(p2.beds * factor),
            p2.length_of_stay_days,
            times(p2.waiting),
        ),
        p3=StartsPathway(
            p3.arrivals_per_day * factor, p3.starts_per_day * factor, times(p3.waiting)
        ),
        chc=Chc(
            chc.arrivals_per_week * factor,
            chc.assessors * factor,
            chc.per_assessor_per_week,
            times(chc.backlog),
        ),
    )


def poisson(u: float, mean: float) -> int:
    """The Poisson(mean) count whose distribution function first reaches `u` (inversion: a
    larger mean never gives a smaller count for the same `u`)."""
    if mean <= 0:
        return 0
    mean = min(mean, MAX_POISSON_MEAN)
    k, p = 0, math.exp(-mean)
    cdf = p
    while cdf < u and p > 0:
        k += 1
        p *= mean / k
        cdf += p
    return k


class Tally:
    """Patient-days of a queue, exactly, by day: the queue's length integrated over time."""

    def __init__(self, days: int, length: int = 0) -> None:
        self.by_day = [0.0] * days
        self.length = length
        self.since = 0.0

    def change(self, now: float, by: int) -> None:
        self._advance(now)
        self.length += by

    def _advance(self, now: float) -> None:
        t, days = self.since, len(self.by_day)
        if self.length:
            while t < now:
                day = int(t)
                if day >= days:
                    break
                upto = min(now, day + 1.0)
                self.by_day[day] += self.length * (upto - t)
                t = upto
        self.since = now

    def close(self, end: float) -> None:
        self._advance(end)


@dataclass
class Queue:
    """One pathway's waiting patients (arrival times, oldest first) and what happened to them."""

    tally: Tally
    waiting: deque[tuple[float, float]] = field(default_factory=deque)  # (arrived, stay)
    waits: list[tuple[float, float]] = field(default_factory=list)  # (left at, days waited)

    def join(self, now: float, stay: float = 0.0) -> None:
        self.tally.change(now, +1)
        self.waiting.append((now, stay))

    def leave(self, now: float) -> float:
        arrived, stay = self.waiting.popleft()
        self.tally.change(now, -1)
        self.waits.append((now, now - arrived))
        return stay


def _stream(seed: int, name: str) -> random.Random:
    # A str seed is hashed with SHA-512: the same stream in every process, whatever
    # PYTHONHASHSEED says.
    return random.Random(f"{seed}:{name}")  # noqa: S311 - a simulation, not a secret


def _arrivals(
    env: simpy.Environment,
    rate: float,
    queue: Queue,
    rng: random.Random,
    stays: random.Random | None = None,
    mean_stay: float = 0.0,
) -> Any:
    if rate <= 0:
        return
    while True:
        yield env.timeout(rng.expovariate(rate))
        stay = stays.gammavariate(LOS_SHAPE, mean_stay / LOS_SHAPE) if stays else 0.0
        queue.join(env.now, stay)


def _daily_starts(env: simpy.Environment, per_day: float, queue: Queue, rng: random.Random) -> Any:
    yield env.timeout(MIDDAY)
    while True:
        for _ in range(min(poisson(rng.random(), per_day), len(queue.waiting))):
            queue.leave(env.now)
        yield env.timeout(1)


def _daily_beds(env: simpy.Environment, p2: BedPathway, queue: Queue, rng: random.Random) -> Any:
    # Every bed taken at the start, each with a remaining stay (a heap of the times it frees).
    frees = sorted(
        rng.gammavariate(LOS_SHAPE, p2.length_of_stay_days / LOS_SHAPE) for _ in range(p2.beds)
    )
    yield env.timeout(MIDDAY)
    while True:
        while frees and frees[0] <= env.now:
            heapq.heappop(frees)
        while queue.waiting and len(frees) < p2.beds:
            heapq.heappush(frees, env.now + queue.leave(env.now))
        yield env.timeout(1)


def _daily_chc(
    env: simpy.Environment,
    chc: Chc,
    queue: Queue,
    arrive: random.Random,
    assess: random.Random,
    backlog: list[int],
) -> Any:
    yield env.timeout(MIDDAY)
    per_day = chc.arrivals_per_week / 7
    done_per_day = chc.assessors * chc.per_assessor_per_week / 7
    day = 0
    while True:
        for _ in range(poisson(arrive.random(), per_day)):
            queue.join(env.now)
        for _ in range(min(poisson(assess.random(), done_per_day), len(queue.waiting))):
            queue.leave(env.now)
        day += 1
        if day % 7 == 0:
            backlog.append(len(queue.waiting))
        yield env.timeout(1)


@dataclass(frozen=True)
class Run:
    """One run of one arm: weekly figures and each pathway's waits."""

    bed_days: tuple[float, ...]  # delayed bed days each week, all pathways
    bed_days_by_pathway: dict[str, tuple[float, ...]]
    cost: tuple[float, ...]
    waits: dict[str, tuple[float, ...]]  # days waited by each patient who left in the horizon
    waits_by_week: dict[str, tuple[float | None, ...]]  # mean wait of those leaving each week
    still_waiting: dict[str, int]  # at the end of the horizon
    chc_backlog: tuple[int, ...]  # at each week's end
    chc_waits: tuple[float, ...]
    events: int


def simulate(system: System, *, weeks: int, seed: int) -> Run:
    """One run of `weeks` weeks."""
    days = weeks * 7
    env = simpy.Environment()
    queues = {}
    for key in PATHWAYS:
        waiting = getattr(system, key.lower()).waiting
        queue = Queue(Tally(days, len(waiting)))
        # Those waiting now, oldest first, arrived before the start (time 0).
        queue.waiting.extend((-w, 0.0) for w in sorted(waiting, reverse=True))
        queues[key] = queue
    p2 = system.p2
    if p2.waiting:  # their stays, drawn as an arrival's would be
        stays = _stream(seed, "p2-waiting-stays")
        queues["P2"].waiting = deque(
            (a, stays.gammavariate(LOS_SHAPE, p2.length_of_stay_days / LOS_SHAPE))
            for a, _ in queues["P2"].waiting
        )
    for key, pathway in (("P1", system.p1), ("P3", system.p3)):
        env.process(_arrivals(env, pathway.arrivals_per_day, queues[key], _stream(seed, key)))
        env.process(
            _daily_starts(env, pathway.starts_per_day, queues[key], _stream(seed, f"{key}-starts"))
        )
    env.process(
        _arrivals(
            env,
            p2.arrivals_per_day,
            queues["P2"],
            _stream(seed, "P2"),
            _stream(seed, "P2-stays"),
            p2.length_of_stay_days,
        )
    )
    env.process(_daily_beds(env, p2, queues["P2"], _stream(seed, "P2-beds")))
    chc_queue = Queue(Tally(days, len(system.chc.backlog)))
    chc_queue.waiting.extend((-w, 0.0) for w in sorted(system.chc.backlog, reverse=True))
    backlog: list[int] = []
    env.process(
        _daily_chc(
            env,
            system.chc,
            chc_queue,
            _stream(seed, "chc-referrals"),
            _stream(seed, "chc-assessments"),
            backlog,
        )
    )
    events = _run(env, days)
    for queue in queues.values():
        queue.tally.close(days)
    by_pathway = {k: _weekly(q.tally.by_day, weeks) for k, q in queues.items()}
    daily = [sum(q.tally.by_day[d] for q in queues.values()) for d in range(days)]
    tariff = [system.tariff[d] if d < len(system.tariff) else 0.0 for d in range(days)]
    return Run(
        bed_days=_weekly(daily, weeks),
        bed_days_by_pathway=by_pathway,
        cost=_weekly([b * t for b, t in zip(daily, tariff, strict=True)], weeks),
        waits={k: tuple(w for _, w in q.waits) for k, q in queues.items()},
        waits_by_week={k: _weekly_means(q.waits, weeks) for k, q in queues.items()},
        still_waiting={k: len(q.waiting) for k, q in queues.items()},
        chc_backlog=tuple(backlog),
        chc_waits=tuple(w for _, w in chc_queue.waits),
        events=events,
    )


def _run(env: simpy.Environment, days: int) -> int:
    """Runs to the end of the horizon; the number of events processed."""
    events = 0
    while env.peek() < days:
        env.step()
        events += 1
    return events


def _weekly(daily: Sequence[float], weeks: int) -> tuple[float, ...]:
    return tuple(sum(daily[w * 7 : w * 7 + 7]) for w in range(weeks))


def _weekly_means(waits: Iterable[tuple[float, float]], weeks: int) -> tuple[float | None, ...]:
    sums, counts = [0.0] * weeks, [0] * weeks
    for left, waited in waits:
        week = min(int(left // 7), weeks - 1)
        sums[week] += waited
        counts[week] += 1
    return tuple(s / n if n else None for s, n in zip(sums, counts, strict=True))
