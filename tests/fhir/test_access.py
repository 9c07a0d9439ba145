"""Who reads what over FHIR: organisation scope, the `fhir.read` grant and its levels, and the
access audit, as the API applies them."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from app.config import PROJECT_ROOT, Settings
from tests.discharge.helpers import NHS, TEAM, fire
from tests.fhir.helpers import Fhir, ids, spell, waiting_episode
from tests.hardening.conftest import serve
from tests.helpers import Api
from tests.ic.helpers import IC_TEAM, fresh_site


def _share(client: TestClient, headers: dict[str, str], case_id: int, org: str) -> None:
    r = client.post(
        f"/api/v1/cases/{case_id}/shares",
        json={"organisation": org, "reason": "works the case"},
        headers=headers,
    )
    assert r.status_code == 201, r.text


def test_another_organisations_cases_are_not_found_until_shared(
    client: TestClient, make_user
) -> None:
    team, hub = make_user(*TEAM), make_user(*TEAM)
    api = Api(client, team.headers)
    case_id = spell(api, NHS[0], site=fresh_site())
    fire(api, case_id, "open_delay", data={"delay_code": "capacity-p1-services"})
    fire(api, case_id, "raise_escalation", data={"escalation_reason": "No P1 slot"})
    theirs = Fhir(client, hub.headers)
    reads = (f"Encounter/{case_id}", f"Task/{case_id}-delay", f"Flag/{case_id}-escalation")
    for path in reads:
        theirs.get(path, expect=404)
    for resource in ("Encounter", "Task", "Flag"):
        assert theirs.search(resource)["total"] == 0
        assert theirs.search(resource, **{"patient.identifier": NHS[0]})["total"] == 0

    _share(client, team.headers, case_id, hub.org)
    for path in reads:
        theirs.read(path)
    assert ids(theirs.search("Encounter")) == [str(case_id)]


def test_a_role_without_the_read_is_refused(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    case_id = spell(Api(client, team.headers), NHS[1], site=fresh_site())
    for role in ("pathway_author", "ig_officer", "admin", "provider"):
        outsider = Fhir(client, make_user(role, org=team.org).headers)
        for path in (f"Encounter/{case_id}", "Encounter", "Task", "Flag", "EpisodeOfCare"):
            outcome = outsider.get(path, expect=403).json()
            assert outcome["issue"][0]["code"] == "forbidden"
        # The server's own description is for every signed-in user.
        assert outsider.read("metadata")["resourceType"] == "CapabilityStatement"


def test_an_analyst_gets_no_nhs_number_and_may_not_search_by_one(
    client: TestClient, make_user
) -> None:
    team = make_user(*TEAM, *IC_TEAM)
    api = Api(client, team.headers)
    case_id = spell(api, NHS[2], site=fresh_site())
    fire(api, case_id, "raise_escalation", data={"escalation_reason": "No bed"})
    fire(api, case_id, "open_delay", data={"delay_code": "capacity-p1-services"})
    episode = waiting_episode(client, team.headers, NHS[3])
    analyst = Fhir(client, make_user("analyst", org=team.org).headers)
    masked = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": "masked",
            }
        ]
    }
    answers = [
        analyst.get(f"Encounter/{case_id}"),
        analyst.get(f"EpisodeOfCare/{episode}"),
        analyst.get(f"Task/{case_id}-delay"),
        analyst.get(f"Flag/{case_id}-escalation"),
        *(analyst.get(r) for r in ("Encounter", "EpisodeOfCare", "Task", "Flag")),
    ]
    for r in answers:
        assert NHS[2] not in r.text, r.text
        assert NHS[3] not in r.text, r.text
    assert analyst.read(f"Encounter/{case_id}")["subject"] == masked
    assert analyst.read(f"EpisodeOfCare/{episode}")["patient"] == masked
    assert analyst.read(f"Task/{case_id}-delay")["for"] == masked
    assert analyst.read(f"Flag/{case_id}-escalation")["subject"] == masked
    refused = analyst.get("Encounter", expect=403, **{"patient.identifier": NHS[2]}).json()
    assert "withholds patient identifiers" in refused["issue"][0]["diagnostics"]
    # The team reads the same resources with the NHS number.
    full = Fhir(client, team.headers).read(f"Encounter/{case_id}")
    assert full["subject"]["identifier"]["value"] == NHS[2]


def _provider_policy(tmp_path: Path) -> Path:
    """The project's pathways with `fhir.read` granted to providers for referred cases only."""
    pathways = tmp_path / "pathways"
    shutil.copytree(PROJECT_ROOT / "pathways", pathways)
    path = pathways / "config" / "access.yaml"
    policy = yaml.safe_load(path.read_text())
    policy["reads"]["fhir.read"] = {
        "full": policy["reads"]["fhir.read"]["full"],
        "shared_only": ["provider"],
    }
    path.write_text(yaml.safe_dump(policy))
    return pathways


def test_a_referred_only_grant_reads_only_what_was_shared_with_it(
    settings: Settings, make_user, tmp_path: Path
) -> None:
    with serve(settings, pathways_dir=_provider_policy(tmp_path)) as client:
        team = make_user(*TEAM)
        api = Api(client, team.headers)
        referred = spell(api, NHS[4], site=fresh_site())
        kept = spell(api, NHS[5], site=fresh_site())
        provider = make_user("provider")
        _share(client, team.headers, referred, provider.org)
        theirs = Fhir(client, provider.headers)
        assert theirs.read(f"Encounter/{referred}")["subject"]["identifier"]["value"] == NHS[4]
        theirs.get(f"Encounter/{kept}", expect=404)
        assert ids(theirs.search("Encounter")) == [str(referred)]
        # A provider of the owning organisation was referred nothing.
        inside = Fhir(client, make_user("provider", org=team.org).headers)
        inside.get(f"Encounter/{referred}", expect=404)
        assert inside.search("Encounter")["total"] == 0


def test_every_fhir_read_is_in_the_access_audit(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    officer = make_user("ig_officer", org=team.org)
    api, fhir = Api(client, team.headers), Fhir(client, team.headers)
    first = spell(api, NHS[6], site=fresh_site())
    second = spell(api, NHS[7], site=fresh_site())
    fhir.read(f"Encounter/{first}")
    fhir.search("Encounter", _count=1)
    fhir.search("Encounter", **{"patient.identifier": NHS[9]})  # no match: recorded too
    r = client.get("/api/v1/audit", params={"user": team.actor.username}, headers=officer.headers)
    assert r.status_code == 200, r.text
    records = [x for x in r.json()["items"] if x["endpoint"].startswith("/fhir/")]
    assert [(x["endpoint"], x["case_ids"]) for x in records] == [
        ("/fhir/R4/Encounter", []),
        ("/fhir/R4/Encounter", [first]),
        ("/fhir/R4/Encounter/{encounter_id}", [first]),
    ]
    assert records[0]["query"] == f"patient.identifier={NHS[9]}"
    assert second not in records[1]["case_ids"]
