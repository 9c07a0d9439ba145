"""The start windows' arithmetic on hand-built queues, where the answer can be worked out by hand,
and the calibration of the windows on a queue whose history is drawn from a known process."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from app.forecast import backtest, clearance
from app.forecast.config import ForecastConfig
from app.forecast.queues import (
    Episode,
    Pace,
    exits_today,
    first_come,
    in_queue,
    pace_of,
    split_held,
    start_windows,
)
from app.forecast.waits import ChcOrder, Rating, StateChange, chc_waits

CFG = ForecastConfig()
FRIDAY = date(2026, 11, 27)  # London is on GMT: UTC dates are London dates


def _at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _waiting(n: int, queue: str = "P1") -> list[Episode]:
    return [
        Episode(i, queue, _at(FRIDAY - timedelta(days=10)) + timedelta(minutes=i), None, False)
        for i in range(1, n + 1)
    ]


def _windows(waiting: list[Episode], pace: Pace, at: datetime, already: int = 0):  # noqa: ANN202
    return start_windows(
        waiting,
        pace,
        at=at,
        already_today=already,
        paths=100,
        horizon_days=60,
        quantiles=CFG.quantiles,
        seed=1,
    )


def test_a_steady_pace_gives_each_place_its_day() -> None:
    # Exactly two leave every day: places 1-2 start on the as-at day, 3-4 the next, and so on,
    # in every drawn future, so the window is one day wide.
    pace = Pace("P1", FRIDAY - timedelta(days=28), FRIDAY - timedelta(days=1), (2,) * 28, 56)
    found = _windows(_waiting(7), pace, _at(FRIDAY))
    assert [w.place for w in found] == [1, 2, 3, 4, 5, 6, 7]
    for w in found:
        expected = FRIDAY + timedelta(days=(w.place - 1) // 2)
        assert (w.earliest, w.likely, w.latest) == (expected, expected, expected)


def test_weekends_and_exits_already_today_move_the_days() -> None:
    # One leaves each weekday, none at weekends; as at Friday noon, one has already left today.
    daily = tuple(0 if (FRIDAY - timedelta(days=28 - n)).weekday() >= 5 else 1 for n in range(28))
    pace = Pace("P1", FRIDAY - timedelta(days=28), FRIDAY - timedelta(days=1), daily, 20)
    first, second = _windows(_waiting(2), pace, _at(FRIDAY, 12), already=1)
    monday = FRIDAY + timedelta(days=3)
    assert first.likely == monday  # Friday's one exit is gone; Saturday and Sunday see none
    assert second.likely == monday + timedelta(days=1)


def test_no_exit_in_the_window_gives_no_window() -> None:
    pace = Pace("P1", FRIDAY - timedelta(days=28), FRIDAY - timedelta(days=1), (0,) * 28, 0)
    assert _windows(_waiting(3), pace, _at(FRIDAY)) == []


def test_a_slow_queue_is_beyond_the_horizon() -> None:
    daily = (0,) * 27 + (1,)  # one exit in 28 days: 30 places take far longer than 60 days
    pace = Pace("P1", FRIDAY - timedelta(days=28), FRIDAY - timedelta(days=1), daily, 1)
    last = _windows(_waiting(30), pace, _at(FRIDAY))[-1]
    assert last.latest is None


def test_the_same_events_give_the_same_windows_and_the_seed_matters() -> None:
    rng = random.Random(5)
    daily = tuple(rng.randrange(0, 5) for _ in range(28))
    pace = Pace("P1", FRIDAY - timedelta(days=28), FRIDAY - timedelta(days=1), daily, 0)
    once = _windows(_waiting(40), pace, _at(FRIDAY))
    again = _windows(_waiting(40), pace, _at(FRIDAY))
    assert once == again
    other = start_windows(
        _waiting(40),
        pace,
        at=_at(FRIDAY),
        already_today=0,
        paths=100,
        horizon_days=60,
        quantiles=CFG.quantiles,
        seed=2,
    )
    assert [w.latest for w in other] != [w.latest for w in once] or [w.earliest for w in other] != [
        w.earliest for w in once
    ]


def test_pace_and_order_come_from_the_waits() -> None:
    day = FRIDAY
    episodes = [
        Episode(1, "P1", _at(day - timedelta(days=9)), _at(day - timedelta(days=1), 10), True),
        Episode(2, "P1", _at(day - timedelta(days=8)), _at(day - timedelta(days=1), 15), False),
        Episode(3, "P1", _at(day - timedelta(days=5)), _at(day - timedelta(days=40)), True),
        Episode(4, "P1", _at(day - timedelta(days=2)), None, False),
        Episode(5, "P1", _at(day - timedelta(days=6)), None, False),
        Episode(6, "P2", _at(day - timedelta(days=7)), _at(day - timedelta(days=3)), True),
        Episode(7, "P1", _at(day - timedelta(days=4)), _at(day, 9), True),
    ]
    pace = pace_of(episodes, "P1", last_day=day - timedelta(days=1), window_days=28)
    assert pace.daily[-1] == 2
    assert pace.exits == 2
    assert pace.started == 1
    assert [e.case_id for e in in_queue(episodes, "P1", _at(day, 12), first_come)] == [5, 4]
    assert exits_today(episodes, "P1", _at(day, 12)) == 1
    assert exits_today(episodes, "P1", _at(day, 8)) == 0


def test_chc_waits_and_the_queue_order_as_at_a_day() -> None:
    t0 = _at(FRIDAY - timedelta(days=30))
    changes = [
        StateChange(1, "referred", t0),
        StateChange(2, "allocated", t0 + timedelta(days=2)),
        StateChange(3, "panel", t0 + timedelta(days=20)),
        StateChange(4, "decided", t0 + timedelta(days=21)),
    ]
    backlog = frozenset({"referred", "allocated", "screening"})
    final = frozenset({"closed", "withdrawn", "died"})
    (wait,) = chc_waits(9, None, changes, backlog, final)
    assert (wait.joined_at, wait.left_at, wait.started) == (t0, t0 + timedelta(days=20), True)
    withdrawn = chc_waits(
        10, None, [StateChange(1, "referred", t0), StateChange(2, "withdrawn", t0)], backlog, final
    )
    assert [w.started for w in withdrawn] == [False]
    order = ChcOrder(
        ratings={9: [Rating("green", t0), Rating("red", t0 + timedelta(days=5))]},
        overrides={10: Rating("amber", t0 + timedelta(days=3))},
        referred={9: t0, 10: t0 - timedelta(days=100)},
    )
    assert order.colour_at(9, t0 + timedelta(days=1)) == "green"
    assert order.colour_at(9, t0 + timedelta(days=6)) == "red"
    assert order.colour_at(10, t0 + timedelta(days=1)) is None  # the override came later
    # Red before amber, whatever the wait since referral.
    assert order(wait, t0 + timedelta(days=6)) < order(withdrawn[0], t0 + timedelta(days=6))


def test_clearance_of_a_backlog_with_a_steady_pace() -> None:
    # 20 waiting, nobody joins, exactly one leaves each day: empty on the 20th day (week 3);
    # 13 left at the end of the first week, in every future.
    day = FRIDAY
    waiting = [Episode(i, "chc", _at(day - timedelta(days=90)), None, False) for i in range(20)]
    left = [
        Episode(
            100 + n, "chc", _at(day - timedelta(days=90)), _at(day - timedelta(days=n), 9), True
        )
        for n in range(1, 57)
    ]
    found = clearance.forecast(waiting + left, at=_at(day), cfg=CFG)
    assert found.backlog == 20
    assert (found.weeks_lower, found.weeks_likely, found.weeks_upper) == (3, 3, 3)
    assert found.fan[0].likely == 13
    assert found.fan[0].lower == found.fan[0].upper == 13
    assert found.flow.started == 56
    assert sum(found.flow.arrivals) == 0


def test_a_growing_backlog_does_not_clear() -> None:
    day = FRIDAY
    joined = [
        Episode(n, "chc", _at(day - timedelta(days=n % 56 + 1), 9), None, False) for n in range(112)
    ]
    found = clearance.forecast(joined, at=_at(day), cfg=CFG)
    assert found.weeks_likely is None
    assert found.cleared_share == 0
    assert found.fan[-1].likely > found.backlog


def test_the_windows_are_calibrated_on_a_queue_drawn_from_a_known_process() -> None:
    """A first-come-first-served queue whose daily exits are drawn by weekday from a fixed
    distribution: the backtest's coverage of 80% windows must come out near 80%, and the error
    small against the waits."""
    rng = random.Random(11)
    start = date(2026, 6, 1)
    days = 180
    capacity = {
        0: (2, 3, 4),
        1: (2, 3, 4),
        2: (2, 3, 4),
        3: (2, 3, 4),
        4: (2, 3, 4),
        5: (0, 1),
        6: (0, 1),
    }
    episodes: list[Episode] = []
    queue: list[tuple[int, datetime]] = []
    case = 0
    for n in range(days):
        day = start + timedelta(days=n)
        for _ in range(rng.choice((1, 2, 2, 3, 3))):
            case += 1
            queue.append((case, _at(day, 8)))
        for _ in range(min(len(queue), rng.choice(capacity[day.weekday()]))):
            case_id, joined = queue.pop(0)
            episodes.append(Episode(case_id, "P1", joined, _at(day, 15), True))
    episodes += [Episode(c, "P1", j, None, False) for c, j in queue]
    now = _at(start + timedelta(days=days))
    cfg = ForecastConfig(paths=200, backtest={"every_days": 7, "weeks": 16})
    score = backtest.score_queue(
        episodes,
        "P1",
        first_come,
        window_days=28,
        days=backtest.as_at_days(now.date(), cfg),
        now=now,
        cfg=cfg,
    )
    assert score.scored > 100
    assert score.coverage is not None
    assert 0.7 <= score.coverage <= 0.95
    assert score.mae is not None
    assert score.mae < 2


def test_in_a_priority_queue_arrivals_of_a_higher_rank_go_ahead() -> None:
    # Two leave a day and one red case arrives a day. A red patient's place moves on by two a
    # day; a green patient's by one (the red arrival goes ahead of them first).
    arrivals = tuple((1, 0, 0, 0) for _ in range(28))
    pace = Pace(
        "chc", FRIDAY - timedelta(days=28), FRIDAY - timedelta(days=1), (2,) * 28, 56, arrivals
    )
    waiting = _waiting(5, "chc")
    ranks = {1: 0, 2: 0, 3: 2, 4: 2, 5: 2}  # two red, then three green
    found = start_windows(
        waiting,
        pace,
        at=_at(FRIDAY),
        already_today=0,
        paths=50,
        horizon_days=60,
        quantiles=CFG.quantiles,
        seed=1,
        rank_at=lambda e: ranks[e.case_id],
    )
    # Place k of rank r starts on the first day d with 2(d+1) >= k + (d+1 if green else 0).
    expected = {1: 0, 2: 0, 3: 2, 4: 3, 5: 4}
    for w in found:
        assert w.likely == FRIDAY + timedelta(days=expected[w.place])
        assert w.earliest == w.latest == w.likely


def test_a_patient_the_queue_passes_by_is_held_back() -> None:
    # Case 1 has waited since long before the window; the six who left in the window all joined
    # after it. Case 2 joined the day before the as-at day: nobody left while it waited.
    day = FRIDAY
    old = Episode(1, "P3", _at(day - timedelta(days=60)), None, False)
    new = Episode(2, "P3", _at(day - timedelta(days=1)), None, False)
    left = [
        Episode(10 + n, "P3", _at(day - timedelta(days=20)), _at(day - timedelta(days=n + 2)), True)
        for n in range(6)
    ]
    episodes = [old, new, *left]
    pace = pace_of(episodes, "P3", last_day=day - timedelta(days=1), window_days=28)
    waiting = in_queue(episodes, "P3", _at(day), first_come)
    kept, held = split_held(
        waiting, episodes, pace, first_come, at=_at(day), min_overtaken=5, share=0.5
    )
    assert [h.episode.case_id for h in held] == [1]
    assert (held[0].overtaken_by, held[0].exits) == (6, 6)
    assert [e.case_id for e in kept] == [2]
    # With a higher bar nobody is held back.
    kept, held = split_held(
        waiting, episodes, pace, first_come, at=_at(day), min_overtaken=7, share=0.5
    )
    assert held == []


def test_days_with_nobody_waiting_show_no_capacity() -> None:
    # One patient waited days 10-13 of the window and left on day 13; nobody else was waiting:
    # the pace is one exit over the four days someone was waiting, not over 28.
    first = FRIDAY - timedelta(days=28)
    e = Episode(1, "P2", _at(first + timedelta(days=10)), _at(first + timedelta(days=13), 12), True)
    pace = pace_of([e], "P2", last_day=FRIDAY - timedelta(days=1), window_days=28)
    assert pace.busy_days == 4
    assert pace.per_day == 0.25
    busy_pools = list(pace.days_by_weekday())
    assert sorted(n for days in busy_pools for n in days if pace.busy[n]) == [10, 11, 12, 13]


def test_a_backtest_is_kept_for_a_while_then_made_again() -> None:
    from app.forecast.backtest import Backtest
    from app.forecast.wiring import BacktestCache

    made: list[datetime] = []

    def compute_at(now: datetime):  # noqa: ANN202
        def compute() -> Backtest:
            made.append(now)
            return Backtest([], now, [], backtest.Score("chc-clearance"))

        return compute

    kept = BacktestCache(timedelta(minutes=30))
    t0 = _at(FRIDAY, 9)
    assert kept.get("ORG", t0, compute_at(t0)).now == t0
    assert kept.get("ORG", t0 + timedelta(minutes=29), compute_at(t0)).now == t0  # kept
    assert kept.get("OTHER", t0, compute_at(t0)) is not None  # each organisation its own
    later = t0 + timedelta(minutes=31)
    assert kept.get("ORG", later, compute_at(later)).now == later  # made again
    assert made == [t0, t0, later]
    off = BacktestCache(timedelta(0))
    off.get("ORG", t0, compute_at(t0))
    off.get("ORG", t0, compute_at(t0))
    assert made[-2:] == [t0, t0]
