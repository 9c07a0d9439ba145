"""Reading HomeFirst as a FHIR client would: every answer is checked to be FHIR JSON that
`fhir.resources` parses and writes back unchanged."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from httpx import Response

from tests.chc.helpers import ChcApi
from tests.discharge.helpers import fire, open_case
from tests.helpers import Api
from tests.ic.helpers import Ic, fresh_site

FHIR_JSON = "application/fhir+json"
BASE = "/fhir/R4"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
DRD_URL = "https://homefirst.example/fhir/R4/StructureDefinition/discharge-ready-date"


def parsed(document: dict[str, Any]) -> Any:
    """`document` as its fhir.resources model, after checking the model writes it back as it
    came (the round trip: parse -> model -> JSON equal)."""
    model = get_fhir_model_class(document["resourceType"]).model_validate(document)
    assert json.loads(model.model_dump_json()) == document
    return model


class Fhir:
    """One user's FHIR client."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def get(self, path: str, expect: int = 200, **params: Any) -> Response:
        url = path if path.startswith(BASE) else f"{BASE}/{path}"
        r = self.client.get(url, params=params or None, headers=self.headers)
        assert r.status_code == expect, r.text
        assert r.headers["content-type"] == FHIR_JSON, r.headers
        parsed(r.json())  # every answer, errors too, is a valid FHIR resource
        return r

    def read(self, path: str, **params: Any) -> dict[str, Any]:
        return dict(self.get(path, **params).json())

    def search(self, resource: str, expect: int = 200, **params: Any) -> dict[str, Any]:
        return dict(self.get(resource, expect=expect, **params).json())

    def all_pages(self, resource: str, **params: Any) -> tuple[list[str], list[dict[str, Any]]]:
        """Follow `next` links from the first page: (every entry's id, every bundle)."""
        bundles = [self.search(resource, **params)]
        while (following := link(bundles[-1], "next")) is not None:
            bundles.append(dict(self.get(local(following)).json()))
            assert len(bundles) < 50, "paging does not end"
        ids = [e["resource"]["id"] for b in bundles for e in b.get("entry", [])]
        return ids, bundles


def link(bundle: dict[str, Any], relation: str) -> str | None:
    """The bundle's link of that relation (self, next, previous), if it has one."""
    found = [x["url"] for x in bundle["link"] if x["relation"] == relation]
    return found[0] if found else None


def local(url: str) -> str:
    """A link the server wrote, as the test client sends it (its path and query)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def drd_of(encounter: dict[str, Any]) -> str | None:
    found = [e["valueDate"] for e in encounter.get("extension", []) if e["url"] == DRD_URL]
    return found[0] if found else None


def nhs_of(reference: dict[str, Any]) -> str | None:
    identifier = reference.get("identifier") or {}
    return identifier.get("value") if identifier.get("system") == NHS_SYSTEM else None


# -- building cases ------------------------------------------------------------------------------
def spell(api: Api, nhs: str, *, site: str, nctr_days_ago: int | None = 3, **data: Any) -> int:
    """A discharge case (admitted 10 days ago), not meeting the criteria to reside since
    `nctr_days_ago` days when given."""
    case_id = int(open_case(api, nhs, site=site, **data)["id"])
    if nctr_days_ago is not None:
        fire(api, case_id, "not_meeting_ctr", days_ago=nctr_days_ago)
    return case_id


def discharged(api: Api, nhs: str, *, site: str, destination: str = "19") -> int:
    case_id = spell(api, nhs, site=site, nctr_days_ago=4)
    fire(
        api,
        case_id,
        "discharge",
        days_ago=1,
        data={"discharge_pathway": "P0", "destination_code": destination},
    )
    return case_id


def waiting_episode(client: TestClient, headers: dict[str, str], nhs: str) -> int:
    """An IC episode triaged and waiting for capacity."""
    ic = Ic(client, headers, fresh_site())
    case_id = int(ic.refer(nhs)["id"])
    ic.fire(case_id, "triage", priority="high", planned_model="reablement")
    ic.fire(case_id, "await_capacity")
    return case_id


def claimed_chc(client: TestClient, headers: dict[str, str], nhs: str) -> int:
    """A CHC case the caller (a CHC assessor) has claimed from the work queue."""
    api = ChcApi(client, headers)
    case_id = api.open_chc({}, patient_ref=nhs)
    assert api.post("/queues/chc/claim").json()["case_id"] == case_id
    return case_id
