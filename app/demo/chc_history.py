"""The demo's CHC history: 112 days of referrals that joined the assessors' backlog and left it,
so the backlog's start windows and clearance forecast have a pace and the backtest something to
score (issue 19 item 2; app/forecast).

The backlog is simulated day by day (`app.demo.queue_history`): about five referrals a week, and
about as many leave it, mostly the longest wait first. Each is a real case run through the
engine: referred, allocated, screened with the Checklist, then screened out with a negative
Checklist (decided), or, after a positive one, a full assessment with the DST and a referral to
the panel, which decides if its date has passed; a few are withdrawn. Those still waiting at the
end stay in the backlog, some allocated or being screened. Fictional people; NHS numbers from
the 999 test range (prefix 9995) with valid check digits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.transition import CaseWriter
from app.chc.config import ChcConfig
from app.chc.panels import next_panel_for_referral
from app.demo.plans import Plan, run_history
from app.demo.queue_history import Flow, Wait, london_time, nhs_numbers, simulate
from app.timeutil import london_date

SEED = 20261120
DAYS = 112
# About five referrals a week, and about six assessments' worth of capacity (weekdays only):
# utilisation about 0.9.
FLOW = Flow(arrivals_per_day=0.75, weekday_capacity=1.2, weekend_capacity=0.0)
OUT_OF_ORDER = 0.15
# How the cases that left the backlog left it (the rest were screened out).
WITHDRAWN = 0.08
FULL_ASSESSMENT = 0.25
# The panel's decision after a full assessment: eligible for this share, otherwise not.
ELIGIBLE = 0.5
ASSESSORS = ("A. Rimmer (CSU)", "B. Formby (CSU)", "C. Halsall (trusted assessor)")
SOURCES = ("Aintree discharge team", "Southport ward", "District nursing", "GP", "Care home")
FIRST_NAMES = ("Margaret", "Harold", "Sheila", "Kenneth", "Brenda", "Dennis", "Maureen", "Roy")
SURNAMES = ("Ainsworth", "Rigby", "Sephton", "Tyrer", "Swift", "Ball", "Kershaw", "Lea")


@dataclass(frozen=True)
class Scores:
    """Checklist and DST data (every domain), from the configured tools."""

    checklist_domains: tuple[str, ...]
    dst_domains: tuple[str, ...]

    def checklist(self, **scores: str) -> dict[str, str]:
        return {f"checklist_{k}": scores.get(k, "C") for k in self.checklist_domains}

    def dst(self, **levels: str) -> dict[str, str]:
        data = {f"dst_{k}": levels.get(k, "low") for k in self.dst_domains}
        return {**data, "dst_setting": "community"}


def load_chc_history(
    session: Session,
    writer: CaseWriter,
    cfg: ChcConfig,
    actor: Actor,
    now: datetime,
) -> int:
    """Run the history's cases in one transaction, as `actor` (an assessor who also decides for
    the ICB); how many were opened."""
    return len(run_history(session, writer, actor, chc_history(cfg, now), now))


def chc_history(cfg: ChcConfig, now: datetime) -> list[Plan]:
    today = london_date(now)
    scores = Scores(
        tuple(d.key for d in cfg.tools.checklist.domains),
        tuple(d.key for d in cfg.tools.dst.domains),
    )
    # Not for secrets: a fixed seed, so the same day gives the same demo.
    rng = random.Random(SEED)  # noqa: S311
    waits = simulate(FLOW, today=today, days=DAYS, rng=rng, out_of_order=OUT_OF_ORDER)
    numbers = nhs_numbers("9995")
    return [_case(w, next(numbers), cfg, scores, now, rng) for w in waits]


def _case(
    wait: Wait, nhs: str, cfg: ChcConfig, scores: Scores, now: datetime, rng: random.Random
) -> Plan:
    joined = wait.joined
    referred = london_date(joined)
    data = {
        "person_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
        "date_of_birth": (referred - timedelta(days=rng.randint(68 * 365, 95 * 365))).isoformat(),
        "referral_date": referred.isoformat(),
        "referral_source": rng.choice(SOURCES),
        "setting": rng.choice(("acute", "community", "community")),
    }
    steps = _left(wait, cfg, scores, now, rng) if wait.left else _waiting(wait, now, rng)
    return Plan(
        "chc",
        None,
        now - joined,
        data,
        patient_ref=nhs,
        steps=[(event, values, now - at) for event, values, at in steps],
    )


Timed = list[tuple[str, dict[str, Any], datetime]]


def _left(wait: Wait, cfg: ChcConfig, scores: Scores, now: datetime, rng: random.Random) -> Timed:
    """The steps of a case that left the backlog at `wait.left`."""
    assert wait.left is not None  # noqa: S101 - only called for those that left
    joined, left = wait.joined, wait.left

    def at(share: float) -> datetime:
        return joined + (left - joined) * share

    allocate = ("allocate", {"allocated_to": rng.choice(ASSESSORS)}, at(0.3))
    draw = rng.random()
    if draw < WITHDRAWN:
        why = rng.choice(("Person declined the assessment", "Moved out of the area"))
        return [allocate, ("withdraw", {"withdrawal_reason": why}, left)]
    steps: Timed = [allocate, ("start_screening", {}, at(0.5))]
    if draw < WITHDRAWN + FULL_ASSESSMENT:
        eligible = rng.random() < ELIGIBLE
        # A positive Checklist: two domains scored A, one of them Breathing.
        checklist = scores.checklist(breathing="A", mobility="A")
        dst = scores.dst(breathing="priority") if eligible else scores.dst(mobility="moderate")
        steps += [
            ("record_checklist", {**checklist, "checklist_date": _day(at(0.6))}, at(0.6)),
            ("start_full_assessment", {}, at(0.7)),
            ("record_dst", {**dst, "dst_date": _day(at(0.9))}, at(0.9)),
            ("refer_to_panel", {}, left),
        ]
        # The panel the referral is placed on (the `place_on_next_panel` effect's own rule).
        panel = london_time(next_panel_for_referral(london_date(left), cfg.local.panels), 15)
        if panel < now and panel > left:
            outcome = "chc_eligible" if eligible else rng.choice(("fnc", "la_social_care"))
            steps.append(("decide", {"decision_outcome": outcome}, panel))
        return steps
    # A negative Checklist: screened out.
    outcome = rng.choice(("not_eligible", "la_social_care", "la_social_care", "self_funding"))
    return [
        *steps,
        ("record_checklist", {**scores.checklist(), "checklist_date": _day(at(0.8))}, at(0.8)),
        ("screen_out", {"decision_outcome": outcome}, left),
    ]


def _waiting(wait: Wait, now: datetime, rng: random.Random) -> Timed:
    """A case still in the backlog: allocated after a few days, some being screened."""
    allocated = wait.joined + timedelta(days=rng.uniform(2, 6))
    if allocated >= now - timedelta(hours=1):
        return []
    steps: Timed = [("allocate", {"allocated_to": rng.choice(ASSESSORS)}, allocated)]
    screening = allocated + timedelta(days=rng.uniform(1, 5))
    if screening < now - timedelta(hours=1) and rng.random() < 0.5:
        steps.append(("start_screening", {}, screening))
    return steps


def _day(at: datetime) -> str:
    return london_date(at).isoformat()
