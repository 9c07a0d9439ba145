"""Administrators manage their own organisation's users over HTTP."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from fastapi.testclient import TestClient

from app.auth.repository import AuthRepository


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


# -- issue 13: self-deactivation, internal roles, usernames per organisation, races -------------
def _deactivate(client: TestClient, admin, username: str):  # noqa: ANN001, ANN202
    return client.post(f"/api/v1/admin/users/{username}/deactivate", headers=admin.headers)


def _create(client: TestClient, admin, username: str, roles: list[str]):  # noqa: ANN001, ANN202
    body = {"username": username, "display_name": "Someone", "roles": roles}
    return client.post("/api/v1/admin/users", headers=admin.headers, json=body)


def test_the_last_active_admin_cannot_be_deactivated(client: TestClient, make_user) -> None:
    admin = make_user("admin")
    r = _deactivate(client, admin, admin.actor.username)
    assert (r.status_code, r.json()["code"]) == (409, "last_admin")
    assert client.get("/api/v1/admin/users", headers=admin.headers).status_code == 200
    # With a second administrator, one may step down; then the other is the last.
    second = make_user("admin", "manager", org=admin.org)
    r = _deactivate(client, admin, admin.actor.username)
    assert (r.status_code, r.json()["active"]) == (200, False)
    assert client.get("/api/v1/admin/users", headers=admin.headers).status_code == 401
    r = _deactivate(client, second, second.actor.username)
    assert (r.status_code, r.json()["code"]) == (409, "last_admin")
    # Anyone else may still be deactivated, and another organisation's admins do not count.
    make_user("admin", org="ELSEWHERE-" + admin.org)
    clerk = make_user("analyst", org=admin.org)
    assert _deactivate(client, second, clerk.actor.username).json()["active"] is False


def test_two_admins_deactivating_each_other_at_once_leave_one(
    live_server: str, client: TestClient, make_user
) -> None:
    for _ in range(5):  # several rounds: a lucky interleaving must not hide a race
        a = make_user("admin")
        b = make_user("admin", org=a.org)
        # Each deactivates the other: (caller, target) for the two racing requests.
        pairs = [(a, b), (b, a)]
        results = _race(
            2,
            lambda http, i, pairs=pairs: http.post(
                f"{live_server}/api/v1/admin/users/{pairs[i][1].actor.username}/deactivate",
                headers=pairs[i][0].headers,
            ),
        )
        # One wins. The other is refused: 409 `last_admin` when both were authenticated before
        # either committed, or 401 when the winner's commit came first (its caller is inactive).
        codes = sorted(r.status_code for r in results)
        assert codes in ([200, 401], [200, 409]), [r.text for r in results]
        active = [u for u in (a, b) if client.get("/api/v1/pathways", headers=u.headers).is_success]
        assert len(active) == 1


def test_admins_cannot_grant_the_system_role(client: TestClient, sessions, make_user) -> None:
    admin = make_user("admin")
    name = f"svc.{admin.org.lower()}"
    for roles in (["system"], ["discharge_team", "system"]):
        r = _create(client, admin, name, roles)
        assert (r.status_code, r.json()["code"]) == (422, "role_not_grantable"), r.text
    with sessions() as session:
        assert AuthRepository(session).user_in(admin.org, name) is None


def test_a_username_taken_in_another_organisation_is_free_here(
    client: TestClient, make_user
) -> None:
    ours, theirs = make_user("admin"), make_user("admin")
    name = f"jo.{ours.org.lower()}"
    assert _create(client, theirs, name, ["analyst"]).status_code == 201
    # Another organisation's users are invisible: the name is simply free here.
    r = _create(client, ours, name, ["manager"])
    assert (r.status_code, r.json()["organisation"]) == (201, ours.org)
    # Our own organisation's duplicate is a 409 (we can list our users anyway).
    r = _create(client, ours, name, ["manager"])
    assert (r.status_code, r.json()["code"]) == (409, "username_taken")
    assert theirs.org not in r.text
    # Every admin lookup is scoped: tokens and deactivation reach only their own user.
    issued = client.post(f"/api/v1/admin/users/{name}/tokens", headers=ours.headers, json={})
    assert issued.status_code == 201, issued.text
    token = {"Authorization": f"Bearer {issued.json()['token']}"}
    r = client.get("/api/v1/admin/users", headers=theirs.headers)
    assert [u["roles"] for u in r.json() if u["username"] == name] == [["analyst"]]
    assert _deactivate(client, theirs, name).json()["active"] is False
    assert client.get("/api/v1/pathways", headers=token).status_code == 200  # ours: untouched
    r = client.get("/api/v1/admin/users", headers=ours.headers)
    assert [(u["roles"], u["active"]) for u in r.json() if u["username"] == name] == [
        (["manager"], True)
    ]


def test_32_concurrent_creates_of_one_username_give_one_201_and_409s(
    live_server: str, client: TestClient, make_user
) -> None:
    admin = make_user("admin")
    name = f"race.{admin.org.lower()}"
    results = _race(
        32,
        lambda http, _i: http.post(
            f"{live_server}/api/v1/admin/users",
            headers=admin.headers,
            json={"username": name, "display_name": "Race", "roles": ["analyst"]},
        ),
    )
    assert Counter(r.status_code for r in results) == {201: 1, 409: 31}, [
        r.text for r in results if r.status_code not in (201, 409)
    ]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"username_taken"}
    listed = client.get("/api/v1/admin/users", headers=admin.headers).json()
    assert [u["username"] for u in listed].count(name) == 1


def _race(n: int, send) -> list[httpx.Response]:  # noqa: ANN001
    barrier = threading.Barrier(n)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            response = send(http, i)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
