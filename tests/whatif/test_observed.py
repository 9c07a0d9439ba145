"""The what-if's inputs from a small history written through the real engine (over the API,
as a ward writes it), against counts worked out by hand; and a run over HTTP carried out by
the service's background job, its result computed again from the inputs it stored."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.chc.worklist import worklist_states
from app.timeutil import utcnow
from app.whatif.observed import observe
from app.whatif.service import simulate_inputs
from tests.chc.helpers import ChcApi
from tests.dashboard.ward_month import interface_headers
from tests.ledger.month import Ward

ROLES = ("discharge_team", "ward_clinician", "manager")
WINDOW_DAYS = 56  # whatif.yaml look_back_weeks: 8


def ago(now: datetime, days: float) -> str:
    return (now - timedelta(days=days)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def history(client: TestClient, make_user_module: Any, sessions: Any) -> tuple[Any, Ward, datetime]:
    """By hand, with now = the module's start:

    - A: P1 planned, ready 15 days ago, discharged on P1 10 days ago: a P1 arrival and start.
    - B: P1 planned, ready 5 days ago, still in: a P1 arrival, waiting 5 days.
    - C: P3 planned, ready 90 days ago (before the 56-day window), discharged on P3 3 days ago:
      a P3 start only.
    - D: P2 planned, ready 4 days ago, still in: a P2 arrival, waiting 4 days.
    - E: no planned pathway, ready 29 days ago, discharged on P2 2 days ago (the discharge's
      pathway is its pathway): a P2 arrival and start.
    - F: P1 planned, not meeting the criteria 6 days ago, meeting them again 3 days ago, still
      in: no discharge-ready date now (the final-period rule), so neither an arrival nor waiting
      (the model has no way out of the queue but a start).
    """
    now = utcnow()
    user = make_user_module(*ROLES)
    w = Ward(client, user.headers, interface_headers(sessions, user.org))
    w.admit("A", ago(now, 20))
    w.fire("A", "set_pathway", ago(now, 19), pathway="P1")
    w.fire("A", "not_meeting_ctr", ago(now, 15))
    w.discharge("A", ago(now, 10), "P1")
    w.admit("B", ago(now, 20))
    w.fire("B", "set_pathway", ago(now, 19), pathway="P1")
    w.fire("B", "not_meeting_ctr", ago(now, 5))
    w.admit("C", ago(now, 100))
    w.fire("C", "set_pathway", ago(now, 95), pathway="P3")
    w.fire("C", "not_meeting_ctr", ago(now, 90))
    w.fire("C", "record_ic_offer", ago(now, 4), ic_offer_response="declined")
    w.fire(
        "C",
        "discharge",
        ago(now, 3),
        discharge_pathway="P3",
        destination_code="85",
        exceptional_reason="Needs 24-hour nursing; reablement declined twice",
        exceptional_approver="Dr R Shah",
    )
    w.admit("D", ago(now, 12))
    w.fire("D", "set_pathway", ago(now, 11), pathway="P2")
    w.fire("D", "not_meeting_ctr", ago(now, 4))
    w.admit("E", ago(now, 30))
    w.fire("E", "not_meeting_ctr", ago(now, 29))
    w.discharge("E", ago(now, 2), "P2")
    w.admit("F", ago(now, 8))
    w.fire("F", "set_pathway", ago(now, 7), pathway="P1")
    w.fire("F", "not_meeting_ctr", ago(now, 6))
    w.fire("F", "meets_ctr_again", ago(now, 3))
    # CHC, by an assessor of the same organisation: K1 referred 70 days ago (before the window)
    # and still on the worklist; K2 referred 10 days ago, withdrawn 5 days ago (off the list);
    # K3 referred 20 days ago, still on it. Backlog 2 (70 and 20 days), 2 joined and 1 left in
    # the window, by 1 assessor: 1 / 8 weeks = 0.125 a week each.
    assessor = make_user_module("chc_assessor", org=user.org)
    chc = ChcApi(client, assessor.headers)
    _, k2, _ = (
        chc.open_chc({}, occurred_at=ago(now, days), reason="backlog referral")
        for days in (70, 10, 20)
    )
    chc.fire(
        k2,
        "withdraw",
        occurred_at=ago(now, 5),
        reason="moved out of area",
        data={"withdrawal_reason": "moved out of area"},
    )
    return user, w, now


def _inputs(client: TestClient, sessions: Any, org: str, now: datetime) -> dict[str, Any]:
    state = client.app.state
    with sessions() as session:
        return observe(
            session,
            organisation=org,
            now=now,
            ctx=state.metrics_ctx,
            config=state.whatif_config,
            ledger=state.ledger_config,
            worklist=worklist_states(state.engine),
        )


def test_the_inputs_are_the_counts_of_the_events(
    client: TestClient, sessions: Any, history: Any
) -> None:
    user, _, start = history
    now = utcnow()
    inputs = _inputs(client, sessions, user.org, now)
    p = inputs["pathways"]
    assert {k: (p[k]["arrivals"], p[k]["starts"]) for k in p} == {
        "P1": (2, 1),
        "P2": (2, 1),
        "P3": (0, 1),
    }
    assert p["P1"]["arrivals_per_day"] == 2 / WINDOW_DAYS
    assert p["P2"]["starts_per_day"] == 1 / WINDOW_DAYS
    elapsed = (now - start) / timedelta(days=1)
    assert p["P1"]["waiting_days"] == [pytest.approx(5 + elapsed, abs=1e-3)]
    assert p["P2"]["waiting_days"] == [pytest.approx(4 + elapsed, abs=1e-3)]
    assert p["P3"]["waiting_days"] == []
    # No bed-based IC service or stays: the configured figures, said so.
    config = client.app.state.whatif_config
    assert p["P2"]["community_beds"] == {
        "value": config.community_beds.value,
        "source": "configured",
        "status": config.community_beds.status,
        "basis": p["P2"]["community_beds"]["basis"],
    }
    assert p["P2"]["length_of_stay_days"]["stays"] == 0
    chc = inputs["chc"]
    assert chc["backlog_days"] == [
        pytest.approx(70 + elapsed, abs=1e-3),
        pytest.approx(20 + elapsed, abs=1e-3),
    ]
    assert (chc["arrivals"], chc["completions"]) == (2, 1)
    assert chc["arrivals_per_week"] == 2 / 8
    assert chc["assessors"]["value"] == 1
    assert chc["assessors"]["source"] == "observed"
    assert chc["per_assessor_per_week"]["value"] == 1 / 8
    assert inputs["window"]["days"] == WINDOW_DAYS
    assert "2 spells became ready for discharge on P1" in p["P1"]["basis"]


def _done(client: TestClient, headers: dict[str, str], location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = client.get(location, headers=headers).json()
        if body["status"] in ("done", "failed"):
            return dict(body)
        time.sleep(0.2)
    raise AssertionError(f"{location} not done: {body['status']}")


def test_a_run_posted_is_carried_out_and_reproducible_from_its_record(
    client: TestClient, history: Any, make_user: Any
) -> None:
    user, _, _ = history
    scenario = {"p1_starts_per_day": 5, "community_beds": 2, "chc_assessors": 1}
    r = client.post(
        "/api/v1/whatif",
        json={**scenario, "weeks": 4, "runs": 6, "seed": 42},
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    assert location.endswith(f"/api/v1/whatif/{r.json()['id']}")
    assert r.json()["status"] == "queued"
    body = _done(client, user.headers, location)
    assert body["status"] == "done", body
    assert body["seed"] == 42
    assert body["runs"] == 6
    assert body["weeks"] == 4
    assert body["inputs"]["pathways"]["P1"]["arrivals"] == 2
    result = body["result"]
    assert len(result["weekly"]) == 4
    again = simulate_inputs(body["inputs"], body["scenario"], weeks=4, runs=6, seed=42)
    assert {k: v for k, v in result.items() if k != "seconds"} == again
    # Listed, and as CSV: a line per figure, week and arm.
    listed = client.get("/api/v1/whatif", headers=user.headers).json()
    assert [i["id"] for i in listed["items"]] == [body["id"]]
    assert listed["items"][0]["headline"] == {
        "bed_days_difference_median": result["totals"]["bed_days"]["difference"]["median"],
        "cost_difference_median": result["totals"]["cost"]["difference"]["median"],
    }
    text = client.get(f"{location}/result.csv", headers=user.headers)
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    week1 = [x for x in rows if x["figure"] == "delayed_bed_days" and x["week"] == "1"]
    assert [x["arm"] for x in week1] == ["baseline", "scenario", "difference"]
    assert float(week1[0]["median"]) == result["weekly"][0]["bed_days"]["baseline"]["median"]
    # Another organisation's manager: not found, on the API and the CSV.
    other = make_user("manager")
    for path in (location, f"{location}/result.csv"):
        assert client.get(path, headers=other.headers).status_code == 404, path
    assert client.get("/api/v1/whatif", headers=other.headers).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"community_beds": 10_000}, "community_beds"),
        ({"runs": 0}, "runs"),
        ({"weeks": 60}, "weeks"),
        ({"p1_starts_per_day": "five"}, "p1_starts_per_day"),
        ({"seed": -1}, "seed"),
        ({"scale_to_beds": 1_000_000}, "scale_to_beds"),
        ({"more_beds": 2}, "more_beds"),
    ],
)
def test_a_bad_scenario_is_a_422_naming_the_field(
    client: TestClient, make_user: Any, body: dict[str, Any], field: str
) -> None:
    manager = make_user("manager")
    r = client.post("/api/v1/whatif", json=body, headers=manager.headers)
    assert r.status_code == 422, r.text
    assert field in r.text
    assert r.headers["content-type"].startswith("application/problem+json") or r.json()


def test_only_a_manager_runs_one(client: TestClient, make_user: Any) -> None:
    team = make_user("discharge_team", "analyst")
    r = client.post("/api/v1/whatif", json={}, headers=team.headers)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    assert client.get("/api/v1/whatif", headers=team.headers).status_code == 200
