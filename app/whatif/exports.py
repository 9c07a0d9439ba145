"""A what-if result as CSV (every cell through `app.csvout`): one line per figure, week (or
the whole horizon) and arm (baseline, scenario, difference), with the spread over the runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app import csvout
from app.whatif.model import PATHWAYS

COLUMNS = ["run_id", "seed", "runs", "figure", "pathway", "week", "arm", "p10", "median", "p90"]
ARMS = ("baseline", "scenario", "difference")


def result_csv(run: dict[str, Any]) -> str:
    return csvout.to_csv(COLUMNS, rows(run))


def rows(run: dict[str, Any]) -> Iterator[list[Any]]:
    result = run.get("result") or {}
    head = [run["id"], run["seed"], run["runs"]]
    for figure_name, pathway, week, figure in figures(result):
        for arm in ARMS:
            s = figure[arm]
            yield [*head, figure_name, pathway, week, arm, s["p10"], s["median"], s["p90"]]


def figures(result: dict[str, Any]) -> Iterator[tuple[str, str | None, str, dict[str, Any]]]:
    """(figure, pathway, week or 'all', the figure's spreads), weekly first."""
    for row in result.get("weekly", []):
        week = str(row["week"])
        yield "delayed_bed_days", None, week, row["bed_days"]
        yield "cost_gbp", None, week, row["cost"]
        for p in PATHWAYS:
            yield "mean_wait_days", p, week, row["waits"][p]
        yield "chc_backlog", None, week, row["chc_backlog"]
    totals = result.get("totals")
    if not totals:
        return
    yield "delayed_bed_days", None, "all", totals["bed_days"]
    yield "cost_gbp", None, "all", totals["cost"]
    for p in PATHWAYS:
        yield "delayed_bed_days", p, "all", totals["bed_days_by_pathway"][p]
        yield "mean_wait_days", p, "all", totals["mean_wait_days"][p]
        yield "p90_wait_days", p, "all", totals["p90_wait_days"][p]
        yield "still_waiting", p, "all", totals["still_waiting"][p]
    yield "chc_backlog", None, "end", totals["chc_backlog_at_end"]
    yield "chc_mean_wait_days", None, "all", totals["chc_mean_wait_days"]
