"""A FHIR client over real HTTP, against the service in a fresh process (as deployed)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from tests.discharge.helpers import NHS, TEAM, facts
from tests.fhir.helpers import FHIR_JSON, NHS_SYSTEM, drd_of, parsed, spell
from tests.helpers import Api
from tests.ic.helpers import fresh_site
from tests.servers import NOTHING_IN_THE_BACKGROUND, running_service


def test_an_encounter_by_nhs_number_over_http(
    db_url: str, client: TestClient, make_user, tmp_path: Path
) -> None:
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    case_id = spell(api, NHS[0], site=fresh_site(), nctr_days_ago=2)
    log = tmp_path / "service.log"
    with running_service(db_url, env=NOTHING_IN_THE_BACKGROUND, log=log) as server:
        r = httpx.get(
            f"{server.url}/fhir/R4/Encounter",
            params={"patient.identifier": f"{NHS_SYSTEM}|{NHS[0]}"},
            headers={**team.headers, "accept": FHIR_JSON},
            timeout=30,
        )
        missing = httpx.get(f"{server.url}/fhir/R4/Encounter/0", headers=team.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    bundle = parsed(r.json())
    assert (bundle.type, bundle.total) == ("searchset", 1)
    [entry] = bundle.entry
    assert entry.fullUrl == f"{server.url}/fhir/R4/Encounter/{case_id}"
    encounter = entry.resource
    assert encounter.__resource_type__ == "Encounter"
    assert encounter.subject.identifier.value == NHS[0]
    drd = drd_of(r.json()["entry"][0]["resource"])
    assert drd == facts(api, case_id)["discharge_ready_date"]
    assert (missing.status_code, missing.headers["content-type"]) == (404, FHIR_JSON)
    assert NHS[0] not in log.read_text()  # the access log names paths, never queries
