"""The service behind PgBouncer in transaction pooling mode (issue 18, item 6).

Each test starts its own PgBouncer (tests/pgbouncer.py) with one server connection, which every
client shares transaction by transaction:

- the failure `DATABASE_POOLER=transaction` prevents is real: psycopg prepares a statement it
  has run five times on a connection, and behind the pooler two clients meet each other's
  prepared statements on the one server connection; with the setting nothing is prepared and
  both work;
- `homefirst serve --no-background` (two uvicorn workers) and `homefirst worker`, each a process
  of its own with DATABASE_URL pointing at PgBouncer, serve the API (cases opened, events fired,
  lists read, an upload) and do the background work through it (a clock sweep that records a
  breach, the CHC backlog import), and leave no prepared statement on the shared connection.
  (This request pattern alone does not reach psycopg's threshold between the pool's resets, so
  it is the first test, and the API tests run through PgBouncer in CI, that show the setting
  matters.)

With HOMEFIRST_TEST_PGBOUNCER=1 the session's own databases go through a PgBouncer as well
(tests/conftest.py); the last test checks that they really do.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from app.config import PROJECT_ROOT
from app.db import make_engine
from app.timeutil import utcnow
from tests.conftest import PostgresDatabases
from tests.pgbouncer import (
    REQUIRE_PGBOUNCER,
    THROUGH_PGBOUNCER,
    PgBouncer,
    pgbouncer_binary,
    pgbouncer_in_front,
)
from tests.servers import HOMEFIRST_SERVE, keep_log, process_env, run_python, running_service

if pgbouncer_binary() is None:
    if REQUIRE_PGBOUNCER:
        pytest.fail("pgbouncer is required here but not installed", pytrace=False)
    pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)", allow_module_level=True)

USER = "bouncer.coordinator"
ORG = "BOUNCER-ORG"
ROLES = "ic_coordinator,discharge_team,chc_assessor"
SAMPLE = PROJECT_ROOT / "app" / "chc" / "sample_lists" / "mlcsu.csv"
BEHIND = {"DATABASE_POOLER": "transaction"}
JOBS = {
    **BEHIND,
    "CLOCK_SWEEP_INTERVAL_SECONDS": "1",
    "LIVE_FIGURES_REFRESH_SECONDS": "2",
    "CHC_IMPORT_POLL_SECONDS": "1",
}


@pytest.fixture
def database(pg_databases: PostgresDatabases, request: pytest.FixtureRequest) -> str:
    """A migrated database of the test's own, its direct URL (the test puts PgBouncer first)."""
    url = pg_databases.migrated(durable=False)
    pg_databases.drop_when_finished(url, request)
    return pg_databases.direct_url(make_url(url).database or "")


@pytest.fixture
def bouncer(database: str, tmp_path: Path) -> Iterator[PgBouncer]:
    """PgBouncer, transaction pooling, one server connection for every client."""
    with pgbouncer_in_front(database, tmp_path / "pgbouncer", pool_size=1) as running:
        yield running


def _prepared_statements(url: str) -> list[str]:
    """The statements prepared on the server connection this client is given (with one server
    connection in the pool: the one every client shares)."""
    engine = make_engine(url, pooler="transaction")
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT statement FROM pg_prepared_statements"))
            return list(found.scalars())
    finally:
        engine.dispose()


def _run_alternately(url: str, pooler: str) -> None:
    """Two clients (engines), each running the same statement ten times, turn about, through
    a pooler whose one server connection they share."""
    engines = [make_engine(url, pooler=pooler) for _ in range(2)]
    connections = [e.connect() for e in engines]
    try:
        for _ in range(10):
            for connection in connections:
                assert connection.execute(text("SELECT count(*) FROM cases")).scalar_one() == 0
                connection.commit()
    finally:
        for connection in connections:
            connection.close()  # a failed transaction holds the one server connection till then
        for e in engines:
            e.dispose()


def test_prepared_statements_break_behind_the_pooler_unless_it_is_declared(
    database: str, tmp_path: Path
) -> None:
    with pgbouncer_in_front(database, tmp_path, pool_size=1) as one_connection:
        url = one_connection.url_of(database)
        with pytest.raises(ProgrammingError, match="prepared statement"):
            _run_alternately(url, "none")
        _run_alternately(url, "transaction")


def test_web_and_worker_processes_serve_and_work_through_pgbouncer(
    database: str, bouncer: PgBouncer, tmp_path: Path
) -> None:
    url = bouncer.url_of(database)
    env = process_env(url, BEHIND)
    run_python(["-m", "app.cli", "users", "add", USER, "--org", ORG, "--roles", ROLES], env)
    token = run_python(["-m", "app.cli", "tokens", "create", USER, "--label", "bouncer"], env)
    auth = {"Authorization": f"Bearer {token.split()[0]}"}
    command = (*HOMEFIRST_SERVE, "--no-background")
    worker_log = tmp_path / "worker.log"
    with (
        running_service(url, env=JOBS, command=command, workers=2, log=tmp_path / "web.log") as web,
        httpx.Client(base_url=f"{web.url}/api/v1", headers=auth, timeout=30) as http,
    ):
        # Opened three hours ago: its two-hour response clock is overdue for the sweeper.
        opened = http.post(
            "/cases",
            json={
                "workflow": "sample-referral",
                "site": "AINTREE",
                "data": {"priority": "routine"},
                "occurred_at": (utcnow() - timedelta(hours=3)).isoformat(),
                "reason": "referral received by post",
            },
        )
        assert opened.status_code == 201, opened.text
        overdue = opened.json()["id"]
        # Many cases, each taken through events: the same statements far more than five times.
        for _ in range(8):
            case = http.post(
                "/cases",
                json={
                    "workflow": "sample-referral",
                    "site": "AINTREE",
                    "data": {"priority": "routine"},
                },
            )
            assert case.status_code == 201, case.text
            for event, data in (("triage", {"triage_note": "seen"}), ("accept", {})):
                current = http.get(f"/cases/{case.json()['id']}")
                fired = http.post(
                    f"/cases/{case.json()['id']}/events",
                    json={"event": event, "data": data},
                    headers={"If-Match": current.headers["ETag"]},
                )
                assert fired.status_code == 200, fired.text
        listed = http.get("/cases", params={"workflow": "sample-referral", "state": "active"})
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["items"]) == 8
        uploaded = http.post(
            "/imports/chc-backlog",
            files={"file": ("mlcsu.csv", SAMPLE.read_bytes(), "text/csv")},
            data={"source": "MLCSU"},
        )
        assert uploaded.status_code == 202, uploaded.text
        job = uploaded.headers["location"].removeprefix("/api/v1")

        with worker_log.open("wb") as out:
            worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "app.cli", "worker"],
                cwd=PROJECT_ROOT,
                env=process_env(url, JOBS),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                clocks = http.get(f"/cases/{overdue}").json()["clocks"]
                breached = [c["name"] for c in clocks if c["breached_at"]]
                state = http.get(job).json()["state"]
                if breached and state == "done":
                    break
                assert worker.poll() is None, worker_log.read_text()
                time.sleep(0.3)
            assert (breached, state) == (["response"], "done"), worker_log.read_text()
            ready = httpx.get(f"{web.url}/readyz")
            assert ready.status_code == 200, ready.text
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0, worker_log.read_text()
            keep_log(worker_log)
        logs = web.log_text() + worker_log.read_text()
        prepared = _prepared_statements(url)
    # The one server connection every process shared holds no statement any of them prepared.
    assert prepared == [], prepared
    assert "Traceback" not in logs, logs[-4000:]
    assert "prepared statement" not in logs


@pytest.mark.skipif(not THROUGH_PGBOUNCER, reason="only with HOMEFIRST_TEST_PGBOUNCER=1")
def test_the_session_databases_are_reached_through_pgbouncer(
    pg_databases: PostgresDatabases, db_url: str, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    assert pg_databases.bouncer is not None
    assert make_url(db_url).port == pg_databases.bouncer.port
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
    # PgBouncer logs each client login: this database's is there.
    assert f"login attempt: db={make_url(db_url).database}" in pg_databases.bouncer.log_text()
