"""The estimates as the API, the CSV files and the screen give them: every figure with what it is
based on, in words and in numbers."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.forecast.backtest import Backtest, Score
from app.forecast.clearance import Clearance
from app.forecast.config import ForecastConfig
from app.forecast.queues import Held, Pace, StartWindow
from app.forecast.service import Estimates, QueueEstimate
from app.forecast.waits import CHC_QUEUE
from app.timeutil import london_date

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
METHOD = (
    "A patient's place in the queue and the queue's pace: every exit from the queue on each day "
    "of the window before today, drawn forward by weekday many times; the window is the central "
    "interval of the days on which the patient's place was reached, the likely day its median."
)
ORDER = {
    CHC_QUEUE: "in the assessor queue's order: RAG colour, then the longest wait since "
    "referral, then case number",
}
FIRST_COME = "in order of when their current wait began"


def pace_body(pace: Pace) -> dict[str, Any]:
    pools = pace.pools()
    return {
        "window": {
            "from": pace.first_day.isoformat(),
            "to": pace.last_day.isoformat(),
            "days": len(pace.daily),
        },
        "exits": pace.exits,
        "started": pace.started,
        "busy_days": pace.busy_days,
        "per_day": round(pace.per_day, 2),
        "by_weekday": {
            WEEKDAYS[n]: round(sum(pool) / len(pool), 2) if pool else None
            for n, pool in enumerate(pools)
        },
    }


def queue_summary(found: QueueEstimate) -> dict[str, Any]:
    queue = found.queue
    last = found.windows[-1] if found.windows else None
    return {
        "queue": queue.name,
        "label": queue.label,
        "waiting": len(found.waiting),
        "ordered": ORDER.get(queue.name, FIRST_COME),
        "pace": pace_body(found.pace),
        "estimated": len(found.windows),
        "held_back": len(found.held),
        "last_in_queue": _window_dates(last) if last else None,
        "basis": pace_text(found),
    }


def pace_text(found: QueueEstimate) -> str:
    pace = found.pace
    if pace.exits == 0:
        return (
            f"No one left the {found.queue.label} queue in the {len(pace.daily)} days to "
            f"{_d(pace.last_day)}: no pace to estimate from."
        )
    return (
        f"{pace.exits} left the {found.queue.label} queue in the {len(pace.daily)} days to "
        f"{_d(pace.last_day)} ({pace.per_day:.1f} a day on the {pace.busy_days} days someone was "
        f"waiting; {pace.started} of them started)."
    )


def window_body(
    w: StartWindow, found: QueueEstimate, cfg: ForecastConfig, estimates: Estimates
) -> dict[str, Any]:
    queue = found.queue
    rag = (
        queue.chc_order.colour_at(w.episode.case_id, estimates.as_at)
        if queue.chc_order is not None
        else None
    )
    return {
        "case_id": w.episode.case_id,
        "patient_ref": w.episode.patient_ref,
        "queue": queue.name,
        "label": queue.label,
        "place": w.place,
        "of": len(found.waiting) - len(found.held),
        "rag": rag,
        "waiting_since": w.episode.joined_at.isoformat(),
        "waiting_days": w.waiting_days,
        **_window_dates(w),
        "held_back": False,
        "interval": cfg.interval,
        "basis": window_text(w, found, cfg),
    }


def held_body(held: Held, found: QueueEstimate, estimates: Estimates) -> dict[str, Any]:
    queue = found.queue
    e = held.episode
    rag = (
        queue.chc_order.colour_at(e.case_id, estimates.as_at)
        if queue.chc_order is not None
        else None
    )
    return {
        "case_id": e.case_id,
        "patient_ref": e.patient_ref,
        "queue": queue.name,
        "label": queue.label,
        "place": None,
        "of": len(found.waiting),
        "rag": rag,
        "waiting_since": e.joined_at.isoformat(),
        "waiting_days": (london_date(estimates.as_at) - london_date(e.joined_at)).days,
        "earliest": None,
        "likely": None,
        "latest": None,
        "beyond_horizon": False,
        "held_back": True,
        "interval": None,
        "basis": (
            f"Held back: {held.overtaken_by} of the {held.exits} who left the "
            f"{queue.label} queue while this patient waited (in the {len(found.pace.daily)} "
            f"days to {_d(found.pace.last_day)}) were behind them in the queue's order. The "
            "queue is not being worked in that order for them, so no window is given and "
            "they are not counted ahead of anyone."
        ),
    }


def window_text(w: StartWindow, found: QueueEstimate, cfg: ForecastConfig) -> str:
    share = round(cfg.interval * 100)
    when = (
        f"between {_d(w.earliest)} and {_d(w.latest)}, most likely {_d(w.likely)}"
        if w.latest is not None
        else f"from {_d(w.earliest)}; in some futures not within {cfg.horizon_days} days"
        if w.earliest is not None
        else f"not within {cfg.horizon_days} days"
    )
    order = ORDER.get(found.queue.name, FIRST_COME)
    counted = len(found.waiting) - len(found.held)
    return (
        f"{_ordinal(w.place)} of {counted} waiting for {found.queue.label} ({order}). "
        f"{pace_text(found)} Drawn {cfg.paths} times from those days by weekday, {share}% of the "
        f"futures start this patient {when}."
    )


def clearance_body(found: Clearance, cfg: ForecastConfig) -> dict[str, Any]:
    flow = found.flow
    arrivals = flow.per_week(flow.arrivals)
    exits = flow.per_week(flow.exits)
    weeks = {
        "lower": found.weeks_lower,
        "likely": found.weeks_likely,
        "upper": found.weeks_upper,
        "interval": cfg.interval,
        "cleared_share": round(found.cleared_share, 3),
        "horizon_weeks": cfg.clearance.horizon_weeks,
    }
    return {
        "as_at": found.as_at.isoformat(),
        "backlog": found.backlog,
        "window": {
            "from": flow.first_day.isoformat(),
            "days": flow.days,
        },
        "arrivals": sum(flow.arrivals),
        "exits": sum(flow.exits),
        "started": flow.started,
        "arrivals_per_week": round(arrivals, 1),
        "exits_per_week": round(exits, 1),
        "net_per_week": round(exits - arrivals, 1),
        "weeks_to_clear": weeks,
        "fan": [
            {
                "week_ending": w.week_ending.isoformat(),
                "lower": w.lower,
                "likely": w.likely,
                "upper": w.upper,
            }
            for w in found.fan
        ],
        "basis": clearance_text(found, cfg),
    }


def clearance_text(found: Clearance, cfg: ForecastConfig) -> str:
    flow = found.flow
    share = round(cfg.interval * 100)
    rates = (
        f"{found.backlog} in the backlog. In the {flow.days} days from {_d(flow.first_day)}, "
        f"{sum(flow.arrivals)} joined it ({flow.per_week(flow.arrivals):.1f} a week) and "
        f"{sum(flow.exits)} left it ({flow.per_week(flow.exits):.1f} a week; {flow.started} to "
        f"the panel or a decision)."
    )
    horizon = cfg.clearance.horizon_weeks
    if found.weeks_likely is None:
        cleared = round(found.cleared_share * 100)
        return (
            f"{rates} At that pace the backlog is not cleared within {horizon} weeks in most "
            f"futures ({cleared}% cleared)."
        )
    upper = f"{found.weeks_upper}" if found.weeks_upper is not None else f"over {horizon}"
    return (
        f"{rates} Drawn {cfg.clearance.paths} times from those days by weekday: cleared in "
        f"{found.weeks_likely} weeks most likely, {found.weeks_lower} to {upper} weeks in "
        f"{share}% of the futures."
    )


def score_body(score: Score) -> dict[str, Any]:
    return {
        "queue": score.queue,
        "estimates": score.estimates,
        "scored": score.scored,
        "mae_days": _round(score.mae),
        "bias_days": _round(score.bias),
        "coverage": _round(score.coverage, 3),
        "mean_width_days": _round(score.mean_width),
        "missed_still_waiting": score.missed_still_waiting,
        "not_yet_known": score.not_yet_known,
        "ended_otherwise": score.ended_otherwise,
        "no_pace": score.no_pace,
        "held_back": score.held_back,
    }


def backtest_body(found: Backtest, cfg: ForecastConfig) -> dict[str, Any]:
    return {
        "now": found.now.isoformat(),
        "as_at_days": [d.isoformat() for d in found.as_at_days],
        "interval": cfg.interval,
        "queues": [score_body(s) for s in found.queues],
        "clearance": {
            **score_body(found.clearance),
            "ahead_weeks": cfg.backtest.clearance_ahead_weeks,
            "unit": "cases in the backlog",
        },
        "definitions": (
            "Error: the actual start day minus the likely day (days), for waits that ended in a "
            "start. Coverage: the share of those, and of patients still waiting after their "
            "window, whose start fell inside the window. Clearance: the backlog "
            f"{cfg.backtest.clearance_ahead_weeks} weeks after each as-at day against the "
            "forecast's likely size and interval."
        ),
    }


def _window_dates(w: StartWindow) -> dict[str, Any]:
    return {
        "earliest": _iso(w.earliest),
        "likely": _iso(w.likely),
        "latest": _iso(w.latest),
        "beyond_horizon": w.latest is None,
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _d(day: date | None) -> str:
    return f"{day:%a %d %b}" if day else "-"


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
