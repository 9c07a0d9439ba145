"""The model's inputs, derived from the event log of the reader's organisation over a look-back
window ending now, each with what it is based on (counts and the window), so every figure of a
result can be traced to the events. Stored with the run (`whatif_runs.inputs`); the model is
built from that JSON alone (`system_of`), so a run can be repeated exactly.

Definitions (README "What-if simulation"):

- Discharge spells: the cases the organisation owns or shares, derived as the dashboard and the
  ledger derive them (`app.dashboard.service.derived_spells`, `app.discharge.history`).
- A spell's pathway: the planned pathway in force when it left hospital (now, for one still in),
  else the pathway recorded at discharge (the ledger's rule, `app.ledger.derive.pathway_on`).
- Arrivals on a pathway: spells whose discharge-ready period (the DRD's period, final-period
  rule) began in the window, on that pathway: patients who became ready for discharge.
- Starts on a pathway: discharges in the window recorded with that discharge pathway.
- Waiting now: spells still in hospital, not meeting the criteria to reside now, on a pathway
  1-3; how long each has waited since its period began.
- Community beds (P2): the beds of the organisation's active bed-based intermediate care
  services; the configured figure when it has none.
- Community bed stay (P2): intermediate-care stays in a bed-based service (start or move to
  bed-based care, to a move to another model, the end of the episode or a cancellation) that
  ended in the window; the configured figure when fewer than `min_observed_stays`.
- CHC: cases in a state tagged `chc-worklist` (pathways/chc.yaml) are the backlog. Arrivals:
  entries into those states from outside them in the window; completions: moves out of them to
  another state. Assessors: the people in the chc_assessor role who made those moves; the
  configured number when none did. Each assessor's rate: completions a week / assessors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.dashboard.context import MetricsContext
from app.dashboard.service import derived_spells
from app.ledger.config import LedgerConfig
from app.ledger.derive import pathway_on
from app.models import CaseEvent
from app.timeutil import london_date
from app.whatif.config import Figure, WhatIfConfig
from app.whatif.model import PATHWAYS, BedPathway, Chc, StartsPathway, System
from app.whatif.repository import WhatIfRepository

DAY = timedelta(days=1)
IC_WORKFLOW, CHC_WORKFLOW = "intermediate_care", "chc"
BED_STARTS = frozenset({"start_bed_based_ic", "move_to_bed_based_ic"})
BED_ENDS = frozenset(
    {
        "move_to_crisis_response",
        "move_to_home_based_ic",
        "move_to_reablement",
        "end_episode",
        "cancel",
    }
)
CHC_ASSESSOR = "chc_assessor"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    def holds(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end

    def json(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days}


def days_between(earlier: datetime, later: datetime) -> float:
    return round(max(0.0, (later - earlier) / DAY), 4)


def observe(
    session: Session,
    *,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    config: WhatIfConfig,
    ledger: LedgerConfig,
    worklist: Sequence[str],
    look_back_weeks: int | None = None,
) -> dict[str, Any]:
    """The inputs of a what-if for `organisation`, as JSON."""
    weeks = look_back_weeks or config.look_back_weeks
    window = Window(now - timedelta(weeks=weeks), now)
    repo = WhatIfRepository(session)
    pathways = _pathways(session, organisation, window, ctx)
    pathways["P2"].update(_community_beds(repo, organisation, window, config))
    return {
        "organisation": organisation,
        "as_at": now.isoformat(),
        "window": window.json(),
        "pathways": pathways,
        "chc": _chc(repo, organisation, window, config, worklist),
        "start_day": london_date(now).isoformat(),
        "tariffs": [
            {
                "version": t.version,
                "effective_from": t.effective_from.isoformat(),
                "cost_per_bed_day": str(t.cost_per_bed_day),
                "status": t.status,
                "source": t.source,
            }
            for t in sorted(ledger.tariffs, key=lambda t: t.effective_from)
        ],
    }


def _pathways(
    session: Session, organisation: str, window: Window, ctx: MetricsContext
) -> dict[str, dict[str, Any]]:
    arrivals = dict.fromkeys(PATHWAYS, 0)
    starts = dict.fromkeys(PATHWAYS, 0)
    waiting: dict[str, list[float]] = {p: [] for p in PATHWAYS}
    spells = derived_spells(
        session,
        start=window.start,
        snapshot=window.end,
        site=None,
        organisation=organisation,
        ctx=ctx,
    )
    for _, spell, _ in spells:
        facts = spell.facts
        left = facts.left_hospital_at
        pathway = pathway_on(facts, left or window.end)
        began = facts.drd.period_start
        if pathway in arrivals and window.holds(began):
            arrivals[pathway] += 1
        if window.holds(facts.discharged_at) and facts.discharge_pathway in starts:
            starts[facts.discharge_pathway] += 1
        if left is None and facts.drd.nctr_at_end and began is not None and pathway in waiting:
            waiting[pathway].append(days_between(began, window.end))
    out = {}
    for p in PATHWAYS:
        out[p] = {
            "arrivals": arrivals[p],
            "arrivals_per_day": arrivals[p] / window.days,
            "starts": starts[p],
            "starts_per_day": starts[p] / window.days,
            "waiting_days": sorted(waiting[p], reverse=True),
            "basis": (
                f"{arrivals[p]} spells became ready for discharge on {p} and {starts[p]} were "
                f"discharged on {p} in the {window.days:g} days of the window; "
                f"{len(waiting[p])} are waiting now"
            ),
        }
    return out


def _configured(figure: Figure, why: str) -> dict[str, Any]:
    return {
        "value": figure.value,
        "source": "configured",
        "status": figure.status,
        "basis": f"{why}; whatif.yaml: {figure.source}",
    }


def _community_beds(
    repo: WhatIfRepository, organisation: str, window: Window, config: WhatIfConfig
) -> dict[str, Any]:
    beds, services = repo.community_beds(organisation)
    if beds > 0:
        found = {
            "value": beds,
            "source": "observed",
            "basis": f"{beds} beds of {services} active bed-based IC services",
        }
    else:
        found = _configured(config.community_beds, "no active bed-based IC service")
    stays = bed_stays(repo.events_of(organisation, IC_WORKFLOW, BED_STARTS | BED_ENDS), window)
    if len(stays) >= config.min_observed_stays:
        stay = {
            "value": round(sum(stays) / len(stays), 4),
            "source": "observed",
            "stays": len(stays),
            "basis": f"mean of {len(stays)} bed-based IC stays that ended in the window",
        }
    else:
        stay = _configured(
            config.p2_length_of_stay_days,
            f"{len(stays)} bed-based IC stays ended in the window "
            f"(fewer than {config.min_observed_stays})",
        )
        stay["stays"] = len(stays)
    return {"community_beds": found, "length_of_stay_days": stay}


def bed_stays(events: Sequence[CaseEvent], window: Window) -> list[float]:
    """Days of each bed-based stay that ended in the window (events each case's in order)."""
    stays, began, case = [], None, None
    for e in events:
        if e.case_id != case:
            case, began = e.case_id, None
        if e.event in BED_STARTS:
            began = began or e.occurred_at
        elif e.event in BED_ENDS and began is not None:
            if window.holds(e.occurred_at):
                stays.append(days_between(began, e.occurred_at))
            began = None
    return stays


def _chc(
    repo: WhatIfRepository,
    organisation: str,
    window: Window,
    config: WhatIfConfig,
    worklist: Sequence[str],
) -> dict[str, Any]:
    on_list = set(worklist)
    arrivals = completions = 0
    assessors: set[str] = set()
    entered: dict[int, datetime] = {}
    for e in repo.events_of(organisation, CHC_WORKFLOW, moves_only=True):
        before, after = e.from_state in on_list, e.to_state in on_list
        if after and not before:
            entered[e.case_id] = e.occurred_at
            arrivals += window.holds(e.occurred_at)
        elif before and not after and window.holds(e.occurred_at):
            completions += 1
            if e.actor_role == CHC_ASSESSOR:
                assessors.add(e.actor_username)
    backlog = sorted(
        (
            days_between(entered.get(c.id, c.opened_at), window.end)
            for c in repo.open_cases(organisation, CHC_WORKFLOW, on_list)
        ),
        reverse=True,
    )
    weeks = window.days / 7
    if assessors:
        people = {
            "value": len(assessors),
            "source": "observed",
            "basis": f"{len(assessors)} CHC assessors completed assessments in the window",
        }
        rate = {
            "value": round(completions / weeks / len(assessors), 4),
            "source": "observed",
            "basis": f"{completions} completions in {weeks:g} weeks by {len(assessors)} assessors",
        }
    else:
        people = _configured(config.chc_assessors, "no assessor completed one in the window")
        rate = _configured(
            config.chc_assessments_per_assessor_per_week, "no completion by an assessor"
        )
    return {
        "backlog_days": backlog,
        "arrivals": arrivals,
        "arrivals_per_week": arrivals / weeks,
        "completions": completions,
        "completions_per_week": completions / weeks,
        "assessors": people,
        "per_assessor_per_week": rate,
        "worklist_states": sorted(on_list),
        "basis": (
            f"{len(backlog)} cases on the CHC worklist now; {arrivals} joined and {completions} "
            f"left it in the {weeks:g} weeks of the window"
        ),
    }


def tariff_by_day(inputs: dict[str, Any], days: int) -> tuple[float, ...]:
    """The cost of a bed day on each day of the horizon from the inputs' start day (the ledger's
    tariff in force that day; 0 before the first)."""
    start = date.fromisoformat(inputs["start_day"])
    versions = [
        (date.fromisoformat(t["effective_from"]), float(t["cost_per_bed_day"]))
        for t in inputs["tariffs"]
    ]
    out = []
    for d in range(days):
        day = start + timedelta(days=d)
        cost = 0.0
        for since, value in versions:
            if since <= day:
                cost = value
        out.append(cost)
    return tuple(out)


def system_of(inputs: dict[str, Any], *, days: int) -> System:
    """The model's system from stored inputs (and nothing else)."""
    p = inputs["pathways"]
    chc = inputs["chc"]
    return System(
        p1=StartsPathway(
            p["P1"]["arrivals_per_day"], p["P1"]["starts_per_day"], tuple(p["P1"]["waiting_days"])
        ),
        p2=BedPathway(
            p["P2"]["arrivals_per_day"],
            int(p["P2"]["community_beds"]["value"]),
            float(p["P2"]["length_of_stay_days"]["value"]),
            tuple(p["P2"]["waiting_days"]),
        ),
        p3=StartsPathway(
            p["P3"]["arrivals_per_day"], p["P3"]["starts_per_day"], tuple(p["P3"]["waiting_days"])
        ),
        chc=Chc(
            chc["arrivals_per_week"],
            float(chc["assessors"]["value"]),
            float(chc["per_assessor_per_week"]["value"]),
            tuple(chc["backlog_days"]),
        ),
        tariff=tariff_by_day(inputs, days),
    )
