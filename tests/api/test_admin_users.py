"""Administrators manage their own organisation's users over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_admin_adds_issues_and_deactivates(client: TestClient, make_user) -> None:
    admin = make_user("admin")
    r = client.post(
        "/api/v1/admin/users",
        headers=admin.headers,
        json={
            "username": f"ward.{admin.org.lower()}",
            "display_name": "Ward Nurse",
            "roles": ["ward_clinician"],
        },
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert (user["organisation"], user["roles"], user["active"]) == (
        admin.org,
        ["ward_clinician"],
        True,
    )
    issued = client.post(
        f"/api/v1/admin/users/{user['username']}/tokens",
        headers=admin.headers,
        json={"label": "ward PC", "expires_in_days": 30},
    )
    assert issued.status_code == 201, issued.text
    nurse = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert client.get("/api/v1/pathways", headers=nurse).status_code == 200
    listed = client.get("/api/v1/admin/users", headers=admin.headers).json()
    assert sorted(u["username"] for u in listed) == sorted([admin.actor.username, user["username"]])
    off = client.post(f"/api/v1/admin/users/{user['username']}/deactivate", headers=admin.headers)
    assert off.json()["active"] is False
    assert client.get("/api/v1/pathways", headers=nurse).status_code == 401
    bad = client.post(
        "/api/v1/admin/users",
        headers=admin.headers,
        json={"username": "x.y", "display_name": "X", "roles": ["wizard"]},
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")


def test_only_admins_and_only_their_own_organisation(client: TestClient, make_user) -> None:
    admin = make_user("admin")
    elsewhere = make_user("discharge_team")
    r = client.post(
        f"/api/v1/admin/users/{elsewhere.actor.username}/deactivate", headers=admin.headers
    )
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    manager = make_user("manager", org=admin.org)
    r = client.get("/api/v1/admin/users", headers=manager.headers)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
