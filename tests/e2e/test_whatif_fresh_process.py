"""A what-if run posted over HTTP to `homefirst serve` in a fresh process is carried out by that
service's own background job (woken by the request: the job's poll is a minute here), on the
observed system and on the same system scaled to 1,000 beds, with the default number of runs;
the results are readable and as many runs as asked. Users and tokens from the command line, on
a migrated database of each backend."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import migrated_database_url
from tests.servers import (
    HOMEFIRST_SERVE,
    NOTHING_IN_THE_BACKGROUND,
    keep_log,
    process_env,
    run_python,
    running_service,
)

USER, ORG = "whatif.manager", "WHATIF-ORG"
# Only the what-if job, with a poll far longer than the test waits: the request wakes it.
ENV = {**NOTHING_IN_THE_BACKGROUND, "CHC_IMPORT_POLL_SECONDS": "0", "WHATIF_POLL_SECONDS": "60"}


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    url = migrated_database_url(backend, tmp_path, request)
    env = process_env(url)
    run_python(["-m", "app.cli", "users", "add", USER, "--org", ORG, "--roles", "manager"], env)
    token = run_python(["-m", "app.cli", "tokens", "create", USER, "--label", "whatif"], env)
    return url, token.split()[0]


def _finished(http: httpx.Client, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120  # generous: speed is the bench's (bench/whatif.py)
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = http.get(location).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.25)
    raise AssertionError(f"not finished: {body.get('status')}")


def test_the_service_carries_out_a_posted_run(database: tuple[str, str], tmp_path: Path) -> None:
    url, token = database
    log = tmp_path / "service.log"
    try:
        with (
            running_service(url, env=ENV, command=HOMEFIRST_SERVE, log=log) as service,
            httpx.Client(
                base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as http,
        ):
            locations = []
            for body in ({"p1_starts_per_day": 5}, {"community_beds": 2, "scale_to_beds": 1000}):
                r = http.post("/api/v1/whatif", json={**body, "seed": 1})
                assert r.status_code == 202, r.text
                locations.append(r.headers["location"])
            observed, big = (_finished(http, loc) for loc in locations)
            for run in (observed, big):
                assert run["status"] == "done", run
                assert run["runs"] == 50  # whatif.yaml's default
                assert run["result"]["totals"]["bed_days"]["baseline"]["runs"] == 50
                assert len(run["result"]["weekly"]) == 12
            assert observed["inputs"]["scale"] is None
            assert big["inputs"]["scale"]["to_beds"] == 1000
            listed = http.get("/api/v1/whatif").json()["items"]
            assert sorted(i["id"] for i in listed) == sorted(r["id"] for r in (observed, big))
        assert "Traceback" not in log.read_text()
    finally:
        keep_log(log)
