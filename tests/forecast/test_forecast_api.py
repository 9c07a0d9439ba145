"""/api/v1/forecast and /dashboard/forecast on a queue written through the API: the pace, the
order and the windows are those the events give, patients are scoped and audited, CSV cells are
neutralised, and the backtest scores what has happened."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.calc.nhs_number import nhs_number_check_digit
from app.timeutil import utcnow
from tests.helpers import Api

WHY = "entered from the ward's paper record"
DAY = timedelta(days=1)


def nhs(n: int) -> str:
    """The n-th valid NHS number of a test range of the 999 numbers kept for testing."""
    found = 0
    for i in range(10_000):
        digit = nhs_number_check_digit(f"99955{i:04d}")
        if digit is not None:
            if found == n:
                return f"99955{i:04d}{digit}"
            found += 1
    raise AssertionError(n)


class Queue:
    """Discharge patients of one organisation, written as the ward would, times relative to now."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.api = Api(client, headers)
        self.now = utcnow().replace(microsecond=0)
        self.ids: list[int] = []
        self.etags: dict[int, str] = {}  # each case's version after our last write

    def _at(self, days_ago: float) -> str:
        return (self.now - days_ago * DAY).isoformat()

    def patient(
        self,
        ref: int,
        ready_days_ago: float,
        pathway: str = "P1",
        accept: bool = False,
        at_open: bool = False,
    ) -> int:
        admitted = ready_days_ago + 4
        body = {"hospital_system": "LUHFT", "ward": "Ward 9", "admitted_at": self._at(admitted)}
        if at_open:  # the pathway planned when the case is opened
            body["pathway"] = pathway
        r = self.api.create(
            "discharge",
            site="FC-SITE",
            patient_ref=nhs(ref),
            data=body,
            occurred_at=self._at(admitted),
            reason=WHY,
        )
        case_id = int(r.json()["id"])
        self.ids.append(case_id)
        self.etags[case_id] = r.headers["ETag"]
        if accept:  # the pathway chosen when the hub accepts the referral
            self.fire(
                case_id, "accept", admitted - 0.1, responsible_person="J. Doyle", pathway=pathway
            )
        elif not at_open:
            self.fire(case_id, "set_pathway", admitted - 0.1, pathway=pathway)
        self.fire(case_id, "not_meeting_ctr", ready_days_ago)
        return case_id

    def fire(self, case_id: int, event: str, days_ago: float, **data: Any) -> None:
        r = self.api.fire(
            case_id,
            event,
            etag=self.etags[case_id],
            occurred_at=self._at(days_ago),
            reason=WHY,
            data=data,
        )
        self.etags[case_id] = r.headers["ETag"]

    def discharge(self, case_id: int, days_ago: float, pathway: str = "P1") -> None:
        self.fire(case_id, "discharge", days_ago, discharge_pathway=pathway, destination_code="19")


def _build(client: TestClient, headers: dict[str, str]) -> tuple[Queue, list[int]]:
    q = Queue(client, headers)
    # Four left the P1 queue by starting in the last 28 days; one started 40 days ago (outside
    # the window); one waiting for P2 does not count.
    for n, (ready, left) in enumerate([(12, 10), (9, 7), (6, 3), (4, 2), (45, 40)]):
        q.discharge(q.patient(n, ready), left)
    q.patient(10, 3, pathway="P2")
    # Three wait for P1 now: in order of when their wait began.
    waiting = [
        q.patient(11, 1.5),
        q.patient(12, 5, accept=True),
        q.patient(13, 3),
    ]
    return q, [waiting[1], waiting[2], waiting[0]]


def test_queues_windows_and_csv_follow_the_events(client: TestClient, make_user: Any) -> None:
    manager = make_user("discharge_team", "manager")
    _q, in_order = _build(client, manager.headers)
    r = client.get("/api/v1/forecast/queues", headers=manager.headers)
    assert r.status_code == 200, r.text
    queues = {q["queue"]: q for q in r.json()["queues"]}
    p1 = queues["P1"]
    assert p1["waiting"] == 3
    assert p1["pace"]["exits"] == 4
    assert p1["pace"]["started"] == 4
    assert p1["pace"]["window"]["days"] == 28
    assert queues["P2"]["waiting"] == 1
    assert queues["P2"]["pace"]["exits"] == 0
    assert "No one left the Pathway 2 queue" in queues["P2"]["basis"]

    r = client.get("/api/v1/forecast/windows?queue=P1", headers=manager.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["items"]
    assert [i["case_id"] for i in items] == in_order
    assert [i["place"] for i in items] == [1, 2, 3]
    assert {i["of"] for i in items} == {3}
    likely = [datetime.fromisoformat(i["likely"]).date() for i in items]
    assert likely == sorted(likely)
    for i in items:
        assert i["earliest"] <= i["likely"] <= i["latest"]
        assert i["patient_ref"] is not None
    assert items[0]["basis"].startswith("1st of 3 waiting for Pathway 1")
    # The same events give the same windows: the draws are seeded by the queue and the day.
    again = client.get("/api/v1/forecast/windows?queue=P1", headers=manager.headers).json()
    assert again["items"] == items
    assert "4 left the Pathway 1 queue in the 28 days" in items[0]["basis"]

    r = client.get("/api/v1/forecast/windows.csv?queue=P1", headers=manager.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["case_id"]) for row in rows] == in_order
    assert rows[0]["nhs_number"] == nhs(12)

    # The reads of patients are audited, with the cases read.
    officer = make_user("ig_officer", org=manager.org)
    r = client.get(
        "/api/v1/audit", params={"user": manager.actor.username}, headers=officer.headers
    )
    assert r.status_code == 200, r.text
    reads = [a for a in r.json()["items"] if a["endpoint"] == "/api/v1/forecast/windows.csv"]
    assert reads
    assert sorted(reads[0]["case_ids"]) == sorted(in_order)


def test_scoped_to_the_organisation_and_identifiers_withheld(
    client: TestClient, make_user: Any
) -> None:
    manager = make_user("discharge_team", "manager")
    _build(client, manager.headers)
    stranger = make_user("manager")
    r = client.get("/api/v1/forecast/windows", headers=stranger.headers)
    assert r.status_code == 200
    assert r.json()["count"] == 0
    analyst = make_user("analyst", org=manager.org)
    r = client.get("/api/v1/forecast/windows?queue=P1", headers=analyst.headers)
    assert r.status_code == 200
    assert r.json()["count"] == 3
    assert {i["patient_ref"] for i in r.json()["items"]} == {None}
    ward = make_user("ward_clinician", org=manager.org)
    assert client.get("/api/v1/forecast/windows", headers=ward.headers).status_code == 403
    r = client.get("/api/v1/forecast/windows?queue=P9", headers=manager.headers)
    assert r.status_code == 422
    assert "unknown queue" in r.text


def test_backtest_scores_what_happened(client: TestClient, make_user: Any) -> None:
    manager = make_user("discharge_team", "manager")
    q = Queue(client, manager.headers)
    # A P1 queue over the past 15 weeks: one ready each day, each starting two days later.
    for n in range(105):
        ready = 110 - n
        q.discharge(q.patient(20 + n, ready, at_open=True), ready - 2)
    r = client.get("/api/v1/forecast/backtest", headers=manager.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    p1 = next(s for s in body["queues"] if s["queue"] == "P1")
    # Weekly as-at days over 12 weeks; at each midnight two (or three) are waiting, started by
    # the steady one-a-day pace: every estimate ends in a start and is scored.
    assert len(body["as_at_days"]) == 12
    assert p1["estimates"] >= 24
    assert p1["scored"] == p1["estimates"]
    assert p1["mae_days"] is not None
    assert p1["mae_days"] <= 1
    assert p1["coverage"] is not None
    assert p1["coverage"] >= 0.8
    r = client.get("/api/v1/forecast/backtest.csv", headers=manager.headers)
    assert r.status_code == 200
    assert "mae_days" in r.text.splitlines()[0]


def test_clearance_and_the_page(client: TestClient, make_user: Any) -> None:
    manager = make_user("discharge_team", "manager", "chc_assessor")
    _build(client, manager.headers)
    r = client.get("/api/v1/forecast/clearance", headers=manager.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["backlog"] == 0
    assert body["weeks_to_clear"]["likely"] == 0
    assert len(body["fan"]) == 12
    assert client.get("/api/v1/forecast/clearance.csv", headers=manager.headers).status_code == 200

    browser = TestClient(client.app)
    browser.headers["Origin"] = "http://testserver"
    assert browser.post("/sign-in/token", data={"token": manager.token}).status_code in (200, 303)
    page = browser.get("/dashboard/forecast")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-queue="P1"' in html
    assert "Backtest" in html
    assert "1st of 3 waiting for Pathway 1" in html
