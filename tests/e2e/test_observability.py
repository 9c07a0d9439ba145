"""Logs and metrics of the service as deployed (issue 18, items 1 and 2).

`homefirst serve` runs in its own process on a migrated database of each backend; a user and a
token come from the command line in further processes. The test talks HTTP only, then reads
everything the service wrote:

- every line it logged is a JSON object; each request has one line with its request id (the
  caller's `X-Request-ID`, or a new one, returned in the response), the route's template (never
  the path with its ids, never the query), the status, the duration and, for a signed-in
  caller, the user's id and organisation; each transition has one line (workflow, event, case);
- no line holds the NHS number the requests carried (in the body, the path's query and a FHIR
  search) or any part of the token;
- `/metrics` refuses a caller without the metrics token (403) or with a wrong one (401) and
  gives the metrics token's holder the Prometheus text: the requests by route template, the
  transition just made, and the figures read from the database.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.db import make_engine
from tests.conftest import migrated_database_url
from tests.discharge.helpers import NHS, london
from tests.servers import (
    HOMEFIRST_SERVE,
    NOTHING_IN_THE_BACKGROUND,
    process_env,
    run_python,
    running_service,
)

ORG = "LUHFT"
USER = "ops.reader"
METRICS_TOKEN = "metrics-" + "7f3a9c" * 4
PATIENT = NHS[7]


@dataclass(frozen=True)
class Served:
    base: str
    token: str
    user_id: int
    log: Path


@pytest.fixture(scope="module")
def served(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"ops-{backend}")
    url = migrated_database_url(backend, tmp, request)
    env = process_env(url, NOTHING_IN_THE_BACKGROUND)
    run_python(
        ["-m", "app.cli", "users", "add", USER, "--org", ORG, "--roles", "discharge_team"], env
    )
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            user_id = conn.execute(
                text("SELECT id FROM users WHERE username = :u"), {"u": USER}
            ).scalar_one()
    finally:
        engine.dispose()
    token = run_python(["-m", "app.cli", "tokens", "create", USER, "--label", "ops"], env)
    log = tmp / "service.log"
    with running_service(
        url,
        env={**NOTHING_IN_THE_BACKGROUND, "METRICS_TOKEN": METRICS_TOKEN},
        command=HOMEFIRST_SERVE,
        log=log,
    ) as server:
        yield Served(server.url, token.split()[0], user_id, log)


def _lines(log: Path) -> list[dict[str, Any]]:
    """Every log line (the service's own banner, printed before logging starts, aside)."""
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    out = []
    for line in lines:
        if line.startswith("HomeFirst on http"):
            continue
        out.append(json.loads(line))  # every other line is a JSON object
    return out


def _open_case(http: httpx.Client, token: str, request_id: str) -> httpx.Response:
    return http.post(
        "/api/v1/cases",
        json={
            "workflow": "discharge",
            "site": "AUH",
            "patient_ref": PATIENT,
            "data": {"hospital_system": "LUHFT", "ward": "Ward 5", "admitted_at": london(2, 9)},
            "occurred_at": london(2, 10),
            "reason": "referral entered from the ward",
        },
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
    )


def test_requests_and_transitions_are_logged_as_json_without_patient_data(
    served: Served,
) -> None:
    auth = {"Authorization": f"Bearer {served.token}"}
    with httpx.Client(base_url=served.base, timeout=30) as http:
        opened = _open_case(http, served.token, "pas-engine.42")
        assert opened.status_code == 201, opened.text
        assert opened.headers["x-request-id"] == "pas-engine.42"
        case_id = opened.json()["id"]
        read = http.get(f"/api/v1/cases/{case_id}", headers=auth)
        assert read.status_code == 200, read.text
        generated = read.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated)
        listed = http.get("/api/v1/cases", params={"patient_ref": PATIENT}, headers=auth)
        assert listed.status_code == 200, listed.text
        # Not a plain token (a space, and too long): replaced by a new id, not echoed.
        odd = http.get("/healthz", headers={"X-Request-ID": "a b" + "x" * 80})
        assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])
        refused = http.get("/api/v1/cases", params={"access_token": served.token})
        assert refused.status_code in (401, 422), refused.text
    lines = _lines(served.log)
    requests = [line for line in lines if line.get("event") == "request"]
    by_id = {line["request_id"]: line for line in requests}
    first = by_id["pas-engine.42"]
    assert first["route"] == "/api/v1/cases"
    assert (first["method"], first["status"]) == ("POST", 201)
    assert (first["user_id"], first["organisation"]) == (served.user_id, ORG)
    assert isinstance(first["duration_ms"], float | int)
    second = by_id[generated]
    assert second["route"] == "/api/v1/cases/{case_id}", second  # the template, not the path
    assert (second["status"], second["user_id"]) == (200, served.user_id)
    health = [line for line in requests if line["route"] == "/healthz"]
    assert health
    assert "user_id" not in health[-1]
    transitions = [line for line in lines if line.get("event") == "transition"]
    opened_line = next(t for t in transitions if t["case_id"] == case_id)
    assert (opened_line["workflow"], opened_line["trigger"], opened_line["seq"]) == (
        "discharge",
        "open",
        1,
    )
    assert opened_line["request_id"] == "pas-engine.42"  # written while serving that request
    written = served.log.read_text()
    assert PATIENT not in written
    assert f"{PATIENT[:3]} {PATIENT[3:6]} {PATIENT[6:]}" not in written
    assert served.token not in written
    assert served.token.split("_", 1)[-1][:12] not in written  # nor a part of its secret
    assert f"/api/v1/cases/{case_id}" not in written  # paths with ids stay out too


def test_metrics_are_for_the_metrics_token_only(served: Served) -> None:
    with httpx.Client(base_url=served.base, timeout=30) as http:
        assert _open_case(http, served.token, "metrics-test").status_code == 201
        nobody = http.get("/metrics")
        assert nobody.status_code == 403, nobody.text
        assert nobody.json()["code"] == "forbidden"
        wrong = http.get("/metrics", headers={"Authorization": "Bearer not-the-metrics-token"})
        assert wrong.status_code == 401, wrong.text
        user = http.get("/metrics", headers={"Authorization": f"Bearer {served.token}"})
        assert user.status_code == 401, user.text  # a user's token is not the metrics token
        ok = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert ok.status_code == 200, ok.text
    assert ok.headers["content-type"].startswith("text/plain")
    text = ok.text
    samples = _samples(text)
    assert samples.get('homefirst_transitions_total{event="open",workflow="discharge"}', 0) >= 1
    assert (
        samples[
            'homefirst_http_request_duration_seconds_count{method="GET",route="/metrics",status="4xx"}'
        ]
        >= 3
    )
    for name in (
        'homefirst_clocks_alerting{kind="warning"}',
        'homefirst_clocks_alerting{kind="breach"}',
        "homefirst_clock_sweeper_lag_seconds",
        "homefirst_chc_imports_pending",
        "homefirst_adt_dead_letters",
        "homefirst_notifications_waiting",
        'homefirst_notification_deliveries{status="pending"}',
        'homefirst_notification_deliveries{status="dead"}',
    ):
        assert name in samples, name
    assert PATIENT not in text


def _samples(text: str) -> dict[str, float]:
    """Prometheus text as {series: value}, labels sorted as prometheus-client writes them."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


def test_readiness_fails_once_the_background_jobs_stop(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A service with its own clock sweeper and figures refresher (1 s periods) leaves their
    heartbeats; stopped, and a service with nothing in the background started on the same
    database, that one's /readyz fails after three periods naming both jobs: nothing runs the
    sweeper any more. Started again with its threads, it is ready again."""
    url = migrated_database_url(backend, tmp_path, request)
    background = {"CLOCK_SWEEP_INTERVAL_SECONDS": "1", "LIVE_FIGURES_REFRESH_SECONDS": "2"}
    with running_service(url, env=background, log=tmp_path / "with-jobs.log") as server:
        _wait_ready(server.url, url)
    with running_service(
        url, env=NOTHING_IN_THE_BACKGROUND, ready_path="/healthz", log=tmp_path / "without.log"
    ) as server:
        deadline = time.monotonic() + 30
        while True:
            r = httpx.get(f"{server.url}/readyz", timeout=10)
            if r.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["code"] == "background_stopped"
        assert {job["job"] for job in body["jobs"]} == {"clock_sweeper", "live_figures"}
        assert {job["period_seconds"] for job in body["jobs"]} == {1.0}
    with running_service(url, env=background, log=tmp_path / "again.log") as server:
        _wait_ready(server.url, url)


def _wait_ready(base: str, database_url: str) -> None:
    """Both jobs have run (their heartbeats are in the database) and /readyz says ready."""
    engine = make_engine(database_url)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                jobs = set(conn.execute(text("SELECT job FROM job_heartbeats")).scalars())
            r = httpx.get(f"{base}/readyz", timeout=10)
            if jobs == {"clock_sweeper", "live_figures"} and r.status_code == 200:
                return
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise AssertionError(f"not ready: {jobs}, {r.text}")
