"""The versioned code lists over HTTP (issue 16, item 14): GET /codelists, /codelists/{name}.

Run on both databases (the `client` fixture is parametrised by backend); the lists themselves
come from pathways/codelists, so the answers are the same on each.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.actor import INTERNAL_ROLES, KNOWN_ROLES


def _get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    r = client.get(path, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_index_lists_every_list_with_its_versions(client: TestClient, make_user) -> None:
    headers = make_user("ward_clinician").headers
    lists = {c["name"]: c for c in _get(client, headers, "/api/v1/codelists")}
    assert {
        "criteria-to-reside",
        "delay-reasons-acute",
        "delay-reasons-community",
        "sitrep-destinations-acute",
        "sitrep-destinations-community",
        "ukcore-discharge-destination",
    } <= set(lists)
    acute = lists["delay-reasons-acute"]
    assert acute["current_version"] == "2024-04-30"
    assert [
        (v["version"], v["valid_from"], v["valid_to"], v["published"]) for v in acute["versions"]
    ] == [
        ("2022-05-27", "2022-05-27", "2024-05-27", None),
        ("2024-04-30", "2024-05-27", None, "2024-04-30"),
    ]
    assert [v["verbatim"] for v in acute["versions"]] == ["all", "partly"]
    assert [v["status"] for v in acute["versions"]] == ["verified", "provisional"]
    assert "england.nhs.uk" in acute["source"]
    # The 2024 Annex D is listed as a placeholder with no codes; the 2020 text is in force.
    ctr = lists["criteria-to-reside"]
    assert ctr["current_version"] == "2020"
    placeholder = next(v for v in ctr["versions"] if v["version"] == "2024")
    assert (placeholder["status"], placeholder["code_count"]) == ("placeholder", 0)
    community = lists["sitrep-destinations-community"]
    assert community["current_version"] is None  # the community sitrep ended on 29 July 2024
    assert [v["code_count"] for v in community["versions"]] == [11, 21, 14]


@pytest.mark.parametrize(
    ("on", "version"),
    [("2024-05-26", "2022-05-27"), ("2024-05-27", "2024-04-30")],
)
def test_a_list_on_a_day_is_the_version_in_force_then(
    client: TestClient, make_user, on: str, version: str
) -> None:
    """Row 7: "definitions changed from 27 May 2024" (published 30 April 2024)."""
    headers = make_user("analyst").headers
    body = _get(client, headers, "/api/v1/codelists/delay-reasons-acute", on=on)
    assert (body["name"], body["version"], body["on"]) == ("delay-reasons-acute", version, on)
    codes = {c["code"]: c for c in body["codes"]}
    assert ("hospital-therapy-review" in codes) is (version == "2024-04-30")
    if version == "2024-04-30":
        exact = codes["capacity-bed-based-services-pathway-2"]
        assert exact["label"] == (
            "Capacity – Bed-based rehabilitation, reablement or recovery services not yet "
            "available (Pathway 2)"
        )
        assert exact["verbatim"] is True
        assert exact["family"] == "Capacity"
        topic = codes["funding-fast-track-chc"]
        assert (topic["verbatim"], topic["family"]) == (False, "Funding (local)")
        assert body["status"] == "provisional"
        assert body["published"] == "2024-04-30"


def test_ukcore_list_carries_its_system_and_exact_displays(client: TestClient, make_user) -> None:
    headers = make_user("discharge_team").headers
    body = _get(client, headers, "/api/v1/codelists/ukcore-discharge-destination")
    assert body["system"] == "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
    assert body["valid_from"] == "2022-01-07"
    labels = {c["code"]: c["label"] for c in body["codes"]}
    # PUBLISHED-RULES.md §2.8: "79 Not applicable - Patient died or stillbirth".
    assert labels["79"] == "Not applicable - Patient died or stillbirth"
    assert body["verbatim"] == "all"


def test_unknown_list_or_no_list_that_day_is_a_404_problem(client: TestClient, make_user) -> None:
    headers = make_user("provider").headers
    for path, params in (
        ("/api/v1/codelists/no-such-list", {}),
        ("/api/v1/codelists/delay-reasons-acute", {"on": "2020-01-01"}),
        ("/api/v1/codelists/NOT%20A%20NAME", {}),
    ):
        r = client.get(path, headers=headers, params=params)
        assert r.status_code == 404, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "not_found"


@pytest.mark.parametrize("bad", ["2024-13-01", "yesterday", "2024-02-30", "0"])
def test_a_bad_date_is_a_422_problem(client: TestClient, make_user, bad: str) -> None:
    headers = make_user("analyst").headers
    r = client.get("/api/v1/codelists/delay-reasons-acute", headers=headers, params={"on": bad})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_every_signed_in_person_may_read_them_and_nobody_else(
    client: TestClient, make_user
) -> None:
    assert client.get("/api/v1/codelists").status_code == 401
    assert client.get("/api/v1/codelists/criteria-to-reside").status_code == 401
    for role in sorted(KNOWN_ROLES - INTERNAL_ROLES):
        headers = make_user(role).headers
        assert client.get("/api/v1/codelists", headers=headers).status_code == 200, role
        r = client.get("/api/v1/codelists/criteria-to-reside", headers=headers)
        assert r.status_code == 200, role
