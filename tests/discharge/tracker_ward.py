"""A ward for the tracker's tests: one organisation's patients in known positions, a case
another organisation shares with it and one it does not (built over the API)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS, TEAM, fire, open_case, today
from tests.helpers import Api


class Ward:
    """Patients of one organisation in known positions, plus a case another organisation
    shares with it and one it does not."""

    def __init__(self, client: TestClient, make_user: Any) -> None:
        self.team = make_user(*TEAM)
        self.org = self.team.org
        api = Api(client, self.team.headers)
        self.site_a = f"A-{uuid.uuid4().hex[:6].upper()}"
        self.site_b = f"B-{uuid.uuid4().hex[:6].upper()}"
        self.edd = (today() + timedelta(days=2)).isoformat()
        ids: dict[str, int] = {}

        def admit(name: str, nhs: str, site: str, *, accept: bool = True, **data: Any) -> int:
            ids[name] = int(open_case(api, nhs, site=site, admitted_days_ago=20, **data)["id"])
            if accept:
                fire(api, ids[name], "accept", days_ago=19)
            return ids[name]

        # Ada: not meeting 6 days, one delay, escalated, P1, a named person and an expected date.
        admit(
            "ada",
            NHS[0],
            self.site_a,
            ward="Ward 7",
            responsible_person="Nurse Ada",
            pathway="P1",
            expected_discharge_date=self.edd,
        )
        fire(api, ids["ada"], "not_meeting_ctr", days_ago=6)
        fire(api, ids["ada"], "open_delay", days_ago=5, data={"delay_code": "capacity-p1-services"})
        fire(api, ids["ada"], "raise_escalation", data={"escalation_reason": "6 days, no package"})
        # Ben: not meeting 2 days, no delay, no pathway, ward 9.
        admit("ben", NHS[1], self.site_a, ward="Ward 9", responsible_person="Bea Jones")
        fire(api, ids["ben"], "not_meeting_ctr", days_ago=2)
        # Cy: not meeting 15 days, two delays (the second marked primary), P3, other site.
        admit("cy", NHS[2], self.site_b, pathway="P3")
        fire(api, ids["cy"], "not_meeting_ctr", days_ago=15)
        fire(
            api,
            ids["cy"],
            "open_delay",
            days_ago=14,
            data={"delay_code": "hospital-medical-review"},
        )
        fire(
            api,
            ids["cy"],
            "open_delay",
            days_ago=10,
            data={"delay_code": "capacity-residential-nursing-home", "delay_primary": True},
        )
        # Di: was not meeting, meets the criteria again: still an inpatient, no DRD.
        admit(
            "di",
            NHS[3],
            self.site_b,
            ward="Ward 9",
            pathway="P0",
            expected_discharge_date=(today() + timedelta(days=5)).isoformat(),
        )
        fire(api, ids["di"], "not_meeting_ctr", days_ago=8)
        fire(api, ids["di"], "meets_ctr_again", days_ago=7)
        # Flo: just referred.
        admit("flo", NHS[4], self.site_a, accept=False, responsible_person="Carl Smith")
        # Ed: discharged; Gus: cancelled. Neither is an inpatient.
        admit("ed", NHS[5], self.site_a)
        fire(api, ids["ed"], "not_meeting_ctr", days_ago=3)
        fire(
            api, ids["ed"], "discharge", data={"discharge_pathway": "P0", "destination_code": "19"}
        )
        admit("gus", NHS[6], self.site_a)
        fire(api, ids["gus"], "cancel", data={"cancel_reason": "opened twice"})

        # Another organisation: one case shared with this one, one not.
        other = make_user(*TEAM)
        other_api = Api(client, other.headers)
        ids["shared"] = int(
            open_case(other_api, NHS[7], site=self.site_b, ward="Ward 2", admitted_days_ago=20)[
                "id"
            ]
        )
        fire(other_api, ids["shared"], "accept", days_ago=19)
        fire(other_api, ids["shared"], "not_meeting_ctr", days_ago=1)
        r = client.post(
            f"/api/v1/cases/{ids['shared']}/shares",
            json={"organisation": self.org, "reason": "the hub works this patient"},
            headers=other.headers,
        )
        assert r.status_code == 201, r.text
        ids["other"] = int(open_case(other_api, NHS[8], site=self.site_b)["id"])
        self.ids = ids
        self.nhs = {
            "ada": NHS[0],
            "ben": NHS[1],
            "cy": NHS[2],
            "di": NHS[3],
            "flo": NHS[4],
            "shared": NHS[7],
        }

    def name(self, case_id: int) -> str:
        return next(k for k, v in self.ids.items() if v == case_id)
