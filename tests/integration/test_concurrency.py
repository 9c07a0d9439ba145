"""Real concurrent clients against the running service.

On PostgreSQL the row lock and the unique keys decide; on SQLite the single writer lock does.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx

from tests.helpers import Api


def _race(n: int, send) -> list[httpx.Response]:  # noqa: ANN001
    barrier = threading.Barrier(n)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            response = send(http)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_clients_same_etag_exactly_one_wins(live_server: str, client, make_user) -> None:
    user = make_user("discharge_team", "ic_coordinator")
    api = Api(client, user.headers)
    for _ in range(5):  # several rounds: a lucky interleaving must not hide a race
        case_id = api.create().json()["id"]
        results = _race(
            2,
            lambda http, cid=case_id: http.post(
                f"{live_server}/api/v1/cases/{cid}/events",
                json={"event": "triage"},
                headers={**user.headers, "If-Match": '"1"'},
            ),
        )
        assert sorted(r.status_code for r in results) == [200, 412]
        assert [e["event"] for e in api.history(case_id)] == ["open", "triage"]


def test_concurrent_creates_with_one_idempotency_key_make_one_case(
    live_server: str, client, make_user
) -> None:
    user = make_user("discharge_team")
    results = _race(
        8,
        lambda http: http.post(
            f"{live_server}/api/v1/cases",
            json={"workflow": "sample-referral", "data": {"priority": "routine"}},
            headers={**user.headers, "Idempotency-Key": "double-click"},
        ),
    )
    assert Counter(r.status_code for r in results) == {201: 8}
    assert len({r.json()["id"] for r in results}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in results) == 7
    listed = client.get("/api/v1/cases", params={"organisation": user.org}, headers=user.headers)
    assert len(listed.json()["items"]) == 1
