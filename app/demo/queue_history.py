"""A past for the demo's queues: who joined a queue on each day and who left it, simulated day by
day so the queue-aware estimates (app/forecast) have a pace to draw on and a backtest to score.

Deterministic: the same seed and the same day give the same history. The figures are the demo's
own (each caller says them), chosen so the queues stay stable, neither empty nor growing: the
mean daily capacity a little above the arrivals (utilisation about 0.9).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.calc.nhs_number import nhs_number_check_digit
from app.timeutil import LONDON

# More patients become ready, and more are referred, on weekdays: these weights keep the mean.
WEEKDAY_ARRIVALS = 1.15
WEEKEND_ARRIVALS = (7 - 5 * WEEKDAY_ARRIVALS) / 2


@dataclass(frozen=True)
class Flow:
    """A queue's demo figures: mean arrivals per day (over the week) and the mean number who
    can start on a weekday and on a weekend day."""

    arrivals_per_day: float
    weekday_capacity: float
    weekend_capacity: float

    def arrivals_on(self, day: date) -> float:
        weight = WEEKDAY_ARRIVALS if day.weekday() < 5 else WEEKEND_ARRIVALS
        return self.arrivals_per_day * weight

    def capacity_on(self, day: date) -> float:
        return self.weekday_capacity if day.weekday() < 5 else self.weekend_capacity

    @property
    def utilisation(self) -> float:
        return self.arrivals_per_day * 7 / (5 * self.weekday_capacity + 2 * self.weekend_capacity)


@dataclass(frozen=True)
class Wait:
    """One patient's (or case's) wait: joined the queue, left it (None: still waiting)."""

    number: int  # the order it joined in, from 0
    joined: datetime
    left: datetime | None


def simulate(
    flow: Flow,
    *,
    today: date,
    days: int,
    rng: random.Random,
    out_of_order: float = 0.15,
    warm_up: int = 28,
    opening_hours: tuple[int, int] = (8, 18),
    start_hours: tuple[int, int] = (10, 17),
) -> list[Wait]:
    """The queue's waits over the `days` London days before `today` (today itself has none):
    each day, arrivals at times within `opening_hours`, then starts within `start_hours` taken
    from those who joined on an earlier day, the longest wait first except for an
    `out_of_order` share taken from anywhere in the queue. The queue starts `warm_up` days
    earlier, empty; waits that ended before the `days` are left out."""
    first = today - timedelta(days=days)
    waiting: list[Wait] = []
    out: list[Wait] = []
    number = 0
    for offset in range(-warm_up, days):
        day = first + timedelta(days=offset)
        eligible = list(waiting)  # joined on an earlier day, oldest first
        for at in sorted(_times(day, poisson(flow.capacity_on(day), rng), start_hours, rng)):
            if not eligible:
                break
            pick = 0
            if len(eligible) > 1 and rng.random() < out_of_order:
                pick = rng.randrange(1, len(eligible))
            wait = eligible.pop(pick)
            waiting.remove(wait)
            if offset >= 0:
                out.append(Wait(wait.number, wait.joined, at))
        for at in sorted(_times(day, poisson(flow.arrivals_on(day), rng), opening_hours, rng)):
            waiting.append(Wait(number, at, None))
            number += 1
    return sorted(out + waiting, key=lambda w: w.number)


def poisson(mean: float, rng: random.Random) -> int:
    """A Poisson draw (Knuth's method: the means here are small)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def london_time(day: date, hours: float) -> datetime:
    """`hours` after midnight on the London `day`, in UTC."""
    minutes = round(hours * 60)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=LONDON)
    return local.astimezone(UTC)


def _times(day: date, count: int, hours: tuple[int, int], rng: random.Random) -> list[datetime]:
    return [london_time(day, rng.uniform(*hours)) for _ in range(count)]


def nhs_numbers(prefix: str) -> Iterator[str]:
    """Valid NHS numbers starting with `prefix` (of the 999 range NHS England keeps for
    testing), in order."""
    n = 0
    while True:
        first_nine = f"{prefix}{n:0{9 - len(prefix)}d}"
        digit = nhs_number_check_digit(first_nine)
        if digit is not None:
            yield f"{first_nine}{digit}"
        n += 1
