"""The backtest of the start windows and the CHC clearance forecast (issue 19, item 2): how far
estimates made as at past days fell from what happened, and how often the window held the start.

Two histories:

- **system**: a 1,000-bed system's discharge queues over 26 weeks, written as discharge events
  (admission, pathway, not meeting the criteria to reside, discharge) and derived by the service's
  own code (`derive_facts`, `app.forecast.waits`), plus a CHC backlog ordered by RAG. The history
  is drawn from a process the estimator does not assume: arrivals and capacity by weekday, a
  capacity that drifts over the months, starts out of queue order (a patient whose package fits
  goes first), and patients who leave the queue another way (meet the criteria again, die).
- **demo**: the demo data set (`homefirst serve --demo`) loaded into a new SQLite database, and
  `app.forecast.service.backtest` run on it as the API runs it.

Deterministic for a seed. In process; the demo part needs no server.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from app.discharge.history import derive_facts
from app.discharge.metrics import Spell
from app.forecast import backtest
from app.forecast.config import ForecastConfig
from app.forecast.queues import Episode, first_come
from app.forecast.waits import CHC_QUEUE, ChcOrder, Rating, discharge_waits
from bench.ledger import EventRow

DAY = timedelta(days=1)
# A 1,000-bed acute system: patients a day becoming ready for each pathway, and the services'
# starts a day on weekdays and at weekends (about 97% busy on average).
SYSTEM = {
    "P1": (24.0, (29.5, 11.0)),
    "P2": (7.0, (8.4, 3.0)),
    "P3": (3.5, (4.5, 0.6)),
}
OUT_OF_ORDER = 0.25  # share of starts that go to someone other than the longest waiting
LEAVE_OTHERWISE = 0.04  # share a day of waiting patients who leave another way
CHC_ARRIVALS_PER_DAY = 3.5
CHC_EXITS_PER_WEEKDAY = 5.2


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: small means only (a day's arrivals).
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def system_history(
    seed: int, weeks: int, end: date
) -> tuple[list[Episode], list[Episode], ChcOrder, int]:
    """The discharge waits (derived from events) and the CHC waits of `weeks` up to `end`."""
    rng = random.Random(seed)
    start = end - timedelta(days=7 * weeks)
    events_written = 0
    waits: list[Episode] = []
    case_id = 0
    for pathway, (arrivals, (weekday, weekend)) in SYSTEM.items():
        queue: list[tuple[int, datetime, datetime]] = []  # case, admitted, ready
        finished: list[tuple[int, datetime, datetime, datetime, str]] = []
        for n in range(7 * weeks):
            day = start + n * DAY
            drift = 1 + 0.12 * (1 if (n // 28) % 2 else -1)  # capacity swings month to month
            for _ in range(_poisson(rng, arrivals)):
                case_id += 1
                ready = _at(day, rng.randrange(8, 18), rng.randrange(60))
                queue.append((case_id, ready - rng.randrange(2, 10) * DAY, ready))
            capacity = _poisson(rng, (weekday if day.weekday() < 5 else weekend) * drift)
            for _ in range(min(capacity, len(queue))):
                pick = rng.randrange(min(10, len(queue))) if rng.random() < OUT_OF_ORDER else 0
                case, admitted, ready = queue.pop(pick)
                left = max(ready + DAY / 4, _at(day, rng.randrange(10, 18)))
                finished.append((case, admitted, ready, left, "discharge"))
            for item in list(queue):
                if rng.random() < LEAVE_OTHERWISE:
                    queue.remove(item)
                    left = _at(day, rng.randrange(8, 20))
                    finished.append((*item, max(left, item[2] + DAY / 8), "meets_ctr_again"))
        finished += [(*item, end + 30 * DAY, "open") for item in queue]
        for case, admitted, ready, left, how in finished:
            log = [
                EventRow(1, "open", admitted, {"ward": "Ward 1", "pathway": pathway}),
                EventRow(2, "not_meeting_ctr", ready),
            ]
            if how == "discharge":
                log.append(EventRow(3, "discharge", left, {"discharge_pathway": pathway}))
            elif how == "meets_ctr_again":
                log.append(EventRow(3, "meets_ctr_again", left))
            events_written += len(log)
            facts = derive_facts(log, lambda _code, _at: None)
            spell = Spell(case, "S1", "TRUST", admitted, facts)
            waits += discharge_waits(spell, None, tuple(SYSTEM))
    chc, order = _chc_history(rng, start, end)
    return waits, chc, order, events_written


def _chc_history(rng: random.Random, start: date, end: date) -> tuple[list[Episode], ChcOrder]:
    waiting: list[tuple[int, datetime, int]] = []  # case, joined, RAG rank
    out: list[Episode] = []
    ratings: dict[int, list[Rating]] = {}
    referred: dict[int, datetime] = {}
    case_id = 10_000_000
    for _ in range(300):  # a backlog inherited from before the history
        case_id += 1
        joined = _at(start - rng.randrange(30, 400) * DAY, 9)
        rank = rng.choice((0, 1, 1, 2, 2, 2))
        waiting.append((case_id, joined, rank))
    for n in range((end - start).days):
        day = start + n * DAY
        for _ in range(_poisson(rng, CHC_ARRIVALS_PER_DAY)):
            case_id += 1
            waiting.append((case_id, _at(day, rng.randrange(8, 18)), rng.choice((0, 1, 1, 2, 2))))
        if day.weekday() < 5:
            waiting.sort(key=lambda w: (w[2], w[1], w[0]))
            for _ in range(min(len(waiting), _poisson(rng, CHC_EXITS_PER_WEEKDAY))):
                pick = rng.randrange(min(5, len(waiting))) if rng.random() < OUT_OF_ORDER else 0
                case, joined, rank = waiting.pop(pick)
                out.append(Episode(case, CHC_QUEUE, joined, _at(day, 14), True))
                ratings[case] = [Rating(("red", "amber", "green")[rank], joined)]
                referred[case] = joined
    for case, joined, rank in waiting:
        out.append(Episode(case, CHC_QUEUE, joined, None, False))
        ratings[case] = [Rating(("red", "amber", "green")[rank], joined)]
        referred[case] = joined
    return out, ChcOrder(ratings, {}, referred)


def run_system(seed: int, weeks: int) -> dict[str, Any]:
    cfg = ForecastConfig()
    end = date(2026, 11, 30)
    now = _at(end, 0)
    t0 = time.perf_counter()
    waits, chc, order, events = system_history(seed, weeks, end)
    built_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    found = backtest.run(
        {
            **dict.fromkeys(SYSTEM, (waits, first_come, None, cfg.queues.discharge.window_days)),
            CHC_QUEUE: (chc, order, order.rank, cfg.queues.chc.window_days),
        },
        chc,
        now=now,
        cfg=cfg,
    )
    backtest_s = time.perf_counter() - t1
    return {
        "history": "system",
        "seed": seed,
        "weeks": weeks,
        "events": events,
        "discharge_waits": len(waits),
        "chc_waits": len(chc),
        "derive_s": round(built_s, 2),
        "backtest_s": round(backtest_s, 2),
        "as_at_days": len(found.as_at_days),
        "scores": [_score(s) for s in [*found.queues, found.clearance]],
    }


def run_demo() -> dict[str, Any]:
    """The demo data set in a new SQLite database, backtested as the API does."""
    from app.cli import _load_demo, _upgrade
    from app.config import get_settings
    from app.demo import DEMO_ORG
    from app.forecast import service
    from app.forecast.config import load_forecast_config
    from app.timeutil import utcnow
    from app.worker import background_parts

    with tempfile.TemporaryDirectory() as tmp:
        import os

        os.environ["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'demo.db'}"
        get_settings.cache_clear()
        settings = get_settings()
        _upgrade(settings.database_url)
        t0 = time.perf_counter()
        _load_demo()
        load_s = time.perf_counter() - t0
        parts = background_parts(settings)
        cfg = load_forecast_config(settings.pathways_dir / "config")
        t1 = time.perf_counter()
        with parts.sessions() as db:
            found = service.backtest(
                db,
                organisation=DEMO_ORG,
                now=utcnow(),
                ctx=parts.metrics_ctx,
                engine=parts.writer.engine,
                cfg=cfg,
            )
        backtest_s = time.perf_counter() - t1
    return {
        "history": "demo",
        "demo_load_s": round(load_s, 2),
        "backtest_s": round(backtest_s, 2),
        "as_at_days": len(found.as_at_days),
        "scores": [_score(s) for s in [*found.queues, found.clearance]],
    }


def _score(s: backtest.Score) -> dict[str, Any]:
    return {
        "queue": s.queue,
        "estimates": s.estimates,
        "scored": s.scored,
        "mae": None if s.mae is None else round(s.mae, 2),
        "bias": None if s.bias is None else round(s.bias, 2),
        "coverage": None if s.coverage is None else round(s.coverage, 3),
        "mean_width": None if s.mean_width is None else round(s.mean_width, 1),
        "missed_still_waiting": s.missed_still_waiting,
        "ended_otherwise": s.ended_otherwise,
        "held_back": s.held_back,
    }


def report(results: list[dict[str, Any]]) -> str:
    lines = []
    for out in results:
        if out["history"] == "system":
            lines.append(
                f"1,000-bed system, {out['weeks']} weeks: {out['events']} events, "
                f"{out['discharge_waits']} discharge waits, {out['chc_waits']} CHC waits; derived "
                f"in {out['derive_s']} s, backtest over {out['as_at_days']} as-at days in "
                f"{out['backtest_s']} s"
            )
        else:
            lines.append(
                f"Demo data set: loaded in {out['demo_load_s']} s, backtest over "
                f"{out['as_at_days']} as-at days in {out['backtest_s']} s"
            )
        lines.append(
            "  queue          windows  scored  MAE(d)  bias(d)  inside  width(d)  "
            "missed-waiting  left-otherwise  held-back"
        )
        for s in out["scores"]:
            cov = "-" if s["coverage"] is None else f"{s['coverage'] * 100:.0f}%"
            lines.append(
                f"  {s['queue']:<14} {s['estimates']:>7}  {s['scored']:>6}  "
                f"{_f(s['mae']):>6}  {_f(s['bias']):>7}  {cov:>6}  {_f(s['mean_width']):>8}  "
                f"{s['missed_still_waiting']:>14}  {s['ended_otherwise']:>14}  {s['held_back']:>9}"
            )
    lines.append("(clearance: error in cases, 4 weeks ahead; windows are 80% intervals)")
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    # The system's days are in winter: London time is UTC.
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
