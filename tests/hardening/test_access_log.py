"""No NHS number and no token in the server's logs (issue 13, item 9).

The real service runs as its own process, as deployed: `uvicorn app.asgi:application` (one
worker) and `homefirst serve --workers 2`, each with uvicorn's access log on. Requests carry an
NHS number and a token in their query strings (`?patient_ref=`, `?access_token=`); everything
the server wrote to stdout and stderr must hold neither, while its access log still names each
request (method, path, status). And the text of a database error, which the log keeps, holds
no statement parameter.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.auth.service import add_user, create_token
from app.config import PROJECT_ROOT
from app.db import make_engine, make_sessionmaker
from app.migrations_state import upgrade_to_head

NHS_NUMBER = "9434765919"
SERVERS = {
    "uvicorn": ["-m", "uvicorn", "app.asgi:application", "--host", "127.0.0.1"],
    "homefirst serve --workers 2": ["-m", "app.cli", "serve", "--workers", "2", "--no-migrate"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A migrated SQLite database with one user; (its URL, the user's token)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('logs') / 'logs.db'}"
    upgrade_to_head(url)
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
    port = _free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PYTHONPATH": str(PROJECT_ROOT),
        "CLOCK_SWEEP_INTERVAL_SECONDS": "0",
        "LIVE_FIGURES_REFRESH_SECONDS": "0",
        "LIVE_FIGURES_MAX_AGE_SECONDS": "0",
    }
    cmd = [sys.executable, *SERVERS[request.param], "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            cmd,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers are stopped with it
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # generous: CI machines are shared
        while True:
            assert proc.poll() is None, f"the service exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the service did not start:\n{log.read_text()}"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield base, token, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


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
    # Every access line is written by the time the answer is sent; give a worker a moment.
    deadline = time.monotonic() + 10
    while log.read_text().count('"GET /api/v1/') < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    written = log.read_text()
    assert NHS_NUMBER not in written
    assert token not in written
    assert token.split("_", 1)[-1][:12] not in written  # nor a part of its secret
    # The access log is on, and names each request by its path.
    for line in (
        '"GET /api/v1/cases HTTP/1.1" 200',
        '"GET /api/v1/cases HTTP/1.1" 422',
        '"POST /api/v1/cases/1/events HTTP/1.1" 422',
        '"GET /api/v1/rfd HTTP/1.1" 200',
    ):
        assert line in written, written


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
