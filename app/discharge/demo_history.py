"""The demo's discharge history: 112 days of patients waiting for a pathway's service and
starting it, so the start windows have a pace to draw on and the backtest something to score
(issue 19 item 2; app/forecast).

Each pathway's queue is simulated day by day (`app.demo.queue_history`): patients become ready
(no longer meeting the criteria to reside, planned pathway set) and leave it when a start is
free, mostly first come, first served. Each patient is a real spell run through the engine:
admitted, accepted, the pathway planned (`set_pathway`), ready, a capacity delay when the wait
is over a day, discharged on the pathway to a destination that fits it. Those still waiting at
the end stay open: they are the waiting lists now. Fictional people; NHS numbers from the 999
test range (prefix 9994) with valid check digits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.demo.plans import Plan, Step
from app.demo.queue_history import Flow, Wait, nhs_numbers, simulate
from app.timeutil import london_date

SEED = 20261119
DAYS = 112
# Mean arrivals per day (over the week), and the starts a day can take on weekdays and at
# weekends: utilisation about 0.9 (P1 0.91, P2 0.85, P3 0.88). Half a real hub's volumes (P1
# about 2.2 a day): every spell runs through the engine, and the demo must load in seconds.
FLOWS = {
    "P1": Flow(arrivals_per_day=1.1, weekday_capacity=1.5, weekend_capacity=0.5),
    "P2": Flow(arrivals_per_day=0.4, weekday_capacity=0.6, weekend_capacity=0.15),
    "P3": Flow(arrivals_per_day=0.25, weekday_capacity=0.4, weekend_capacity=0.0),
}
OUT_OF_ORDER = 0.15


@dataclass(frozen=True)
class PathwayDemo:
    delay_code: str  # the capacity reason (delay-reasons-acute-2024) a long wait is put down to
    support_area: str
    destination_code: str  # ukcore-discharge-destination


PATHWAYS = {
    # Home with reablement or home care: the usual place of residence.
    "P1": PathwayDemo("capacity-p1-services", "reablement_start", "19"),
    # A bed-based intermediate care bed in a community hospital (another NHS provider's ward).
    "P2": PathwayDemo("capacity-bed-based-services-pathway-2", "p2_bed", "51"),
    # A first-time care home placement (a non-NHS care home).
    "P3": PathwayDemo("capacity-residential-nursing-home", "p3_placement", "85"),
}
# (site, hospital system, ward) like the hand-made demo patients'.
WARDS = (
    ("AINTREE", "LUHFT", "Ward 7"),
    ("AINTREE", "LUHFT", "Ward 12"),
    ("SOUTHPORT", "S&O", "Ward 11"),
    ("SOUTHPORT", "S&O", "Ward 14b"),
    ("ORMSKIRK", "S&O", "Ward 2"),
)
RESPONSIBLE = ("J. Doyle", "P. Nwosu", "K. Ahmed", "R. Evans")
STEP_DOWN_NOT_FOLLOWED = {
    "cancel_reason": "other",
    "cancel_note": "Demo history: the step-down episode is not followed in the demo",
}
H = timedelta(hours=1)
D = timedelta(days=1)


def discharge_history(now: datetime) -> list[Plan]:
    """The history's spells as of `now`, oldest wait first within each pathway."""
    today = london_date(now)
    numbers = nhs_numbers("9994")
    plans = []
    for index, (pathway, flow) in enumerate(FLOWS.items()):
        # Not for secrets: a fixed seed, so the same day gives the same demo.
        rng = random.Random(SEED + index)  # noqa: S311
        waits = simulate(flow, today=today, days=DAYS, rng=rng, out_of_order=OUT_OF_ORDER)
        plans += [_spell(pathway, wait, next(numbers), now, rng) for wait in waits]
    return plans


def _spell(pathway: str, wait: Wait, nhs: str, now: datetime, rng: random.Random) -> Plan:
    site, system, ward = WARDS[rng.randrange(len(WARDS))]
    ready = wait.joined
    admitted = ready - rng.uniform(2, 10) * D
    opened = admitted + 2 * H  # referred to the discharge team two hours after admission
    demo = PATHWAYS[pathway]
    # The pathway is planned at the board round before the patient is ready (set_pathway).
    steps: list[tuple[str, dict[str, Any], datetime]] = [
        ("accept", {"responsible_person": rng.choice(RESPONSIBLE)}, opened + H),
        ("set_pathway", {"pathway": pathway}, ready - 3 * H),
    ]
    if pathway == "P3":
        # Home First (G2): intermediate care was offered before a first-time care home placement.
        response = rng.choice(("declined", "not_appropriate"))
        steps.append(("record_ic_offer", {"ic_offer_response": response}, ready - H))
    steps.append(("not_meeting_ctr", {}, ready))
    delay_from = ready + D
    if delay_from < (wait.left or now):
        delay = {"delay_code": demo.delay_code, "support_area": demo.support_area}
        steps.append(("open_delay", delay, delay_from))
    linked: list[Step] = []
    if wait.left is not None:
        steps.append(("discharge", _discharge(pathway, demo), wait.left))
        # A P1 or P2 discharge opens a step-down IC episode (app/ic). The history does not follow
        # it: closed at once, so the IC screens show only the IC demo's own episodes waiting.
        linked.append(("cancel", STEP_DOWN_NOT_FOLLOWED, now - wait.left - H))
    data = {"hospital_system": system, "ward": ward, "admitted_at": admitted.isoformat()}
    return Plan(
        "discharge",
        site,
        now - opened,
        data,
        patient_ref=nhs,
        steps=[(event, values, now - at) for event, values, at in steps],
        linked_steps=linked,
    )


def _discharge(pathway: str, demo: PathwayDemo) -> dict[str, Any]:
    data: dict[str, Any] = {"discharge_pathway": pathway, "destination_code": demo.destination_code}
    if pathway == "P3":
        data |= {
            "exceptional_reason": "Needs 24-hour nursing care; reablement at home not safe",
            "exceptional_approver": "S. Clarke, head of discharge",
        }
    return data
