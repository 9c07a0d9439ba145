"""Restated days as deployed (issue 16, item 13): the service in its own process stores two
finished days, a late entry arrives over HTTP, and `homefirst metrics restate`, a fresh process
that builds everything from the files and the database, restates both days beside the stored
originals; a second run has nothing to do."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest

from app.timeutil import LONDON, utcnow
from tests.conftest import migrated_database_url
from tests.servers import HOMEFIRST_SERVE, process_env, run_python, running_service

USER = "restate.manager"
ORG = "RESTATE-ORG"
SITE = "RESTATE-SITE"


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    url = migrated_database_url(backend, tmp_path, request)
    env = process_env(url)
    roles = "discharge_team,ward_clinician,manager"
    run_python(["-m", "app.cli", "users", "add", USER, "--org", ORG, "--roles", roles], env)
    token = run_python(["-m", "app.cli", "tokens", "create", USER, "--label", "restate"], env)
    return url, token.split()[0]


def _london(day: object, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=LONDON).astimezone(UTC).isoformat()  # type: ignore[arg-type]


def test_homefirst_metrics_restate_in_a_fresh_process(
    database: tuple[str, str], tmp_path: Path
) -> None:
    url, token = database
    today = utcnow().astimezone(LONDON).date()
    three, two, one = (today - timedelta(days=n) for n in (3, 2, 1))
    with running_service(
        url, command=(*HOMEFIRST_SERVE, "--no-background"), log=tmp_path / "web.log"
    ) as web:
        with httpx.Client(
            base_url=f"{web.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http:
            created = http.post(
                "/cases",
                json={
                    "workflow": "discharge",
                    "site": SITE,
                    "patient_ref": "9990000018",
                    "data": {
                        "hospital_system": "LUHFT",
                        "ward": "Ward 9",
                        "admitted_at": _london(three, 9),
                    },
                    "occurred_at": _london(three, 9),
                    "reason": "admitted",
                },
            )
            assert created.status_code == 201, created.text
            case_id = created.json()["id"]
            env = process_env(url)
            for d in (two, one):
                stored = http.get("/dashboard/metrics", params={"date": str(d), "site": SITE})
                assert stored.json()["discharge"]["nctr_remaining"] == 0
            fired = http.post(
                f"/cases/{case_id}/events",
                json={
                    "event": "not_meeting_ctr",
                    "occurred_at": _london(two, 10),
                    "reason": "ward round entered next morning",
                    "data": {},
                },
                headers={"If-Match": created.headers["ETag"]},
            )
            assert fired.status_code == 200, fired.text
            out = run_python(["-m", "app.cli", "metrics", "restate"], env)
            # Two marks: the case opened today for an admission three days ago, and the entry
            # for two days ago; of the stored days (two and one), both changed.
            assert (
                f"2 late entr(ies) from {three}: 2 stored day(s) computed again, 2 restated" in out
            )
            again = run_python(["-m", "app.cli", "metrics", "restate"], env)
            assert "nothing to restate" in again
            for d in (two, one):
                body = http.get("/dashboard/metrics", params={"date": str(d), "site": SITE}).json()
                assert body["discharge"]["nctr_remaining"] == 0  # as reported
                assert body["restatement"]["restated"]["nctr_remaining"] == 1
