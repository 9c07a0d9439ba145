"""A what-if: the baseline and the scenario run `runs` times each with common random numbers
(run i of both arms uses seed + i), and each figure's spread over the runs (10th percentile,
median, 90th percentile) for both arms and for their paired difference (scenario minus
baseline, run by run). Figures are rounded once, here, so the result is the same bytes for the
same inputs and seed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.whatif.model import PATHWAYS, Run, Scenario, System, apply, simulate

Spread = dict[str, float | None]


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values by linear interpolation between order statistics (the
    'inclusive' method: the minimum at 0, the maximum at 1)."""
    ordered = sorted(values)
    at = (len(ordered) - 1) * q
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def spread(values: Sequence[float | None]) -> Spread:
    known = [v for v in values if v is not None]
    if not known:
        return {"p10": None, "median": None, "p90": None, "runs": 0}
    return {
        "p10": round(quantile(known, 0.1), 2),
        "median": round(quantile(known, 0.5), 2),
        "p90": round(quantile(known, 0.9), 2),
        "runs": len(known),
    }


def figure(base: Sequence[float | None], scenario: Sequence[float | None]) -> dict[str, Spread]:
    paired = [s - b for b, s in zip(base, scenario, strict=True) if b is not None and s is not None]
    return {"baseline": spread(base), "scenario": spread(scenario), "difference": spread(paired)}


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def p90(values: Sequence[float]) -> float | None:
    return quantile(values, 0.9) if values else None


def compare(
    system: System, scenario: Scenario, *, weeks: int, runs: int, seed: int
) -> dict[str, Any]:
    changed = apply(system, scenario)
    base = [simulate(system, weeks=weeks, seed=seed + i) for i in range(runs)]
    other = [simulate(changed, weeks=weeks, seed=seed + i) for i in range(runs)]

    def fig(of: Callable[[Run], float | None]) -> dict[str, Spread]:
        return figure([of(r) for r in base], [of(r) for r in other])

    weekly = []
    for w in range(weeks):
        weekly.append(
            {
                "week": w + 1,
                "bed_days": fig(lambda r, w=w: r.bed_days[w]),  # type: ignore[misc]
                "cost": fig(lambda r, w=w: r.cost[w]),  # type: ignore[misc]
                "waits": {
                    p: fig(lambda r, w=w, p=p: r.waits_by_week[p][w])  # type: ignore[misc]
                    for p in PATHWAYS
                },
                "chc_backlog": fig(lambda r, w=w: r.chc_backlog[w]),  # type: ignore[misc]
            }
        )
    totals = {
        "bed_days": fig(lambda r: sum(r.bed_days)),
        "cost": fig(lambda r: sum(r.cost)),
        "bed_days_by_pathway": {
            p: fig(lambda r, p=p: sum(r.bed_days_by_pathway[p]))  # type: ignore[misc]
            for p in PATHWAYS
        },
        "mean_wait_days": {p: fig(lambda r, p=p: mean(r.waits[p])) for p in PATHWAYS},  # type: ignore[misc]
        "p90_wait_days": {p: fig(lambda r, p=p: p90(r.waits[p])) for p in PATHWAYS},  # type: ignore[misc]
        "still_waiting": {p: fig(lambda r, p=p: r.still_waiting[p]) for p in PATHWAYS},  # type: ignore[misc]
        "chc_backlog_at_end": fig(lambda r: r.chc_backlog[-1] if r.chc_backlog else None),
        "chc_mean_wait_days": fig(lambda r: mean(r.chc_waits)),
    }
    return {
        "weeks": weeks,
        "runs": runs,
        "seed": seed,
        "events": sum(r.events for r in base) + sum(r.events for r in other),
        "totals": totals,
        "weekly": weekly,
    }
