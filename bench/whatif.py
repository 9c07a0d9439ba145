"""The what-if simulation, in process (no database, no HTTP): a 1,000-bed system over 12 weeks
with the default number of runs, baseline and scenario, exactly as the background job runs it
(`app.whatif.service.simulate_inputs` on stored inputs).

The system is whatif.yaml's `reference` (UNVERIFIED round figures for 1,000 acute beds: the
arrivals, starts, community beds and queues of P1-P3 and the CHC backlog, with the configured
stay and assessor rate); the scenario is the issue's example: five more P1 starts a day, two more
community beds, one more CHC assessor. Each queue's waits are spread evenly up to twice the mean
wait the reference's note gives (so their mean is that wait).
"""

from __future__ import annotations

import statistics
import time
from datetime import date
from typing import Any

from app.config import PROJECT_ROOT
from app.ledger.config import load_ledger_config
from app.whatif.config import WhatIfConfig, load_whatif_config
from app.whatif.service import simulate_inputs

SCENARIO = {"p1_starts_per_day": 5, "community_beds": 2, "chc_assessors": 1}
MEAN_WAIT_DAYS = {"P1": 3.5, "P2": 8, "P3": 15, "chc": 17.5}


def _waits(n: int, mean: float) -> list[float]:
    """n waits evenly spread over (0, 2 x mean], longest first."""
    return [round(2 * mean * (n - i) / n, 4) for i in range(n)]


def reference_inputs(config: WhatIfConfig, start: date) -> dict[str, Any]:
    """Inputs as `app.whatif.observed.observe` stores them, for the reference system."""
    ref = config.reference
    ledger = load_ledger_config(PROJECT_ROOT / "pathways" / "config")
    beds = {"value": ref.p2_beds, "source": "configured", "basis": "bench reference"}
    stay = {"value": config.p2_length_of_stay_days.value, "source": "configured", "basis": "-"}
    return {
        "pathways": {
            "P1": {
                "arrivals_per_day": ref.p1_arrivals_per_day,
                "starts_per_day": ref.p1_starts_per_day,
                "waiting_days": _waits(ref.p1_waiting, MEAN_WAIT_DAYS["P1"]),
            },
            "P2": {
                "arrivals_per_day": ref.p2_arrivals_per_day,
                "starts_per_day": 0,
                "waiting_days": _waits(ref.p2_waiting, MEAN_WAIT_DAYS["P2"]),
                "community_beds": beds,
                "length_of_stay_days": stay,
            },
            "P3": {
                "arrivals_per_day": ref.p3_arrivals_per_day,
                "starts_per_day": ref.p3_starts_per_day,
                "waiting_days": _waits(ref.p3_waiting, MEAN_WAIT_DAYS["P3"]),
            },
        },
        "chc": {
            "arrivals_per_week": ref.chc_arrivals_per_week,
            "assessors": {"value": ref.chc_assessors},
            "per_assessor_per_week": {"value": config.chc_assessments_per_assessor_per_week.value},
            "backlog_days": _waits(ref.chc_backlog, MEAN_WAIT_DAYS["chc"]),
        },
        "start_day": start.isoformat(),
        "tariffs": [
            {
                "effective_from": t.effective_from.isoformat(),
                "cost_per_bed_day": str(t.cost_per_bed_day),
            }
            for t in ledger.tariffs
        ],
        "scale": None,
    }


def run(runs: int | None, weeks: int, repeat: int, seed: int = 1) -> dict[str, Any]:
    config = load_whatif_config(PROJECT_ROOT / "pathways" / "config")
    runs = runs or config.runs
    inputs = reference_inputs(config, date(2026, 12, 7))
    walls, result = [], {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = simulate_inputs(inputs, SCENARIO, weeks=weeks, runs=runs, seed=seed)
        walls.append(time.perf_counter() - t0)
    wall = statistics.median(walls)
    totals = result["totals"]
    return {
        "beds": config.reference.beds,
        "weeks": weeks,
        "runs": runs,
        "repeat": repeat,
        "wall_s": round(wall, 3),
        "wall_s_each": [round(w, 3) for w in walls],
        "runs_per_s": round(runs / wall, 1),
        "simulations_per_s": round(2 * runs / wall, 1),
        "events": result["events"],
        "events_per_s": round(result["events"] / wall),
        "bed_days_baseline_median": totals["bed_days"]["baseline"]["median"],
        "bed_days_scenario_median": totals["bed_days"]["scenario"]["median"],
        "bed_days_difference": totals["bed_days"]["difference"],
    }


def report(out: dict[str, Any]) -> str:
    d = out["bed_days_difference"]
    return (
        f"What-if, in process: {out['beds']} beds, {out['weeks']} weeks, {out['runs']} runs "
        f"(baseline and scenario each), median of {out['repeat']}\n"
        f"  wall time: {out['wall_s']} s (each: {out['wall_s_each']})\n"
        f"  {out['runs_per_s']} runs/s ({out['simulations_per_s']} simulations/s), "
        f"{out['events']} events, {out['events_per_s']} events/s\n"
        f"  delayed bed days, median: baseline {out['bed_days_baseline_median']}, "
        f"scenario {out['bed_days_scenario_median']}; difference p10/median/p90 "
        f"{d['p10']}/{d['median']}/{d['p90']}"
    )
