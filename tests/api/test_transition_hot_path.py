"""The transition hot path: its answer, its statements, its scoping checks.

`POST /cases/{id}/events` builds its answer without the pydantic models and checks organisation
scoping with the case's lock; these tests hold it to what the models and the scoping dependency
give everywhere else.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.cases.repository import CaseRepository
from app.cases.schemas import CaseRead, EventRead
from app.cases.views import case_dict, case_read, event_dict, event_read, iso
from app.clocks.repository import ClockRepository
from app.engine.engine import Engine
from app.links.repository import LinkRepository
from app.timeutil import utcnow
from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api


def _linked_discharge_case(client: TestClient, api: Api, headers: dict[str, str]) -> int:
    case = open_case(api, NHS[3], site="AINTREE")
    fire(api, case["id"], "not_meeting_ctr", days_ago=2)  # starts the days-delayed clock
    fire(api, case["id"], "meets_ctr_again", days_ago=1)  # stops it
    fire(api, case["id"], "not_meeting_ctr")  # a second cycle, running
    r = client.post(
        f"/api/v1/cases/{case['id']}/links",
        headers=headers,
        json={
            "workflow": "sample-referral",
            "link_type": "related",
            "data": {"priority": "routine"},
        },
    )
    assert r.status_code == 201, r.text
    return int(case["id"])


def test_the_answer_is_exactly_what_the_models_dump(
    client: TestClient, sessions: sessionmaker[Session], engine: Engine, make_user
) -> None:
    user = make_user(*TEAM, "ic_coordinator")
    api = Api(client, user.headers)
    case_id = _linked_discharge_case(client, api, user.headers)
    now = utcnow()
    with sessions() as session:
        case = CaseRepository(session).get(case_id)
        assert case is not None
        clocks = ClockRepository(session).for_case(case_id)
        links = LinkRepository(session).for_case(case_id)
        assert [c.state for c in clocks] == ["stopped", "running"]
        assert len(links) == 1
        allowed = engine.allowed_events(case, user.actor, now=now)
        fast = case_dict(case, clocks=clocks, allowed=allowed, links=links, now=now)
        model = case_read(case, clocks=clocks, allowed=allowed, links=links, now=now)
        assert fast == model.model_dump(mode="json")
        assert list(fast) == list(CaseRead.model_fields)  # same keys, same order
        events = CaseRepository(session).events(case_id)
        for e in events:
            assert event_dict(e) == event_read(e).model_dump(mode="json")
        assert list(event_dict(events[-1])) == list(EventRead.model_fields)


def test_the_transition_answer_matches_a_fresh_read(client: TestClient, make_user) -> None:
    user = make_user(*TEAM, "ic_coordinator")
    api = Api(client, user.headers)
    case_id = _linked_discharge_case(client, api, user.headers)
    fired = api.fire(case_id, "update_details", data={"ward": "Ward 9"})
    body = fired.json()
    read = api.get(case_id)
    assert fired.headers["ETag"] == read.headers["ETag"] == f'"{body["case"]["version"]}"'
    assert body["case"] == read.json()
    assert body["event"] == api.history(case_id)[-1]


def test_iso_writes_date_times_as_pydantic_does() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from pydantic import TypeAdapter

    adapter = TypeAdapter(datetime)
    for value in (
        datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, 0, 5, tzinfo=UTC),
        datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2026, 7, 1, 12, 0),
    ):
        assert iso(value) == adapter.dump_python(value, mode="json")
    assert iso(None) is None


def _count_statements(client: TestClient) -> tuple[list[str], Any]:
    bind = client.app.state.sessions.kw["bind"]  # type: ignore[attr-defined]
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE
            seen.append(" ".join(statement.split())[:40])

    event.listen(bind, "before_cursor_execute", on_execute)
    return seen, lambda: event.remove(bind, "before_cursor_execute", on_execute)


def test_a_transition_over_http_is_the_token_check_and_three_statements(
    client: TestClient, make_user
) -> None:
    user = make_user(*TEAM)
    api = Api(client, user.headers)
    case = open_case(api, NHS[4], site="AINTREE")
    etag = api.get(case["id"]).headers["ETag"]
    seen, stop = _count_statements(client)
    try:
        fired = api.fire(case["id"], "update_details", etag=etag, data={"ward": "Ward 3"})
    finally:
        stop()
    # The token, read afresh on every request so a revocation anywhere refuses the next one
    # (one statement by the token's hash, outside the transaction); then lock (with the
    # visibility check), UPDATE, INSERT: no scoping query. A new ward also moves the spell
    # read model's ward (the figures by ward): one conditional UPDATE, no read.
    assert len(seen) == 5, seen
    assert seen[0].startswith("SELECT api_tokens.id")
    assert seen[1].startswith("SELECT cases.id")
    assert seen[2].startswith("UPDATE cases")
    assert seen[3].startswith("INSERT INTO case_events")
    assert seen[4].startswith("UPDATE discharge_spells SET ward=")
    # A routine detail that no read model keeps costs the three statements and the token.
    seen, stop = _count_statements(client)
    try:
        api.fire(case["id"], "update_details", etag=fired.headers["ETag"], data={"bed": "12"})
    finally:
        stop()
    assert [s.split(" ")[0] for s in seen] == ["SELECT", "SELECT", "UPDATE", "INSERT"], seen


def test_scoping_comes_first_with_or_without_an_idempotency_key(
    client: TestClient, make_user
) -> None:
    owner = make_user(*TEAM)
    stranger = make_user(*TEAM)
    api = Api(client, owner.headers)
    case = open_case(api, NHS[5], site="AINTREE")
    url = f"/api/v1/cases/{case['id']}/events"
    body = {"event": "update_details", "data": {"ward": "Ward 4"}}
    for extra in (
        {"If-Match": '"1"'},
        {"If-Match": '"1"', "Idempotency-Key": "stranger-1"},
        {},  # no If-Match: still a 404 for someone who may not see the case, not a 428
        {"Idempotency-Key": "stranger-2"},
    ):
        r = client.post(url, json=body, headers={**stranger.headers, **extra})
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), (extra, r.text)
    # A malformed request takes the full way, where scoping still comes before validation.
    for bad_body, extra in (
        ({"event": "update_details", "x": 1}, {"If-Match": '"1"'}),
        (body, {"If-Match": '"' + "1" * 60 + '"'}),
    ):
        r = client.post(url, json=bad_body, headers={**stranger.headers, **extra})
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), r.text
        r = client.post(url, json=bad_body, headers={**owner.headers, **extra})
        assert (r.status_code, r.json()["code"]) == (422, "validation_failed"), r.text
    missing = client.post("/api/v1/cases/999999999/events", json=body, headers=owner.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    r = client.post(url, json=body, headers=owner.headers)
    assert r.status_code == 428, r.text
    assert [e["event"] for e in api.history(case["id"])] == ["open"]
    keyed = {**owner.headers, "If-Match": '"1"', "Idempotency-Key": "owner-1"}
    first = client.post(url, json=body, headers=keyed)
    assert first.status_code == 200, first.text
    again = client.post(url, json=body, headers=keyed)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert [e["event"] for e in api.history(case["id"])] == ["open", "update_details"]
