"""A hand-built ward month: November 2026, when London is on GMT (local dates are UTC dates).

Eight patients, written over the API as the ward and the hospital's PAS would write them (the
PAS's `interface` user records a discharge the team did not decide: a patient who was never,
or is no longer, recorded as not meeting the criteria to reside).

| patient | admitted | not meeting the criteria (CtR) | left | DRD | delay |
|---|---|---|---|---|---|
| P1 | 2 Nov | from 5 Nov | discharged 9 Nov (P1) | 5 Nov | 4 (4-6) |
| P2 | 10 Nov | from 12 Nov 09:00 | discharged 12 Nov 16:00 (P0) | 12 Nov | 0 |
| P3 | 15 Nov 08:00 | never | discharged 15 Nov 18:00 (PAS) | none | under one night |
| P4 | 3 Nov | never | discharged 6 Nov (PAS) | none | no DRD |
| P5 | 1 Nov | 4 Nov, meets again 6 Nov | discharged 13 Nov (PAS) | 4 Nov | 9 (7-13) |
| P6 | 20 Oct | from 25 Oct | discharged 20 Nov (P1) | 25 Oct | 26 (21+) |
| P7 | 25 Nov | from 26 Nov | still in hospital | 26 Nov | none yet |
| P8 | 17 Nov | from 18 Nov | died 19 Nov | 18 Nov | not a discharge |

Everyone is admitted to Ward 9. Two patients move to Ward 4: P6 on 10 Nov at 12:00, P7 on 27 Nov
at 15:00 (both transfers, like every entry here, recorded after the fact).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import add_user, create_token
from tests.helpers import Api

WHY = "entered from the ward's paper record"
NHS = {
    "P1": "9990000018",
    "P2": "9990000026",
    "P3": "9990000034",
    "P4": "9990000042",
    "P5": "9990000050",
    "P6": "9990000069",
    "P7": "9990000077",
    "P8": "9990000085",
}


def interface_headers(sessions: sessionmaker[Session], organisation: str) -> dict[str, str]:
    """The hospital PAS's feed user of the organisation (an internal role, made on the server)."""
    name = f"pas_{uuid.uuid4().hex[:8]}"
    with sessions() as session:
        add_user(
            session,
            username=name,
            display_name="PAS feed",
            organisation=organisation,
            roles=["interface"],
            allow_internal_roles=True,
        )
        token = create_token(session, username=name).token
    return {"Authorization": f"Bearer {token}"}


def build(
    client: TestClient, headers: dict[str, str], pas_headers: dict[str, str]
) -> tuple[str, dict[str, int]]:
    api, pas = Api(client, headers), Api(client, pas_headers)
    site = f"WM-{uuid.uuid4().hex[:6].upper()}"
    ids: dict[str, int] = {}

    def admit(name: str, admitted: str) -> None:
        body = {"hospital_system": "LUHFT", "ward": "Ward 9", "admitted_at": admitted}
        r = api.create(
            "discharge",
            site=site,
            patient_ref=NHS[name],
            data=body,
            occurred_at=admitted,
            reason=WHY,
        )
        ids[name] = int(r.json()["id"])

    def fire(name: str, event: str, at: str, by: Api | None = None, **data: Any) -> None:
        # The feed user reads no cases: the version it writes against is the team's read.
        etag = api.get(ids[name]).headers["ETag"]
        (by or api).fire(ids[name], event, etag=etag, occurred_at=at, reason=WHY, data=data)

    def discharge(name: str, at: str, pathway: str) -> None:
        fire(name, "discharge", at, discharge_pathway=pathway, destination_code="19")

    admit("P1", "2026-11-02T09:00:00Z")
    fire("P1", "not_meeting_ctr", "2026-11-05T10:00:00Z")
    fire(
        "P1",
        "open_delay",
        "2026-11-06T10:00:00Z",
        delay_code="hospital-medical-review",
        support_area="other",
    )
    discharge("P1", "2026-11-09T14:00:00Z", "P1")

    admit("P2", "2026-11-10T08:00:00Z")
    fire("P2", "not_meeting_ctr", "2026-11-12T09:00:00Z")
    discharge("P2", "2026-11-12T16:00:00Z", "P0")

    admit("P3", "2026-11-15T08:00:00Z")
    fire("P3", "discharge", "2026-11-15T18:00:00Z", by=pas, destination_code="19")

    admit("P4", "2026-11-03T10:00:00Z")
    fire("P4", "discharge", "2026-11-06T12:00:00Z", by=pas, destination_code="19")

    admit("P5", "2026-11-01T09:00:00Z")
    fire("P5", "not_meeting_ctr", "2026-11-04T10:00:00Z")
    fire("P5", "meets_ctr_again", "2026-11-06T10:00:00Z")
    fire("P5", "discharge", "2026-11-13T11:00:00Z", by=pas, destination_code="19")

    admit("P6", "2026-10-20T09:00:00Z")
    fire("P6", "set_pathway", "2026-10-21T09:00:00Z", pathway="P1")
    fire("P6", "not_meeting_ctr", "2026-10-25T10:00:00Z")
    fire(
        "P6",
        "open_delay",
        "2026-10-26T10:00:00Z",
        delay_code="capacity-p1-services",
        support_area="reablement_start",
    )
    fire("P6", "ward_transfer", "2026-11-10T12:00:00Z", ward="Ward 4", bed="B2")
    discharge("P6", "2026-11-20T12:00:00Z", "P1")

    admit("P7", "2026-11-25T09:00:00Z")
    fire("P7", "not_meeting_ctr", "2026-11-26T10:00:00Z")
    fire("P7", "ward_transfer", "2026-11-27T15:00:00Z", ward="Ward 4")

    admit("P8", "2026-11-17T09:00:00Z")
    fire("P8", "not_meeting_ctr", "2026-11-18T10:00:00Z")
    fire("P8", "died", "2026-11-19T03:00:00Z")
    return site, ids


ROLES = ("discharge_team", "ward_clinician", "huddle_chair", "manager")
Month = tuple[str, dict[str, int], Any]


def month_for(client: TestClient, make_user_module: Any, sessions: sessionmaker[Session]) -> Month:
    """The month built once for a module: (site, case ids by patient, the user who wrote it)."""
    user = make_user_module(*ROLES)
    site, ids = build(client, user.headers, interface_headers(sessions, user.org))
    return site, ids, user


def get(client: TestClient, caller: Any, path: str, **params: Any) -> Any:
    r = client.get(f"/api/v1{path}", params=params, headers=caller.headers)
    assert r.status_code == 200, r.text
    return r
