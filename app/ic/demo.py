"""Demo intermediate care: a site's services with their capacity, and episodes in each stage
(an urgent response under way, a move from crisis response to reablement, a full bed unit with
someone waiting, two more waiting for places that are free, one of them past the 2-day start,
a delayed exit, and an ended step-down episode owed its 91-day follow-up).

Fictional people; NHS numbers from the 999 test range with valid check digits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.demo.plans import Plan, Step
from app.ic.schemas import ModelName, ServiceCreate
from app.ic.service import create_service

SITE = "SEFTON"
H = timedelta(hours=1)
SERVICES: tuple[tuple[str, str, ModelName, int], ...] = (
    ("DEMO-UCR", "2-hour urgent community response", "crisis_response", 12),
    ("DEMO-HBIC", "Home-based intermediate care", "home_based_ic", 20),
    ("DEMO-REAB", "Reablement", "reablement", 25),
    ("DEMO-BEDS", "Intermediate care beds", "bed_based_ic", 2),
)
PLAN = {
    "transition_plan": "Visits reduce from four to two a day; review at week 3",
    "contingency_plan": "Ring the single point of access to come back within 3 months",
}


def demo_services(session: Session, actor: Actor, now: datetime) -> dict[str, int]:
    """Create the demo services; their ids by model."""
    ids: dict[str, int] = {}
    for code, name, model, capacity in SERVICES:
        body = ServiceCreate(code=code, name=name, site=SITE, model=model, capacity=capacity)
        ids[model] = create_service(session, actor=actor, body=body, now=now).id
    return ids


def _s(event: str, hours_ago: float, **data: Any) -> Step:
    return (event, data, hours_ago * H)


def ic_plans(services: dict[str, int], now: datetime) -> list[Plan]:
    def episode(nhs: str, opened_hours_ago: float, steps: list[Step], **data: Any) -> Plan:
        return Plan(
            "intermediate_care",
            SITE,
            opened_hours_ago * H,
            {"direction": "step_up", "referrer": "gp", **data},
            patient_ref=nhs,
            steps=steps,
        )

    crisis, reablement = services["crisis_response"], services["reablement"]
    beds = services["bed_based_ic"]
    triage = {"priority": "high", "planned_model": "bed_based_ic"}
    return [
        episode(
            "9990000107",
            1.5,
            [
                _s("flag_urgent_response", 1.5, ucr_condition="fall_without_serious_injury"),
                _s("start_crisis_response", 0.5, service_id=crisis),
            ],
            referrer="care_home",
        ),
        episode(
            "9990000115",
            10 * 24,
            [
                _s("flag_urgent_response", 240, ucr_condition="reduced_function"),
                _s("start_crisis_response", 239, service_id=crisis),
                _s("assess", 230, personal_goals="Get up and dressed without help"),
                _s("move_to_reablement", 200, service_id=reablement, move_reason="Crisis over"),
                _s("record_transition_plan", 190, **PLAN),
            ],
        ),
        episode(
            "9990000123",
            5 * 24,
            [_s("triage", 119, **triage), _s("start_bed_based_ic", 110, service_id=beds)],
            direction="step_down",
            referrer="hospital",
        ),
        episode(
            "9990000131",
            30,
            [_s("triage", 29, **{**triage, "priority": "urgent"}), _s("await_capacity", 28)],
        ),
        # Two more waiting, for places that are free: the board's start against capacity.
        episode(
            "9990002002",
            20,
            [
                _s("triage", 19, priority="high", planned_model="reablement"),
                _s("assess", 18, personal_goals="Make a hot drink and reach the bathroom safely"),
                _s("await_capacity", 17),
            ],
            direction="step_down",
            referrer="hospital",
        ),
        episode(
            "9990002010",
            60,
            [
                _s("triage", 58, priority="routine", planned_model="home_based_ic"),
                _s("await_capacity", 57),
            ],
        ),
        episode(
            "9990000158",
            40 * 24,
            [
                _s("triage", 959, **triage),
                _s("start_bed_based_ic", 950, service_id=beds),
                _s("record_transition_plan", 500, **PLAN),
                _s("await_ongoing_package", 96, awaited_package="nursing_care"),
            ],
        ),
        episode(
            "9990000166",
            60 * 24,
            [
                _s("triage", 1439, priority="routine", planned_model="reablement"),
                _s("start_reablement", 1430, service_id=reablement),
                _s("record_transition_plan", 1200, **PLAN),
                _s("end_episode", 500, outcome="independent"),
            ],
            direction="step_down",
            referrer="hospital",
            hospital_discharge_at=(now - 60 * 24 * H).isoformat(),
            date_of_birth="1944-03-12",  # 65 and over: in ASCOF 2B if discharged Oct-Dec
        ),
    ]
