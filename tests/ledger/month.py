"""A hand-built November 2026 for the delay ledger (London is on GMT: local dates are UTC dates).

Tariffs (TEST_CONFIG): £300 a bed day from 1 Jan 2026, £400 from 15 Nov 2026. Responsible:
Hospital process -> ACUTE; Capacity on P1 -> LA; Capacity on P2 -> COMM; anything else
(no reason recorded) -> UNATTRIBUTED.

- A: 1-10 Nov, P1, Ward 9; not meeting CtR from 3 Nov; capacity-p1-services from 3 Nov and
  hospital-medical-review from 5 Nov 10:00 to 7 Nov 12:00. Delayed 3-9 Nov: 7 days.
- B: 10-18 Nov, P2, to Ward 4 on 16 Nov at 12:00; not meeting from 12 Nov;
  capacity-bed-based-services-pathway-2 from 14 Nov. Delayed 12-17 Nov: 6 (12, 13 no reason).
- C: 20 Oct-3 Nov, discharged on P0 (no planned pathway); not meeting from 28 Oct;
  hospital-medical-review from 28 Oct. Delayed 28 Oct-2 Nov: 6 (2 in November).
- D: from 25 Nov, P1, still in; not meeting from 26 Nov; capacity-p1-services from 26 Nov.
  Delayed 26-30 Nov: 5.
- E: 1-9 Nov, discharged by the PAS; not meeting 4 Nov, meets again 6 Nov, no reasons.
  Delayed 4-8 Nov: 5 (the final-period rule, as the return counts it).

A's 5, 6 and 7 Nov are shared half and half (both reasons open that day). Days basis (the
days in November): 7 + 6 + 2 + 5 + 5 = 25. Discharges basis (the DRD return's): A 7, B 6,
C 6, E 5 = 24.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from app.ledger.config import LedgerConfig
from tests.helpers import Api

WHY = "entered from the ward's paper record"
NHS = {"A": "9990000018", "B": "9990000026", "C": "9990000034", "D": "9990000042"}
NHS |= {"E": "9990000050", "F": "9990000069", "G": "9990000077", "H": "9990000085"}

TEST_CONFIG = LedgerConfig.model_validate(
    {
        "attribution": "equal_share",
        "tariffs": [
            {
                "version": "t-2026",
                "effective_from": "2026-01-01",
                "cost_per_bed_day": "300.00",
                "status": "LOCAL",
                "source": "test figure",
            },
            {
                "version": "t-2026-11",
                "effective_from": "2026-11-15",
                "cost_per_bed_day": "400.00",
                "status": "LOCAL",
                "source": "test figure",
            },
        ],
        "organisations": [
            {"code": "ACUTE", "label": "Acute trust"},
            {"code": "LA", "label": "Local authority"},
            {"code": "COMM", "label": "Community provider"},
            {"code": "UNATTRIBUTED", "label": "unattributed"},
        ],
        "fallback": "UNATTRIBUTED",
        "responsible": [
            {"family": "Hospital process", "organisation": "ACUTE"},
            {"family": "Capacity", "pathway": "P1", "organisation": "LA"},
            {"family": "Capacity", "pathway": "P2", "organisation": "COMM"},
        ],
    }
)


class Ward:
    """Writes patients of one site over the API, as the ward and the PAS would."""

    def __init__(
        self, client: TestClient, headers: dict[str, str], pas_headers: dict[str, str] | None
    ) -> None:
        self.api = Api(client, headers)
        self.pas = Api(client, pas_headers) if pas_headers else None
        self.site = f"LG-{uuid.uuid4().hex[:6].upper()}"
        self.ids: dict[str, int] = {}

    def admit(self, name: str, at: str, ward: str = "Ward 9") -> None:
        body = {"hospital_system": "LUHFT", "ward": ward, "admitted_at": at}
        r = self.api.create(
            "discharge",
            site=self.site,
            patient_ref=NHS[name],
            data=body,
            occurred_at=at,
            reason=WHY,
        )
        self.ids[name] = int(r.json()["id"])

    def fire(self, name: str, event: str, at: str, by_pas: bool = False, **data: Any) -> None:
        etag = self.api.get(self.ids[name]).headers["ETag"]
        writer = self.pas if by_pas and self.pas else self.api
        writer.fire(self.ids[name], event, etag=etag, occurred_at=at, reason=WHY, data=data)

    def delay(self, name: str, code: str, at: str) -> None:
        self.fire(name, "open_delay", at, delay_code=code, support_area="other")

    def discharge(self, name: str, at: str, pathway: str) -> None:
        self.fire(name, "discharge", at, discharge_pathway=pathway, destination_code="19")


def build_month(ward: Ward) -> None:
    w = ward
    w.admit("A", "2026-11-01T09:00:00Z")
    w.fire("A", "set_pathway", "2026-11-01T10:00:00Z", pathway="P1")
    w.fire("A", "not_meeting_ctr", "2026-11-03T10:00:00Z")
    w.delay("A", "capacity-p1-services", "2026-11-03T11:00:00Z")
    w.delay("A", "hospital-medical-review", "2026-11-05T10:00:00Z")
    w.fire("A", "end_delay", "2026-11-07T12:00:00Z", delay_code="hospital-medical-review")
    w.discharge("A", "2026-11-10T14:00:00Z", "P1")

    w.admit("B", "2026-11-10T08:00:00Z")
    w.fire("B", "set_pathway", "2026-11-11T09:00:00Z", pathway="P2")
    w.fire("B", "not_meeting_ctr", "2026-11-12T09:00:00Z")
    w.delay("B", "capacity-bed-based-services-pathway-2", "2026-11-14T10:00:00Z")
    w.fire("B", "ward_transfer", "2026-11-16T12:00:00Z", ward="Ward 4")
    w.discharge("B", "2026-11-18T11:00:00Z", "P2")

    w.admit("C", "2026-10-20T09:00:00Z")
    w.fire("C", "not_meeting_ctr", "2026-10-28T10:00:00Z")
    w.delay("C", "hospital-medical-review", "2026-10-28T11:00:00Z")
    w.discharge("C", "2026-11-03T12:00:00Z", "P0")

    w.admit("D", "2026-11-25T09:00:00Z")
    w.fire("D", "set_pathway", "2026-11-25T10:00:00Z", pathway="P1")
    w.fire("D", "not_meeting_ctr", "2026-11-26T10:00:00Z")
    w.delay("D", "capacity-p1-services", "2026-11-26T12:00:00Z")

    w.admit("E", "2026-11-01T09:00:00Z")
    w.fire("E", "not_meeting_ctr", "2026-11-04T10:00:00Z")
    w.fire("E", "meets_ctr_again", "2026-11-06T10:00:00Z")
    w.fire("E", "discharge", "2026-11-09T11:00:00Z", by_pas=True, destination_code="19")


def get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    r = client.get(f"/api/v1/ledger{path}", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r
