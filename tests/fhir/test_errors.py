"""Every refusal under /fhir is an OperationOutcome (application/fhir+json), whichever part of
the service refused: authentication, the grant, the router, the input checks, the search
parser, content negotiation, the body cap, the rate limit or an unexpected error."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.config import Settings
from app.fhir import service
from tests.discharge.helpers import NHS, TEAM
from tests.fhir.helpers import FHIR_JSON, Fhir, parsed, spell
from tests.hardening.conftest import serve
from tests.helpers import Api
from tests.ic.helpers import fresh_site


def _outcome(r: Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON, r.headers
    body = dict(r.json())
    parsed(body)
    assert body["resourceType"] == "OperationOutcome"
    assert [i["code"] for i in body["issue"]][:1] == [code], body
    assert all(i["severity"] == "error" for i in body["issue"])
    return body


def test_authentication(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer hf_not_a_token"}, {"Authorization": "Basic x"}):
        r = client.get("/fhir/R4/Encounter", headers=headers)
        _outcome(r, 401, "login")
        assert r.headers["www-authenticate"] == "Bearer"
    _outcome(client.get("/fhir/R4/metadata"), 401, "login")


def test_not_found(client: TestClient, make_user) -> None:
    team = make_user(*TEAM)
    case_id = spell(Api(client, team.headers), NHS[0], site=fresh_site())
    for path in (
        "/fhir/R4/Encounter/999999999",
        "/fhir/R4/Encounter/abc",
        "/fhir/R4/Encounter/99999999999999999999999",  # more than the database holds
        f"/fhir/R4/Encounter/{case_id}-x",
        f"/fhir/R4/Task/{case_id}",
        f"/fhir/R4/Task/{case_id}-elsewhere",
        f"/fhir/R4/Flag/{case_id}",
        "/fhir/R4/Patient/1",  # not served
        "/fhir/R4/StructureDefinition/another",
        "/fhir/R5/metadata",
    ):
        _outcome(client.get(path, headers=team.headers), 404, "not-found")
    # A browser asking for HTML still gets FHIR, not a page.
    browser = {**team.headers, "accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    _outcome(client.get("/fhir/R4/Encounter/999999999", headers=browser), 404, "not-found")


@pytest.mark.parametrize(
    ("params", "code", "says"),
    [
        ({"subject": "Patient/1"}, "not-supported", "subject"),
        ({"status:not": "finished"}, "not-supported", "status:not"),
        ({"patient.identifier": "https://example.org/mrn|123"}, "not-supported", "NHS number"),
        ({"patient.identifier": "9990000019"}, "invalid", "not a valid NHS number"),
        ({"patient.identifier": f"{NHS[0]},"}, "invalid", "empty value"),
        ({"status": "arrived"}, "invalid", "arrived"),
        ({"date": "ne2026-01-01"}, "not-supported", "prefix 'ne'"),
        ({"date": "sa2026-01-01"}, "not-supported", "prefix 'sa'"),
        ({"date": "yesterday"}, "invalid", "not a date"),
        ({"date": "2026-02-30"}, "invalid", "not a date on the calendar"),
        ({"date": "0001-01-01"}, "invalid", "not a date on the calendar"),
        ({"date": "ge2026-01-01T25:00"}, "invalid", "not a date on the calendar"),
        ({"_lastUpdated": "9999-12-31"}, "invalid", "not a date on the calendar"),
        ({"_count": "-1"}, "invalid", "_count"),
        ({"_count": "ten"}, "invalid", "_count"),
        ({"_cursor": "bm90LWEtY3Vyc29y"}, "invalid", "_cursor"),
        ({"_cursor": "YWZ0ZXI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"}, "invalid", "_cursor"),
        ({"status": "x\u0007y"}, "invalid", "status"),
    ],
)
def test_a_search_it_does_not_understand_is_a_400(
    client: TestClient, make_user, params: dict[str, str], code: str, says: str
) -> None:
    user = make_user(*TEAM)
    r = client.get("/fhir/R4/Encounter", params=params, headers=user.headers)
    assert says in _outcome(r, 400, code)["issue"][0]["diagnostics"]


def test_a_parameter_given_twice_is_a_400(client: TestClient, make_user) -> None:
    user = make_user(*TEAM)
    r = client.get("/fhir/R4/Encounter?status=finished&status=cancelled", headers=user.headers)
    assert "status" in _outcome(r, 400, "invalid")["issue"][0]["diagnostics"]
    # date, period and _lastUpdated repeat to make a range.
    r = client.get("/fhir/R4/Encounter?date=ge2025-01-01&date=le2025-02-01", headers=user.headers)
    assert r.status_code == 200, r.text


def test_only_json_is_served(client: TestClient, make_user) -> None:
    user = make_user(*TEAM)
    for fmt in ("xml", "application/fhir+xml", "ttl"):
        r = client.get("/fhir/R4/Encounter", params={"_format": fmt}, headers=user.headers)
        _outcome(r, 406, "not-supported")
    for accept in ("application/fhir+xml", "application/xml, text/turtle"):
        r = client.get("/fhir/R4/metadata", headers={**user.headers, "accept": accept})
        _outcome(r, 406, "not-supported")
    fhir = Fhir(client, user.headers)
    for fmt in ("json", "application/json", "application/fhir+json"):
        fhir.get("Encounter", _format=fmt)
    for accept in ("application/fhir+json", "application/json", "*/*", "application/fhir+json;q=1"):
        r = client.get("/fhir/R4/metadata", headers={**user.headers, "accept": accept})
        assert (r.status_code, r.headers["content-type"]) == (200, FHIR_JSON)


def test_methods_other_than_get_are_405_with_allow(client: TestClient, make_user) -> None:
    user = make_user(*TEAM)
    for method, path in (("POST", "/fhir/R4/Encounter"), ("DELETE", "/fhir/R4/Encounter/1")):
        r = client.request(method, path, headers=user.headers)
        _outcome(r, 405, "not-supported")
        assert r.headers["allow"] == "GET, OPTIONS"


def test_the_body_cap_and_rate_limit_answer_in_fhir_too(settings: Settings, make_user) -> None:
    user = make_user(*TEAM)
    with serve(settings, max_body_bytes=64, rate_limit_per_minute=12, rate_limit_burst=2) as c:
        r = c.request("GET", "/fhir/R4/Encounter", content=b"x" * 65, headers=user.headers)
        _outcome(r, 413, "too-long")
        assert c.get("/fhir/R4/metadata", headers=user.headers).status_code == 200
        r = c.get("/fhir/R4/metadata", headers=user.headers)
        _outcome(r, 429, "throttled")
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["x-content-type-options"] == "nosniff"  # the security headers kept


def test_an_unexpected_error_is_an_outcome_without_details(
    settings: Settings, make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(*TEAM)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("SELECT secret FROM somewhere")

    monkeypatch.setattr(service, "search", broken)
    with serve(settings) as c:
        r = c.get("/fhir/R4/Encounter", headers=user.headers)
    assert r.status_code == 500
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    parsed(body)
    assert body["issue"][0]["severity"] == "fatal"
    assert "secret" not in r.text


def test_the_api_keeps_its_problem_documents(client: TestClient) -> None:
    r = client.get("/api/v1/cases")
    assert (r.status_code, r.headers["content-type"]) == (401, "application/problem+json")
    r = client.get("/api/v1/no-such-thing")
    assert r.headers["content-type"] == "application/problem+json"
