"""The change feed: every event once, in order, and never skipping a late commit."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.cases.service import encode_cursor
from app.engine.engine import Command
from app.models import CaseEvent
from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api, writer_for


def _start_cursor(sessions) -> str:  # noqa: ANN001
    with sessions() as session:
        return encode_cursor(session.execute(select(func.max(CaseEvent.id))).scalar_one() or 0)


def _poll_until(client: TestClient, headers: dict, cursor: str, count: int, **params) -> list:  # noqa: ANN003
    """Poll as a client would until `count` items arrived (or 15 s passed): on PostgreSQL the
    feed holds events back while any older transaction in the cluster is still running."""
    seen: list = []
    deadline = time.monotonic() + 15
    while len(seen) < count and time.monotonic() < deadline:
        page = _poll(client, headers, cursor, **params)
        seen += page["items"]
        cursor = page["next_cursor"]
        if not page["items"]:
            time.sleep(0.1)
    return seen


def _poll(client: TestClient, headers: dict, cursor: str, **params) -> dict:  # noqa: ANN003
    r = client.get("/api/v1/dashboard/feed", params={"cursor": cursor, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_feed_serves_each_event_once_in_order(client: TestClient, sessions, make_user) -> None:
    user = make_user(*TEAM)
    api = Api(client, user.headers)
    cursor = _start_cursor(sessions)
    case = open_case(api, NHS[0], site="AINTREE")
    fire(api, case["id"], "accept", days_ago=9)
    fire(api, case["id"], "not_meeting_ctr", days_ago=2)
    fire(api, case["id"], "meets_ctr_again", days_ago=1)
    seen = _poll_until(client, user.headers, cursor, 4, limit=2)
    cursor = seen[-1]["cursor"]
    assert [(i["case_id"], i["seq"], i["event"], i["on_rfd_list"]) for i in seen] == [
        (case["id"], 1, "open", False),
        (case["id"], 2, "accept", False),
        (case["id"], 3, "not_meeting_ctr", True),
        (case["id"], 4, "meets_ctr_again", False),
    ]
    assert [i["event_id"] for i in seen] == sorted(i["event_id"] for i in seen)
    assert seen[0]["workflow"] == "discharge"
    assert seen[0]["organisation"] == user.org
    # Polling again from the end gives nothing and keeps the cursor.
    again = _poll(client, user.headers, cursor)
    assert (again["items"], again["next_cursor"]) == ([], cursor)
    other = _poll(client, user.headers, _start_cursor(sessions), workflow="sample-referral")
    assert other["items"] == []
    r = client.get("/api/v1/dashboard/feed", params={"cursor": "@@"}, headers=user.headers)
    assert r.status_code == 422


def test_feed_waits_for_a_late_commit(
    backend: str, client: TestClient, sessions, engine, make_user
) -> None:
    if backend != "postgresql":
        pytest.skip("concurrent writers: SQLite has one writer at a time, so ids commit in order")
    user = make_user(*TEAM)
    api = Api(client, user.headers)
    slow_case = open_case(api, NHS[1], site="AINTREE")
    fast_case = open_case(api, NHS[2], site="AINTREE")
    cursor = _start_cursor(sessions)
    held = sessions()
    # A slow writer takes the lower id through the engine and has not committed yet...
    writer_for(engine).fire(
        held,
        slow_case["id"],
        Command("update_details", user.actor, data={"ward": "Ward 3"}),
        now=datetime.now(UTC),
    )
    try:
        # ...while a fast writer commits a higher id.
        fire(api, fast_case["id"], "accept")
        page = _poll(client, user.headers, cursor)
        assert page["items"] == []  # the fast event waits: the slow one could still land first
        held.commit()
    finally:
        held.close()
    items = _poll_until(client, user.headers, cursor, 2)
    assert [(i["case_id"], i["event"]) for i in items] == [
        (slow_case["id"], "update_details"),
        (fast_case["id"], "accept"),
    ]


def test_a_long_transaction_in_another_database_does_not_hold_the_feed_back(
    backend: str, db_url: str, client: TestClient, sessions, make_user
) -> None:
    if backend != "postgresql":
        pytest.skip("the horizon of running transactions is PostgreSQL's")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(db_url).set(drivername="postgresql", database="postgres")
    user = make_user(*TEAM)
    api = Api(client, user.headers)
    cursor = _start_cursor(sessions)
    elsewhere = psycopg.connect(url.render_as_string(hide_password=False))
    try:
        # A writing transaction in another database of the same server stays open...
        elsewhere.execute("SELECT pg_current_xact_id()")
        case = open_case(api, NHS[3], site="AINTREE")
        # ...and the feed still serves this database's committed events at once.
        page = _poll(client, user.headers, cursor)
        assert [(i["case_id"], i["event"]) for i in page["items"]] == [(case["id"], "open")]
    finally:
        elsewhere.rollback()
        elsewhere.close()
