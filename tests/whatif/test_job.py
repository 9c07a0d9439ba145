"""The what-if job's lease: a run left `running` by a job that died is taken again once its
lease has run out, not before; a run that keeps failing ends `failed` with the kind of error."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.models import WhatIfRun
from app.timeutil import utcnow
from app.whatif.service import MAX_ATTEMPTS, run_pending
from tests.whatif.conftest import carry_out, job


def _queued(client: TestClient, manager: Any) -> int:
    r = client.post(
        "/api/v1/whatif", json={"weeks": 1, "runs": 2, "seed": 5}, headers=manager.headers
    )
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def _set(client: TestClient, run_id: int, **values: Any) -> None:
    with client.app.state.sessions() as session:
        run = session.get(WhatIfRun, run_id)
        for name, value in values.items():
            setattr(run, name, value)
        session.commit()


def _status(client: TestClient, manager: Any, run_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/whatif/{run_id}", headers=manager.headers).json())


def test_a_run_whose_job_died_is_taken_again_when_its_lease_runs_out(
    quiet: TestClient, make_user: Any
) -> None:
    manager = make_user("manager")
    run_id = _queued(quiet, manager)
    # A job claimed it and died: running, its lease still good for a minute.
    _set(
        quiet,
        run_id,
        status="running",
        lease_owner="whatif-died",
        lease_expires_at=utcnow() + timedelta(minutes=1),
        attempts=1,
    )
    assert carry_out(quiet, run_id) == 0
    assert _status(quiet, manager, run_id)["status"] == "running"
    _set(quiet, run_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    assert carry_out(quiet, run_id) == 1
    body = _status(quiet, manager, run_id)
    assert body["status"] == "done"
    assert body["result"]["runs"] == 2


def test_a_run_that_keeps_failing_is_failed_with_the_kind_of_error(
    quiet: TestClient, make_user: Any, monkeypatch: Any
) -> None:
    manager = make_user("manager")
    run_id = _queued(quiet, manager)

    def broken(*_: Any, **__: Any) -> None:
        raise ZeroDivisionError("a message that might quote data")

    monkeypatch.setattr("app.whatif.service.simulate_inputs", broken)
    parts = job(quiet)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert run_pending(parts, only=run_id) == 1
        body = _status(quiet, manager, run_id)
        assert body["status"] == ("failed" if attempt == MAX_ATTEMPTS else "queued")
    assert body["error"] == f"ZeroDivisionError (after {MAX_ATTEMPTS} attempts)"
    assert "quote" not in body["error"]
