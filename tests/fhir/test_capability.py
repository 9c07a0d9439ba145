"""The CapabilityStatement says exactly what the routes do; the extension's definition is at its
canonical path with its Commissioning Data Set mapping; every state has a FHIR status."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from app.engine.catalogue import PathwayCatalogue
from app.fhir import statuses
from app.fhir.capability import RESULT_PARAMETERS, SEARCHES
from tests.discharge.helpers import NHS, TEAM
from tests.fhir.helpers import DRD_URL, Fhir, drd_of, spell
from tests.helpers import Api
from tests.ic.helpers import fresh_site

SEARCHED = ("Encounter", "EpisodeOfCare", "Task", "Flag")


def _route_parameters(client: TestClient, path: str) -> set[str]:
    operation = client.get("/openapi.json").json()["paths"][path]["get"]
    return {p["name"] for p in operation["parameters"] if p["in"] == "query"}


def test_the_capability_statement_lists_exactly_what_is_served(
    client: TestClient, make_user
) -> None:
    statement = Fhir(client, make_user("pathway_author").headers).read("metadata")
    assert (statement["fhirVersion"], statement["kind"], statement["status"]) == (
        "4.0.1",
        "instance",
        "active",
    )
    assert "application/fhir+json" in statement["format"]
    [rest] = statement["rest"]
    assert rest["mode"] == "server"
    assert "strict" in rest["documentation"]
    served = {r["type"]: r for r in rest["resource"]}
    assert set(served) == {*SEARCHED, "StructureDefinition"}
    paths = set(client.get("/openapi.json").json()["paths"])
    for resource in SEARCHED:
        entry = served[resource]
        assert entry["profile"] == f"https://fhir.hl7.org.uk/StructureDefinition/UKCore-{resource}"
        assert [i["code"] for i in entry["interaction"]] == ["read", "search-type"]
        assert f"/fhir/R4/{resource}" in paths
        declared = {
            ("patient.identifier" if p["name"] == "patient" else p["name"])
            for p in entry["searchParam"]
        }
        taken = _route_parameters(client, f"/fhir/R4/{resource}") - set(RESULT_PARAMETERS)
        assert declared == taken, resource
        assert {p.query_name() for p in SEARCHES[resource]} == taken
    assert [i["code"] for i in served["StructureDefinition"]["interaction"]] == ["read"]
    # Nothing under /fhir that the statement does not describe.
    fhir_paths = {p for p in paths if p.startswith("/fhir/")}
    described = {f"/fhir/R4/{r}" for r in SEARCHED} | {"/fhir/R4/metadata"}
    reads = {p for p in fhir_paths if p.count("/") == 4}
    assert fhir_paths - reads == described
    assert {p.split("/")[3] for p in reads} == {*SEARCHED, "StructureDefinition"}


def test_the_extension_is_defined_at_its_url_with_the_cds_mapping(
    client: TestClient, make_user
) -> None:
    team = make_user(*TEAM)
    fhir = Fhir(client, team.headers)
    case_id = spell(Api(client, team.headers), NHS[0], site=fresh_site())
    encounter = fhir.read(f"Encounter/{case_id}")
    assert drd_of(encounter) is not None
    [used] = [e["url"] for e in encounter["extension"]]
    definition = fhir.read(urlsplit(used).path)  # published at its canonical path
    assert definition["url"] == used == DRD_URL
    assert (definition["type"], definition["kind"], definition["derivation"]) == (
        "Extension",
        "complex-type",
        "constraint",
    )
    assert definition["context"] == [{"type": "element", "expression": "Encounter"}]
    [mapping] = definition["mapping"]
    assert mapping["identity"] == "cds"
    elements = {e["id"]: e for e in definition["differential"]["element"]}
    assert elements["Extension"]["mapping"] == [
        {"identity": "cds", "map": "DISCHARGE READY DATE (HOSPITAL PROVIDER SPELL)"}
    ]
    assert elements["Extension.value[x]"]["type"] == [{"code": "date"}]
    assert elements["Extension.url"]["fixedUri"] == DRD_URL


def test_every_state_of_every_pathway_has_a_status(catalogue: PathwayCatalogue) -> None:
    def states(key: str) -> set[str]:
        return {
            s.name
            for v in catalogue.versions(key)
            if (p := catalogue.get(key, v))
            for s in p.spec.states
        }

    assert set(statuses.ENCOUNTER) == states(statuses.DISCHARGE)
    for workflow in statuses.EPISODE_WORKFLOWS:
        assert set(statuses.EPISODE[workflow]) == states(workflow), workflow
    assert set(statuses.ENCOUNTER.values()) <= set(statuses.ENCOUNTER_STATUSES)
    for table in statuses.EPISODE.values():
        assert set(table.values()) <= set(statuses.EPISODE_STATUSES)
