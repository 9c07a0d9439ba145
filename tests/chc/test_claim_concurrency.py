"""Twenty assessors claim at the same moment: every one gets a different case.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`. SQLite: the single writer lock. Real threads
against the running service (uvicorn), so requests truly overlap.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models import ChcClaimLog
from tests.chc.helpers import ChcApi
from tests.helpers import ago

CLAIMERS = 20
CASES = 25


def test_twenty_concurrent_claimers_never_share_a_case(
    live_server: str, client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    first = make_user("chc_assessor")
    assessors = [first] + [make_user("chc_assessor", org=first.org) for _ in range(CLAIMERS - 1)]
    api = ChcApi(client, first.headers)
    for n in range(CASES):
        api.open_chc({}, occurred_at=ago(days=CASES - n), reason="backlog referral")

    barrier = threading.Barrier(CLAIMERS)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def claim(headers: dict[str, str]) -> None:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            response = http.post(f"{live_server}/api/v1/queues/chc/claim", headers=headers)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=claim, args=(a.headers,)) for a in assessors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Counter(r.status_code for r in results) == {200: CLAIMERS}, [r.text for r in results]
    claimed = [r.json()["case_id"] for r in results]
    assert len(set(claimed)) == CLAIMERS  # zero double claims
    holders = {r.json()["case_id"]: r.json()["claim"]["assessor"] for r in results}
    assert sorted(holders.values()) == sorted(a.actor.username for a in assessors)

    with sessions() as session:
        log = session.execute(
            select(ChcClaimLog.case_id, ChcClaimLog.assessor).where(
                ChcClaimLog.organisation == first.org
            )
        ).all()
    assert sorted(log) == sorted(holders.items())
    unclaimed = api.queue(unclaimed_only=True)
    assert unclaimed["count"] == CASES - CLAIMERS
    assert not {i["case_id"] for i in unclaimed["items"]} & set(claimed)
