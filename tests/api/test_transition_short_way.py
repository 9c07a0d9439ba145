"""`POST /cases/{id}/events`: the short way and the full way give the same answers.

The route takes a short way for the usual request (no dependency resolution by FastAPI) and the
full way for anything else. The same service runs here twice on one database: `client` as
configured, and `full` with a dependency override set, which sends every request the full way.
Each request of the matrix goes to both, and the answers must agree: status, body and headers
(ETag, Idempotent-Replayed, content type...). A spy on the short way checks that the requests
meant to take it did.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from app.auth.tokens import hash_token
from app.cases import routes
from app.cases.routes import TransitionRoute
from app.config import Settings
from app.main import create_app
from app.models import ApiToken
from app.timeutil import utcnow
from tests.discharge.helpers import NHS, TEAM, london, open_case
from tests.hardening.conftest import dispose
from tests.helpers import Api


class _Any4xx:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and 400 <= other < 500

    def __repr__(self) -> str:
        return "4xx"


ANY_4XX = _Any4xx()


def _any_override() -> None:  # pragma: no cover - never called: only its presence counts
    pass


@pytest.fixture(scope="module")
def full(settings: Settings) -> Iterator[TestClient]:
    """The service with a dependency override set: every transition takes the full way."""
    app = create_app(settings)
    app.dependency_overrides[_any_override] = _any_override
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            yield c
    finally:
        dispose(app)


@pytest.fixture
def short_ways(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each request that asked took the short way (True) or not (False)."""
    taken: list[bool] = []
    real = routes._short_way

    async def spy(request: Request) -> Any:
        arguments = await real(request)
        taken.append(arguments is not None)
        return arguments

    monkeypatch.setattr(routes, "_short_way", spy)
    return taken


def _url(case_id: int) -> str:
    return f"/api/v1/cases/{case_id}/events"


def _headers(r: Response, *, length: bool = True) -> dict[str, str]:
    # The date and the request id are new for each request (both ways set the id: below).
    skip = {"date", "x-request-id"} if length else {"date", "x-request-id", "content-length"}
    assert r.headers.get("x-request-id")
    return {k: v for k, v in r.headers.items() if k not in skip}


def _same(fast: Response, full: Response) -> None:
    assert (fast.status_code, fast.content) == (full.status_code, full.content), (
        fast.text,
        full.text,
    )
    assert _headers(fast) == _headers(full)


def _twin(value: Any, case_id: int) -> Any:
    """An answer about case `case_id` with what differs between twin cases set aside: the
    case's id, and the times the clock stamped (`..._at`)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key.endswith("_at") and isinstance(item, str):
                item = "<time>"
            elif (key == "case_id" or (key == "id" and "workflow" in value)) and item == case_id:
                item = "<case>"
            out[key] = _twin(item, case_id)
        return out
    if isinstance(value, list):
        return [_twin(item, case_id) for item in value]
    return value


def _same_for_twins(fast: Response, a: int, full: Response, b: int) -> None:
    assert fast.status_code == full.status_code, (fast.text, full.text)
    assert _twin(fast.json(), a) == _twin(full.json(), b)
    assert _headers(fast, length=False) == _headers(full, length=False)


def _event(ward: str = "Ward 3") -> dict[str, Any]:
    return {"event": "update_details", "data": {"ward": ward}}


def _open(api: Api, nhs: str) -> int:
    # Opened at a given clinical time: twin cases differ only in their ids and stamps.
    return int(open_case(api, nhs, site="AINTREE")["id"])


def test_every_answer_is_the_same_either_way(
    client: TestClient, full: TestClient, make_user, short_ways: list[bool], sessions
) -> None:
    owner = make_user(*TEAM)
    clerk = make_user("chc_assessor", org=owner.org)  # same organisation, not a discharge role
    stranger = make_user(*TEAM)
    revoked = make_user(*TEAM, org=owner.org)
    api = Api(client, owner.headers)
    case_id = _open(api, NHS[6])
    api.fire(case_id, "update_details", data={"ward": "Ward 2"})  # now at version 2
    answers: dict[str, int] = {}
    for c in (client, full):  # every token works on both services
        for user in (owner, clerk, stranger, revoked):
            assert c.get("/api/v1/cases?limit=1", headers=user.headers).status_code == 200
    with sessions() as session:  # as another process would: the services cannot know
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(revoked.token))
            .values(revoked_at=utcnow())
        )
        session.commit()

    def sent_by(user: Any, etag: str | None = '"2"') -> dict[str, str]:
        return {**user.headers, **({"If-Match": etag} if etag is not None else {})}

    good, url, event = sent_by(owner), _url(case_id), _event()
    # (name, headers, JSON body or raw bytes, path, whether the short way takes it); none of
    # these changes the case, so each goes to the same case both ways.
    matrix: list[tuple[str, dict[str, str], Any, str, bool]] = [
        ("stale If-Match", sent_by(owner, '"1"'), event, url, True),
        ("missing If-Match", sent_by(owner, None), event, url, True),
        ("If-Match not an ETag", sent_by(owner, "two"), event, url, True),
        ("unknown event", good, {"event": "no_such_event"}, url, True),
        ("event not allowed in this state", good, {"event": "discharged"}, url, True),
        ("data that does not validate", good, {**event, "data": {"x": 1}}, url, True),
        ("wrong role", sent_by(clerk), event, url, True),
        ("another organisation's case", sent_by(stranger), event, url, True),
        ("unknown case", good, event, _url(999_999_999), True),
        ("bad JSON", good, b'{"event": "update_details"', url, False),
        (
            "a NUL in the body",
            good,
            b'{"event": "update_details", "reason": "a\\u0000"}',
            url,
            False,
        ),
        ("body not an event", good, {**event, "x": 1}, url, False),
        ("a query string", good, event, url + "?dry_run=1", False),
        ("If-Match too long", sent_by(owner, '"' + "2" * 60 + '"'), event, url, False),
        ("no token", {"If-Match": '"2"'}, event, url, False),
        # The short way takes any bearer token and checks it in the database as the full way
        # does (nothing is remembered between requests): the same 401 either way.
        ("unknown token", {"Authorization": "Bearer nope", "If-Match": '"2"'}, event, url, True),
        ("revoked token", sent_by(revoked), event, url, True),
        ("id beyond the database", good, event, _url(10**20), False),
    ]
    for name, headers, body, path, short in matrix:
        if isinstance(body, bytes):
            sent: dict[str, Any] = {"content": body}
            headers = {**headers, "Content-Type": "application/json"}
        else:
            sent = {"json": body}
        short_ways.clear()
        fast = client.post(path, headers=headers, **sent)
        assert (short_ways == [True]) if short else (short_ways in ([], [False])), name
        asked = list(short_ways)
        slow = full.post(path, headers=headers, **sent)
        assert short_ways == asked, name  # the full service never asks
        assert not fast.is_success, (name, fast.text)
        _same(fast, slow)
        answers[name] = fast.status_code
    assert answers == {
        "stale If-Match": 412,
        "missing If-Match": 428,
        "If-Match not an ETag": ANY_4XX,
        "unknown event": ANY_4XX,
        "event not allowed in this state": 409,
        "data that does not validate": 422,
        "wrong role": 403,
        "another organisation's case": 404,
        "unknown case": 404,
        "bad JSON": ANY_4XX,
        "a NUL in the body": 422,
        "body not an event": 422,
        "a query string": 422,
        "If-Match too long": 422,
        "no token": 401,
        "unknown token": 401,
        "revoked token": 401,
        "id beyond the database": 422,
    }
    assert [e["event"] for e in api.history(case_id)] == ["open", "update_details"]


def test_a_transition_is_the_same_either_way(
    client: TestClient, full: TestClient, make_user, short_ways: list[bool]
) -> None:
    owner = make_user(*TEAM)
    api = Api(client, owner.headers)
    a, b = _open(api, NHS[7]), _open(api, NHS[7])  # twins
    assert api.get(a).headers["ETag"] == api.get(b).headers["ETag"] == '"1"'
    full.get("/api/v1/cases?limit=1", headers=owner.headers)  # the full service knows the token
    for version in (1, 2):
        headers = {**owner.headers, "If-Match": f'"{version}"'}
        body = {**_event(f"Ward {version}"), "reason": "moved", "occurred_at": london(1)}
        short_ways.clear()
        fast = client.post(_url(a), headers=headers, json=body)
        slow = full.post(_url(b), headers=headers, json=body)
        assert short_ways == [True]
        assert fast.status_code == 200, fast.text
        _same_for_twins(fast, a, slow, b)
        # Each answer is exactly the case as read afterwards, with its ETag.
        for r, case_id in ((fast, a), (slow, b)):
            read = api.get(case_id)
            assert r.json()["case"] == read.json()
            assert r.headers["ETag"] == read.headers["ETag"] == f'"{version + 1}"'
            assert r.json()["event"] == api.history(case_id)[-1]
    _same_for_twins(api.get(a), a, api.get(b), b)
    assert _twin(api.history(a), a) == _twin(api.history(b), b)


def test_idempotent_replays_are_the_same_either_way(
    client: TestClient, full: TestClient, make_user, short_ways: list[bool]
) -> None:
    owner = make_user(*TEAM)
    api = Api(client, owner.headers)
    a, b = _open(api, NHS[8]), _open(api, NHS[8])  # twins
    full.get("/api/v1/cases?limit=1", headers=owner.headers)
    headers = {**owner.headers, "If-Match": '"1"'}
    first_fast = client.post(_url(a), headers={**headers, "Idempotency-Key": "k-a"}, json=_event())
    first_full = full.post(_url(b), headers={**headers, "Idempotency-Key": "k-b"}, json=_event())
    assert first_fast.status_code == 200, first_fast.text
    _same_for_twins(first_fast, a, first_full, b)
    assert "idempotent-replayed" not in first_fast.headers
    # A replay answers the first answer again, whichever way the first or the replay went.
    for case_id, key, first in ((a, "k-a", first_fast), (b, "k-b", first_full)):
        replays = []
        for c in (client, full):
            short_ways.clear()
            r = c.post(_url(case_id), headers={**headers, "Idempotency-Key": key}, json=_event())
            assert short_ways == ([True] if c is client else [])
            assert r.status_code == 200, r.text
            assert r.headers["Idempotent-Replayed"] == "true"
            assert r.json() == first.json()  # (PostgreSQL keeps it as JSONB: keys reorder)
            replays.append(r)
        _same(*replays)
        # The same key with another body is refused the same way both ways.
        other = _event("Ward 99")
        _same(
            client.post(_url(case_id), headers={**headers, "Idempotency-Key": key}, json=other),
            full.post(_url(case_id), headers={**headers, "Idempotency-Key": key}, json=other),
        )
    assert [e["event"] for e in api.history(a)] == ["open", "update_details"]
    assert [e["event"] for e in api.history(b)] == ["open", "update_details"]


@pytest.mark.parametrize("included", ["before serving", "while serving"])
def test_a_dependency_a_router_adds_is_never_skipped(
    settings: Settings, make_user, short_ways: list[bool], included: str
) -> None:
    """The short way stands in only for the dependencies it knows. Include the cases routes
    under a router with one more (before the service answers its first request, or once it has
    served transitions), and that inclusion always takes the full way: the dependency runs."""
    calls: list[str] = []

    async def audit(request: Request) -> None:
        calls.append(request.url.path)

    app = create_app(settings)
    extra = APIRouter(prefix="/audited", dependencies=[Depends(audit)])
    extra.include_router(routes.router)
    if included == "before serving":
        app.include_router(extra)
    owner = make_user(*TEAM)
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            api = Api(c, owner.headers)
            case_id = _open(api, NHS[9])
            r = c.post(_url(case_id), headers={**owner.headers, "If-Match": '"1"'}, json=_event())
            assert r.status_code == 200, r.text
            if included == "while serving":
                assert short_ways == [True]
                app.include_router(extra)
            short_ways.clear()
            audited = f"/audited/cases/{case_id}/events"
            headers = {**owner.headers, "If-Match": '"2"'}
            r = c.post(audited, headers=headers, json=_event("Ward 4"))
            assert r.status_code == 200, r.text
            assert (calls, short_ways) == ([audited], [])
    finally:
        dispose(app)


def test_an_endpoint_with_other_parameters_never_takes_the_short_way(
    short_ways: list[bool],
) -> None:
    seen: list[Any] = []

    def lookalike(request: Request, case_id: int) -> dict[str, int]:
        seen.append(case_id)
        return {"case_id": case_id}

    assert routes._parameters(routes.fire_event) == routes._SHORT_WAY_PARAMETERS
    app = FastAPI()
    app.router.add_api_route(
        "/cases/{case_id}/events", lookalike, methods=["POST"], route_class_override=TransitionRoute
    )
    with TestClient(app) as c:
        r = c.post("/cases/5/events", json=_event(), headers={"Authorization": "Bearer x"})
    assert (r.status_code, r.json(), seen) == (200, {"case_id": 5}, [5])
    assert short_ways == []
