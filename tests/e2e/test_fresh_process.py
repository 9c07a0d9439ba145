"""The service as it is deployed: migrated by one process, served by another (two workers).

Each backend (SQLite file, throwaway PostgreSQL database) is migrated by `alembic upgrade head`
in its own process; a user and a token come from the `homefirst` command line, in further
processes; then `uvicorn app.asgi:application --workers 2` serves it with nothing computed in
the background (no clock sweeper, no live-figures refresher, today's figures computed on every
read). This test process imports nothing of the app to read state: it talks HTTP only.

A transition made over HTTP must show at once, on every worker, in today's dashboard figures
(discharge, CHC and intermediate care), the Ready-for-Discharge list, the CHC work queue and the
IC service occupancy and report. Every request opens a new connection, so consecutive requests
land on whichever worker accepts them, and each read is repeated (READS times) with every answer
required to agree, so a worker with stale state cannot hide behind one that is right.

Every figure is asserted as a change from a baseline read over HTTP just before the writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import fresh_database_url
from tests.discharge.helpers import NHS, london, today
from tests.servers import (
    NOTHING_IN_THE_BACKGROUND,
    UVICORN,
    process_env,
    run_python,
    running_service,
)

ORG = "LUHFT"
USER = "e2e.fresh"
ROLES = (
    "discharge_team",
    "ward_clinician",
    "chc_assessor",
    "ic_triager",
    "ic_coordinator",
    "ic_practitioner",
    "manager",
)
WORKERS = 2
READS = 6  # each read is made this many times, each on a new connection
BACKDATED = "recorded after the ward round"
IC_PLAN = {
    "transition_plan": "Daily visits, reducing over 3 weeks; review at week 2",
    "contingency_plan": "Ring the single point of access to come back",
}


@dataclass(frozen=True)
class Service:
    base: str
    token: str
    log: Path


@pytest.fixture(scope="module")
def service(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp(f"e2e-{backend}")
    # An empty database: a new SQLite file, or a new PostgreSQL database (conftest's
    # pg_databases: skipped if unreachable, an error with HOMEFIRST_REQUIRE_POSTGRES=1).
    url = fresh_database_url(backend, tmp, request)
    env = process_env(url, NOTHING_IN_THE_BACKGROUND)
    run_python(["-m", "alembic", "upgrade", "head"], env)  # another process migrates it
    run_python(
        ["-m", "app.cli", "users", "add", USER, "--org", ORG, "--roles", ",".join(ROLES)], env
    )
    token = run_python(["-m", "app.cli", "tokens", "create", USER, "--label", "e2e"], env)
    # Each worker logs its "Application startup complete.", which the start waits for.
    command = (*UVICORN, "--no-access-log", "--log-level", "info")
    log = tmp / "uvicorn.log"
    with running_service(
        url, env=NOTHING_IN_THE_BACKGROUND, command=command, workers=WORKERS, log=log
    ) as server:
        yield Service(server.url, token.split()[0], log)


class Http:
    """The public API, each request on a new connection (so it goes to whichever worker)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.client = httpx.Client(
            base_url=f"{service.base}/api/v1",
            headers={"Authorization": f"Bearer {service.token}", "Connection": "close"},
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=30,
        )

    def close(self) -> None:
        self.client.close()

    def _check(self, r: httpx.Response, expect: int) -> Any:
        assert r.status_code == expect, (
            f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:2000]}"
        )
        return r.json()

    def get(self, path: str, **params: Any) -> Any:
        return self._check(self.client.get(path, params=params), 200)

    def post(self, path: str, body: dict[str, Any], expect: int = 200) -> Any:
        return self._check(self.client.post(path, json=body), expect)

    def read(self, path: str, pick: Callable[[Any], Any], **params: Any) -> Any:
        """`pick` of the answer to GET `path`, read READS times; every answer must agree."""
        seen = [pick(self.get(path, **params)) for _ in range(READS)]
        assert all(s == seen[0] for s in seen), f"workers disagree on {path} {params}: {seen}"
        return seen[0]

    def open(self, workflow: str, **body: Any) -> dict[str, Any]:
        return dict(self.post("/cases", {"workflow": workflow, **body}, expect=201))

    def fire(self, case_id: int, event: str, **body: Any) -> dict[str, Any]:
        r = self.client.get(f"/cases/{case_id}")
        self._check(r, 200)
        answer = self.client.post(
            f"/cases/{case_id}/events",
            json={"event": event, **body},
            headers={"If-Match": r.headers["ETag"]},
        )
        return dict(self._check(answer, 200))


@pytest.fixture
def http(service: Service) -> Iterator[Http]:
    client = Http(service)
    yield client
    client.close()


def _today_metrics(http: Http, pick: Callable[[dict[str, Any]], Any], **params: Any) -> Any:
    def checked(figures: dict[str, Any]) -> Any:
        assert (figures["date"], figures["final"]) == (today().isoformat(), False), figures
        return pick(figures)

    return http.read("/dashboard/metrics", checked, **params)


def _site() -> str:
    return f"E2E{uuid.uuid4().hex[:6].upper()}"


# -- CHC: the work queue and today's CHC figures --------------------------------------------------
def _queue(q: dict[str, Any]) -> tuple[int, dict[int, tuple[str, str]]]:
    return q["count"], {i["case_id"]: (i["state"], i["rag"]) for i in q["items"]}


def _backlog(figures: dict[str, Any]) -> dict[str, int]:
    chc = figures["chc"]
    assert chc["available"] is True, chc
    totals = {"red": 0, "amber": 0, "green": 0, "referrals": chc["referrals"]}
    for by_rag in chc["backlog_by_rag_and_cohort"].values():
        for rag, n in by_rag.items():
            totals[rag] += n
    return totals


def test_chc_transitions_show_at_once_on_the_work_queue_and_todays_figures(http: Http) -> None:
    count0, items0 = http.read("/queues/chc", _queue)
    figures0 = _today_metrics(http, _backlog)

    case_id = int(http.open("chc", data={"person_name": "Fresh Process"})["id"])
    count, items = http.read("/queues/chc", _queue)
    assert case_id not in items0
    assert (count, items.get(case_id)) == (count0 + 1, ("referred", "green"))
    figures = _today_metrics(http, _backlog)
    assert figures == {
        **figures0,
        "green": figures0["green"] + 1,
        "referrals": figures0["referrals"] + 1,
    }

    # A new fact re-rates the case: red at once, on every worker.
    http.fire(case_id, "update_details", data={"safeguarding_concern": True})
    count, items = http.read("/queues/chc", _queue)
    assert (count, items.get(case_id)) == (count0 + 1, ("referred", "red"))
    figures = _today_metrics(http, _backlog)
    assert figures == {
        **figures0,
        "red": figures0["red"] + 1,
        "referrals": figures0["referrals"] + 1,
    }

    # Withdrawn: off the work list (not a `chc-worklist` state) and out of the backlog.
    http.fire(case_id, "withdraw", data={"withdrawal_reason": "Moved out of the area"})
    count, items = http.read("/queues/chc", _queue)
    assert (count, case_id in items) == (count0, False)
    assert _today_metrics(http, _backlog) == {**figures0, "referrals": figures0["referrals"] + 1}


# -- Intermediate care: service occupancy, the IC report and today's IC figures -------------------
def _service(s: dict[str, Any]) -> tuple[int, int, int]:
    return s["capacity"], s["occupied"], s["free"]


def _ic_figures(report: dict[str, Any], service_id: int) -> dict[str, Any]:
    starts = report["start_within_2_days"]["all_models"]
    occupied = [o["occupied"] for o in report["occupancy"] if o["service_id"] == service_id]
    return {
        "occupied": occupied,
        "starts": (starts["count"], starts["met"], starts["breached"], starts["pending"]),
    }


def test_ic_start_shows_at_once_in_occupancy_the_ic_report_and_todays_figures(
    http: Http,
) -> None:
    site = _site()
    created = http.post(
        "/ic/services",
        {
            "code": f"HOME-{site}",
            "name": f"Home-based IC {site}",
            "site": site,
            "model": "home_based_ic",
            "capacity": 3,
            "reason": "commissioned for the end-to-end test",
        },
        expect=201,
    )
    sid = int(created["id"])
    day = today().isoformat()
    service0 = http.read(f"/ic/services/{sid}", _service)
    report0 = http.read(
        "/ic/report", lambda r: _ic_figures(r, sid), site=site, date_from=day, date_to=day
    )
    dash0 = _today_metrics(http, lambda m: _ic_figures(m["intermediate_care"], sid), site=site)
    assert report0 == dash0 == {"occupied": [service0[1]], "starts": (0, 0, 0, 0)}

    episode = http.open(
        "intermediate_care",
        site=site,
        patient_ref=NHS[5],
        data={"direction": "step_up", "referrer": "gp"},
    )
    eid = int(episode["id"])
    # Referred today: its 2-day start clock counts at once, still running.
    waiting = {"occupied": [service0[1]], "starts": (1, 0, 0, 1)}
    kwargs = {"site": site, "date_from": day, "date_to": day}
    assert http.read("/ic/report", lambda r: _ic_figures(r, sid), **kwargs) == waiting
    assert _today_metrics(http, lambda m: _ic_figures(m["intermediate_care"], sid), site=site) == (
        waiting
    )

    http.fire(eid, "triage", data={"priority": "high", "planned_model": "home_based_ic"})
    http.fire(eid, "assess", data={"personal_goals": "Walk to the shop again"})
    http.fire(eid, "record_transition_plan", data=IC_PLAN)
    started = http.fire(eid, "start_home_based_ic", data={"service_id": sid})
    assert started["case"]["state"] == "active"

    capacity, occupied, free = service0
    assert http.read(f"/ic/services/{sid}", _service) == (capacity, occupied + 1, free - 1)
    occupants = http.read(
        f"/ic/services/{sid}/occupancy", lambda o: sorted(p["case_id"] for p in o["occupants"])
    )
    assert eid in occupants
    active = {"occupied": [occupied + 1], "starts": (1, 1, 0, 0)}
    assert http.read("/ic/report", lambda r: _ic_figures(r, sid), **kwargs) == active
    assert _today_metrics(http, lambda m: _ic_figures(m["intermediate_care"], sid), site=site) == (
        active
    )


# -- Discharge: the RFD list and today's discharge figures (the spell projection) ---------------
def _rfd(rfd: dict[str, Any]) -> dict[int, tuple[str, str | None]]:
    assert rfd["count"] == len(rfd["items"])
    return {i["case_id"]: (i["state"], i["discharge_ready_date"]) for i in rfd["items"]}


def _discharge(figures: dict[str, Any]) -> dict[str, int]:
    d = figures["discharge"]
    return {"nctr_remaining": d["nctr_remaining"], "nctr_on_day": d["nctr_on_day"]}


def _site_row(site: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    def pick(figures: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {k: row[k] for k in ("site", "inpatients", "nctr_remaining")}
            for row in figures["discharge"]["by_site"]
            if row["site"] == site
        ]

    return pick


def test_discharge_transition_shows_at_once_on_the_rfd_list_and_todays_figures(
    http: Http,
) -> None:
    site = _site()
    rfd0 = http.read("/rfd", _rfd)
    figures0 = _today_metrics(http, _discharge)

    case = http.open(
        "discharge",
        site=site,
        patient_ref=NHS[0],
        data={"hospital_system": ORG, "ward": "Ward 7", "admitted_at": london(10, 9)},
        occurred_at=london(10, 10),
        reason="referral entered from the ward",
    )
    case_id = int(case["id"])
    http.fire(
        case_id,
        "accept",
        data={"responsible_person": "Sam Okoro"},
        occurred_at=london(9),
        reason=BACKDATED,
    )
    ready = http.fire(case_id, "not_meeting_ctr", occurred_at=london(4), reason=BACKDATED)
    drd = (today() - timedelta(days=4)).isoformat()
    assert ready["case"]["state"] == "ready_for_discharge"

    # The Ready-for-Discharge list shows the patient at once, on every worker ...
    rfd = http.read("/rfd", _rfd)
    assert case_id not in rfd0
    assert rfd == {**rfd0, case_id: ("ready_for_discharge", drd)}
    # ... and so must today's figures: one more patient not meeting the criteria to reside.
    figures = _today_metrics(http, _discharge)
    assert figures == {
        "nctr_remaining": figures0["nctr_remaining"] + 1,
        "nctr_on_day": figures0["nctr_on_day"] + 1,
    }, f"today's discharge figures before {figures0}, after {figures}"
    assert _today_metrics(http, _site_row(site)) == [
        {"site": site, "inpatients": 1, "nctr_remaining": 1}
    ]
    assert _today_metrics(http, _discharge, site=site) == {"nctr_remaining": 1, "nctr_on_day": 1}
