"""The pathway catalogue over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_list_detail_and_diagram(client: TestClient, make_user) -> None:
    headers = make_user("analyst").headers
    listed = client.get("/api/v1/pathways", headers=headers)
    assert listed.status_code == 200
    sample = next(p for p in listed.json() if p["key"] == "sample-referral")
    assert sample["version"] == 1
    assert sample["versions"] == [1]
    assert len(sample["sha256"]) == 64

    detail = client.get("/api/v1/pathways/sample-referral", headers=headers).json()
    definition = detail["definition"]
    assert definition["initial"] == "received"
    accept = next(t for t in definition["transitions"] if t["trigger"] == "accept")
    assert accept["roles"] == ["ic_coordinator"]
    assert accept["guards"] == ["urgent_needs_named_clinician"]
    withdraw = next(t for t in definition["transitions"] if t["trigger"] == "withdraw")
    assert withdraw["source"] == ["received", "triaged", "active", "on_hold"]
    assert [c["name"] for c in definition["clocks"]] == ["response", "completion"]

    diagram = client.get("/api/v1/pathways/sample-referral/diagram", headers=headers)
    assert diagram.status_code == 200
    assert diagram.headers["content-type"].startswith("text/plain")
    assert diagram.text.startswith("stateDiagram-v2\n")
    assert "    triaged --> active: accept\n" in diagram.text
    assert "    completed --> [*]\n" in diagram.text


def test_unknown_pathway_or_version_is_404(client: TestClient, make_user) -> None:
    headers = make_user("analyst").headers
    for path in (
        "/api/v1/pathways/nope",
        "/api/v1/pathways/nope/diagram",
        "/api/v1/pathways/sample-referral?version=9",
    ):
        r = client.get(path, headers=headers)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"
    assert client.get("/api/v1/pathways").status_code == 401


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/cases/{case_id}/events" in spec["paths"]
    responses = spec["paths"]["/api/v1/cases/{case_id}/events"]["post"]["responses"]
    assert {"200", "409", "412", "428"} <= set(responses)
    assert client.get("/docs").status_code == 200
