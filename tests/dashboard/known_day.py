"""A hand-built reporting day: Sunday 29 March 2026, when London's clocks go forward.

Times are UTC. London is UTC until 01:00 UTC on the 29th and UTC+1 after, so that day has 23
hours: it runs from 2026-03-29T00:00Z to 2026-03-29T23:00Z.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import Api

DAY = "2026-03-29"
DAY_BEFORE = "2026-03-28"
WHY = "entered from the ward's paper record"
NHS = {
    "A": "9990000018",
    "B": "9990000026",
    "C": "9990000034",
    "D": "9990000042",
    "E": "9990000050",
    "F": "9990000069",
    "H": "9990000077",
}


def build(client: TestClient, headers: dict[str, str]) -> tuple[str, dict[str, int]]:
    api = Api(client, headers)
    site = f"KD-{uuid.uuid4().hex[:6].upper()}"
    ids: dict[str, int] = {}

    def admit(name: str, admitted: str, **data: Any) -> int:
        body = {"hospital_system": "LUHFT", "ward": "Ward 1", "admitted_at": admitted, **data}
        r = api.create(
            "discharge",
            site=site,
            patient_ref=NHS[name],
            data=body,
            occurred_at=admitted,
            reason=WHY,
        )
        ids[name] = int(r.json()["id"])
        return ids[name]

    def fire(name: str, event: str, at: str, **data: Any) -> None:
        api.fire(ids[name], event, occurred_at=at, reason=WHY, data=data)

    admit("A", "2026-03-20T10:00:00Z")
    fire("A", "not_meeting_ctr", "2026-03-25T12:00:00Z")
    fire(
        "A",
        "open_delay",
        "2026-03-26T12:00:00Z",
        delay_code="capacity-p1-services",
        support_area="reablement_start",
    )
    fire("A", "discharge", "2026-03-29T14:00:00Z", discharge_pathway="P1", destination_code="19")

    admit("B", "2026-03-28T08:00:00Z")
    fire("B", "not_meeting_ctr", "2026-03-29T00:30:00Z")
    fire("B", "discharge", "2026-03-29T17:00:00Z", discharge_pathway="P0", destination_code="19")

    admit("C", "2026-03-01T09:00:00Z")
    fire("C", "not_meeting_ctr", "2026-03-06T10:00:00Z")
    fire("C", "meets_ctr_again", "2026-03-10T09:00:00Z")
    fire("C", "not_meeting_ctr", "2026-03-14T11:00:00Z")
    fire(
        "C",
        "open_delay",
        "2026-03-15T10:00:00Z",
        delay_code="hospital-medical-review",
        support_area="other",
    )
    fire(
        "C",
        "open_delay",
        "2026-03-18T10:00:00Z",
        delay_code="capacity-residential-nursing-home",
        support_area="p3_placement",
    )
    fire("C", "raise_escalation", "2026-03-20T10:00:00Z", escalation_reason="over 14 days")

    admit("D", "2026-03-27T23:30:00Z")
    fire("D", "not_meeting_ctr", "2026-03-29T23:00:00Z")  # midnight London: the next day

    admit("E", "2026-03-10T08:00:00Z")
    fire("E", "not_meeting_ctr", "2026-03-28T22:30:00Z")
    fire("E", "died", "2026-03-29T09:00:00Z")

    admit("F", "2026-03-25T08:00:00Z")
    fire("F", "not_meeting_ctr", "2026-03-29T01:30:00Z")  # 02:30 BST, just after the change

    admit("H", "2026-03-26T08:00:00Z", care_home_resident=True)
    fire("H", "not_meeting_ctr", "2026-03-28T09:00:00Z")
    fire("H", "discharge", "2026-03-29T10:00:00Z", discharge_pathway="P3b", destination_code="85")
    return site, ids
