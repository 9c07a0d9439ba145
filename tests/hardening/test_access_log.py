"""No NHS number and no token in the server's logs (issue 13, item 9).

The real service runs as its own process, as deployed: `uvicorn app.asgi:application` (one
worker) and `homefirst serve --workers 2`. Requests carry an NHS number and a token in their
query strings (`?patient_ref=`, `?access_token=`); everything the server wrote to stdout and
stderr must hold neither, while its log still names each request: one JSON line per request
with the method, the route's template and the status (issue 18 replaced uvicorn's access log,
which named the path, with these lines). And the text of a database error, which the log keeps,
holds no statement parameter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.auth.service import add_user, create_token
from app.db import make_engine, make_sessionmaker
from tests.conftest import migrated_database_url
from tests.servers import HOMEFIRST_SERVE, NOTHING_IN_THE_BACKGROUND, UVICORN, running_service

NHS_NUMBER = "9434765919"
SERVERS = {  # (command, workers)
    "uvicorn": (UVICORN, 1),
    "homefirst serve --workers 2": (HOMEFIRST_SERVE, 2),
}


@pytest.fixture(scope="module")
def database(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[str, str]:
    """A migrated SQLite database with one user; (its URL, the user's token)."""
    url = migrated_database_url("sqlite", tmp_path_factory.mktemp("logs"), request)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            add_user(
                session,
                username="log.reader",
                display_name="Log Reader",
                organisation="LUHFT",
                roles=["discharge_team", "manager"],
            )
            token = create_token(session, username="log.reader").token
    finally:
        engine.dispose()
    return url, token


@pytest.fixture(params=list(SERVERS))
def server(
    request: pytest.FixtureRequest, database: tuple[str, str], tmp_path: Path
) -> Iterator[tuple[str, str, Path]]:
    """The service in its own process group; (base URL, token, its captured output)."""
    url, token = database
    command, workers = SERVERS[request.param]
    log = tmp_path / "server.log"
    with running_service(
        url, env=NOTHING_IN_THE_BACKGROUND, command=command, workers=workers, log=log
    ) as server:
        yield server.url, token, log


def test_query_strings_stay_out_of_the_access_log(server: tuple[str, str, Path]) -> None:
    base, token, log = server
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as http:
        listed = http.get("/cases", params={"patient_ref": NHS_NUMBER}, headers=auth)
        assert listed.status_code == 200, listed.text
        refused = http.get("/cases", params={"access_token": token})  # not a way in: a 422
        assert refused.status_code == 422, refused.text
        posted = http.post(
            "/cases/1/events", params={"access_token": token, "nhs": NHS_NUMBER}, json={}
        )
        assert posted.status_code == 422, posted.text
        rfd = http.get("/rfd", params={"ward": NHS_NUMBER, "format": "csv"}, headers=auth)
        assert rfd.status_code == 200, rfd.text
    # Each request's line is written as its answer is sent; give a worker a moment.
    deadline = time.monotonic() + 10
    while _requests_logged(log) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    written = log.read_text()
    assert NHS_NUMBER not in written
    assert token not in written
    assert token.split("_", 1)[-1][:12] not in written  # nor a part of its secret
    # Each request is named by its method, route template and status.
    logged = {
        (line["method"], line["route"], line["status"])
        for line in _json_lines(written)
        if line.get("event") == "request"
    }
    for request in (
        ("GET", "/api/v1/cases", 200),
        ("GET", "/api/v1/cases", 422),
        ("POST", "/api/v1/cases/{case_id}/events", 422),
        ("GET", "/api/v1/rfd", 200),
    ):
        assert request in logged, written


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _requests_logged(log: Path) -> int:
    return sum(1 for line in _json_lines(log.read_text()) if line.get("event") == "request")


def test_a_database_error_names_no_parameter(db_url: str) -> None:
    """The text of a statement's error (which the log keeps) holds none of its values."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn, pytest.raises(SQLAlchemyError) as raised:
            conn.execute(
                text("SELECT * FROM no_such_table WHERE patient_ref = :nhs"), {"nhs": NHS_NUMBER}
            )
    finally:
        engine.dispose()
    assert "no_such_table" in str(raised.value)
    assert NHS_NUMBER not in str(raised.value)
