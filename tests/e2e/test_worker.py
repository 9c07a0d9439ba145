"""The background work out of the web service (issue 18, item 3), as deployed.

`homefirst serve --no-background` and `homefirst worker`, each in its own process, on a migrated
database of each backend; users and tokens from the command line. The service runs no job (no
heartbeat appears while it serves alone, and an uploaded CHC list stays queued); the worker
runs them all: its heartbeats appear, `/readyz` is ready, the queued import is done. Stopped
with SIGTERM, the worker exits cleanly, and three periods later the service's `/readyz` fails
naming the jobs nobody runs any more.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.config import PROJECT_ROOT
from app.db import make_engine
from tests.conftest import migrated_database_url
from tests.servers import HOMEFIRST_SERVE, keep_log, process_env, run_python, running_service

USER = "worker.assessor"
ORG = "WORKER-ORG"
SAMPLE = PROJECT_ROOT / "app" / "chc" / "sample_lists" / "mlcsu.csv"
JOBS = {
    "CLOCK_SWEEP_INTERVAL_SECONDS": "1",
    "LIVE_FIGURES_REFRESH_SECONDS": "2",
    "CHC_IMPORT_POLL_SECONDS": "1",
}


def _heartbeats(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT job FROM job_heartbeats")).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    url = migrated_database_url(backend, tmp_path, request)
    env = process_env(url)
    run_python(
        ["-m", "app.cli", "users", "add", USER, "--org", ORG, "--roles", "chc_assessor"], env
    )
    token = run_python(["-m", "app.cli", "tokens", "create", USER, "--label", "worker"], env)
    return url, token.split()[0]


@pytest.fixture
def worker_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "worker.log"
    yield log
    keep_log(log)


def test_the_worker_does_what_the_service_no_longer_does(
    database: tuple[str, str], tmp_path: Path, worker_log: Path
) -> None:
    url, token = database
    auth = {"Authorization": f"Bearer {token}"}
    # The job settings would turn every job on; --no-background turns them off in the service.
    with running_service(
        url, env=JOBS, command=(*HOMEFIRST_SERVE, "--no-background"), log=tmp_path / "web.log"
    ) as web:
        with httpx.Client(base_url=web.url, headers=auth, timeout=30) as http:
            uploaded = http.post(
                "/api/v1/imports/chc-backlog",
                files={"file": ("mlcsu.csv", SAMPLE.read_bytes(), "text/csv")},
                data={"source": "MLCSU"},
            )
            assert uploaded.status_code == 202, uploaded.text
            job = uploaded.headers["location"]
            time.sleep(3)  # three of the jobs' periods: the service runs none of them
            assert http.get(job).json()["state"] == "queued"
            assert _heartbeats(url) == set()
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
                    state = http.get(job).json()["state"]
                    beats = _heartbeats(url)
                    if state == "done" and beats == {"clock_sweeper", "live_figures"}:
                        break
                    assert worker.poll() is None, worker_log.read_text()
                    time.sleep(0.3)
                assert (state, beats) == ("done", {"clock_sweeper", "live_figures"}), (
                    worker_log.read_text()
                )
                assert http.get("/readyz").status_code == 200
            finally:
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(timeout=30) == 0, worker_log.read_text()
            # The sweeper's period is 1 s: three of them later, nothing has swept.
            deadline = time.monotonic() + 30
            while (r := http.get("/readyz")).status_code == 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "background_stopped"
    written = worker_log.read_text()
    assert "HomeFirst worker: clock-sweeper, live-figures, chc-imports" in written
    assert '"event": "import"' in written  # the worker's JSON log line of the finished job
