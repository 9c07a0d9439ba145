"""Demo journeys on the sample referral pathway."""

from __future__ import annotations

from datetime import timedelta

from app.demo.plans import Plan

H = timedelta(hours=1)


def referral_plans() -> list[Plan]:
    def plan(site: str, priority: str, opened: int, steps: list) -> Plan:  # type: ignore[type-arg]
        return Plan(
            "sample-referral",
            site,
            opened * H,
            {"priority": priority},
            steps=[(e, d, ago * H) for e, d, ago in steps],
        )

    return [
        plan("AINTREE", "urgent", 1, []),
        plan("SOUTHPORT", "routine", 30, [("triage", {"triage_note": "Needs reablement"}, 29)]),
        plan(
            "SOUTHPORT",
            "urgent",
            50,
            [("triage", {}, 49), ("accept", {"named_clinician": "Dr A Patel"}, 48)],
        ),
        plan(
            "AINTREE",
            "routine",
            480,
            [
                ("triage", {}, 479),
                ("accept", {}, 456),
                ("hold", {"hold_reason": "patient_in_hospital"}, 240),
            ],
        ),
        plan(
            "SOUTHPORT",
            "routine",
            288,
            [("triage", {}, 287), ("accept", {}, 264), ("complete", {"outcome": "goals_met"}, 48)],
        ),
    ]
