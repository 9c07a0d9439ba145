"""Demo discharge cases: a ward picture with delayed patients, reasons and escalations.

Fictional people; NHS numbers from the 999 test range with valid check digits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.demo.plans import Plan, Step

D = timedelta(days=1)
SITES = {"AINTREE": "LUHFT", "SOUTHPORT": "S&O", "ORMSKIRK": "S&O"}


def discharge_plans(now: datetime) -> list[Plan]:
    def patient(
        nhs: str, site: str, ward: str, admitted: float, steps: list[Step], **data: Any
    ) -> Plan:
        # Referred to the discharge team two hours after admission.
        admitted_at = (now - admitted * D - timedelta(hours=2)).isoformat()
        base = {"hospital_system": SITES[site], "ward": ward, "admitted_at": admitted_at}
        return Plan("discharge", site, admitted * D, {**base, **data}, patient_ref=nhs, steps=steps)

    return _plans(patient)


def _s(event: str, days_ago: float, **data: Any) -> Step:
    return (event, data, days_ago * D)


def _plans(_patient: Any) -> list[Plan]:
    return [
        _patient(
            "9990000018",
            "AINTREE",
            "Ward 7",
            12,
            [
                _s("accept", 11.9, responsible_person="J. Doyle", pathway="P1"),
                _s("not_meeting_ctr", 9),
                _s(
                    "open_delay",
                    8,
                    delay_code="capacity-p1-services",
                    support_area="reablement_start",
                ),
                _s("raise_escalation", 1, escalation_reason="9 days waiting for reablement"),
            ],
        ),
        _patient(
            "9990000026",
            "AINTREE",
            "Ward 7",
            6,
            [
                _s("accept", 5.9, responsible_person="J. Doyle", pathway="P0"),
                _s("not_meeting_ctr", 1),
                _s(
                    "open_delay",
                    0.9,
                    delay_code="hospital-medicines-to-take-home",
                    support_area="other",
                ),
            ],
        ),
        _patient(
            "9990000034",
            "AINTREE",
            "Ward 12",
            30,
            [
                _s("accept", 29.9, responsible_person="P. Nwosu", pathway="P3"),
                _s("not_meeting_ctr", 23),
                _s("open_delay", 22, delay_code="hospital-medical-review"),
                _s(
                    "open_delay",
                    20,
                    delay_code="capacity-residential-nursing-home",
                    support_area="p3_placement",
                ),
                _s("end_delay", 18, delay_code="hospital-medical-review"),
                _s("record_ic_offer", 17, ic_offer_response="declined"),
                _s("raise_escalation", 7, escalation_reason="Over 21 days; placement not found"),
            ],
        ),
        _patient(
            "9990000042",
            "SOUTHPORT",
            "Ward 14b",
            9,
            [
                _s("accept", 8.9, responsible_person="K. Ahmed", pathway="P2"),
                _s("not_meeting_ctr", 5),
                _s(
                    "open_delay",
                    5,
                    delay_code="capacity-bed-based-services-pathway-2",
                    support_area="p2_bed",
                ),
                _s(
                    "open_delay",
                    3,
                    delay_code="wellbeing-patient-family-carer-choice",
                    support_area="choice",
                ),
            ],
            mh_known_to_services=True,
        ),
        _patient(
            "9990000050",
            "SOUTHPORT",
            "Ward 14b",
            4,
            [
                _s("accept", 3.9, responsible_person="K. Ahmed"),
                _s("not_meeting_ctr", 0.2),
            ],
        ),
        _patient(
            "9990000069",
            "SOUTHPORT",
            "Ward 11",
            16,
            [
                _s("accept", 15.9, responsible_person="K. Ahmed", pathway="P1"),
                _s("not_meeting_ctr", 14),
                _s("meets_ctr_again", 12),
                _s("not_meeting_ctr", 8),
                _s("open_delay", 8, delay_code="capacity-equipment", support_area="equipment"),
            ],
        ),
        _patient(
            "9990000077",
            "ORMSKIRK",
            "Ward 2",
            3,
            [
                _s("accept", 2.9, responsible_person="R. Evans"),
            ],
        ),
        _patient(
            "9990000085",
            "ORMSKIRK",
            "Ward 2",
            8,
            [
                _s("accept", 7.9, responsible_person="R. Evans", pathway="P1"),
                _s("not_meeting_ctr", 4),
                _s(
                    "open_delay",
                    3,
                    delay_code="interface-p1-arrangements",
                    support_area="p1_home_care",
                ),
                _s("discharge", 1, discharge_pathway="P1", destination_code="19"),
            ],
        ),
        _patient(
            "9990000093",
            "AINTREE",
            "Ward 12",
            7,
            [
                _s("accept", 6.9, responsible_person="P. Nwosu", pathway="P0"),
                _s("not_meeting_ctr", 2),
                _s("discharge", 2, discharge_pathway="P0", destination_code="19"),
                _s("start_follow_up", 1),
            ],
        ),
    ]
