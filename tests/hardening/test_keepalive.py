"""An error answer leaves a kept-alive connection usable (issue 13, item 3).

A real uvicorn server (`live_server`) and one persistent HTTP/1.1 connection: after each error
answer of `POST /cases/{id}/events` (on its short way, and on the full way) the next request must
go out on the same socket, and no answer may say `connection: close`. Before, any 500 made
uvicorn drop the connection (Starlette sends the 500, then raises the error again to the
server), so a client lost it, and anything it had queued on it, with every server error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from app.cases import routes
from app.cases import service as case_service
from tests.discharge.helpers import TEAM
from tests.helpers import Api


def _local_port(r: httpx.Response) -> int:
    """The client's side of the socket the answer came on; -1 once the server closed it."""
    stream = r.extensions["network_stream"]
    try:
        return int(stream.get_extra_info("socket").getsockname()[1])
    except OSError:  # the socket is closed
        return -1


@pytest.fixture
def short_ways(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each transition took the short way (True) or the full way (False)."""
    taken: list[bool] = []
    real = routes._short_way

    async def spy(request: Request) -> Any:
        arguments = await real(request)
        taken.append(arguments is not None)
        return arguments

    monkeypatch.setattr(routes, "_short_way", spy)
    return taken


@pytest.fixture
def http(live_server: str, client: TestClient, make_user) -> Iterator[tuple[httpx.Client, int]]:
    user = make_user(*TEAM)
    case_id = int(Api(client, user.headers).create().json()["id"])
    with httpx.Client(base_url=f"{live_server}/api/v1", headers=user.headers, timeout=30) as c:
        yield c, case_id


def _send(c: httpx.Client, case_id: int, body: Any, if_match: str | None, **extra: str) -> Any:
    headers = {"content-type": "application/json", **extra}
    if if_match is not None:
        headers["If-Match"] = if_match
    content = body if isinstance(body, str) else json.dumps(body)
    return c.post(f"/cases/{case_id}/events", content=content, headers=headers)


def _broken(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("a fault in the service")


def test_error_answers_keep_the_connection(
    http: tuple[httpx.Client, int], short_ways: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, case_id = http
    first = c.get(f"/cases/{case_id}")
    assert first.status_code == 200, first.text
    port = _local_port(first)
    triage = {"event": "triage"}
    escaped = '{"event": "\\u0074riage"}'  # the same event; the escape sends it the full way
    errors = [
        ("short", 404, lambda: _send(c, 999_999_999, triage, '"1"')),
        ("short", 422, lambda: _send(c, case_id, {"event": "triage", "data": {"x": 1}}, '"1"')),
        ("short", 409, lambda: _send(c, case_id, {"event": "complete"}, '"1"')),
        ("short", 412, lambda: _send(c, case_id, triage, '"7"')),
        ("short", 412, lambda: _send(c, case_id, triage, 'W/"1"')),
        ("short", 428, lambda: _send(c, case_id, triage, None)),
        ("full", 404, lambda: _send(c, 999_999_999, escaped, '"1"')),
        ("full", 422, lambda: _send(c, case_id, "{not json", '"1"')),
        ("full", 412, lambda: _send(c, case_id, escaped, '"7"')),
    ]
    for way, status, send in errors:
        short_ways.clear()
        r = send()
        assert r.status_code == status, (way, r.text)
        assert short_ways == [way == "short"], (way, status)
        assert r.headers.get("connection", "").lower() != "close", (way, status)
        assert _local_port(r) == port, (way, status)
        again = c.get(f"/cases/{case_id}")
        assert (again.status_code, _local_port(again)) == (200, port), (way, status)

    # A server error, on either way: the fixed 500 answer, and the connection stays.
    monkeypatch.setattr(case_service, "fire_event", _broken)
    for way, body in (("short", triage), ("full", escaped)):
        short_ways.clear()
        r = _send(c, case_id, body, '"1"')
        assert (r.status_code, r.json()["code"]) == (500, "internal_error"), r.text
        assert short_ways == [way == "short"]
        assert r.headers.get("connection", "").lower() != "close", way
        assert r.headers["x-content-type-options"] == "nosniff"  # the security headers too
        assert _local_port(r) == port, way
        again = c.get(f"/cases/{case_id}")
        assert (again.status_code, _local_port(again)) == (200, port), way
    monkeypatch.undo()

    done = _send(c, case_id, triage, '"1"')
    assert (done.status_code, _local_port(done)) == (200, port), done.text


def test_a_server_error_on_any_route_keeps_the_connection(
    http: tuple[httpx.Client, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, case_id = http
    port = _local_port(c.get(f"/cases/{case_id}"))
    monkeypatch.setattr(case_service, "list_cases", _broken)
    for _ in range(3):
        r = c.get("/cases")
        assert (r.status_code, r.json()["code"]) == (500, "internal_error")
        assert _local_port(r) == port
    monkeypatch.undo()
    r = c.get("/cases")
    assert (r.status_code, _local_port(r)) == (200, port)
