"""Restated days (issue 16, item 13): a finished day's stored figures never change; when an entry
recorded later changes what the events say about that day, the day is marked, the restatement
job computes it again, and the new figures sit beside the originals with the differences. The
exports say which figures they give."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.codelists.loader import CodeSetRegistry
from app.config import Settings
from app.dashboard.context import MetricsContext, metrics_context
from app.dashboard.restatements import restate
from app.models.snapshot import MetricRestatement, MetricSnapshot, RestatementMark
from app.timeutil import LONDON, utcnow
from tests.helpers import Api

ROLES = ("discharge_team", "ward_clinician", "manager")


@pytest.fixture
def ctx(settings: Settings, codes: CodeSetRegistry) -> MetricsContext:
    return metrics_context(settings, codes)


def _london(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=LONDON).astimezone(UTC).isoformat()


def _get(client: TestClient, user: Any, path: str, **params: Any) -> Any:
    r = client.get(f"/api/v1{path}", params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    return r


def _marks(sessions: sessionmaker[Session], case_id: int) -> list[date]:
    with sessions() as session:
        stmt = select(RestatementMark.day).where(RestatementMark.case_id == case_id)
        return sorted(session.execute(stmt).scalars())


def _restatements(sessions: sessionmaker[Session], site: str) -> int:
    with sessions() as session:
        stmt = select(func.count()).where(MetricRestatement.site == site)
        return int(session.execute(stmt).scalar_one())


def test_a_late_entry_restates_the_finished_days_beside_their_originals(
    client: TestClient, make_user, sessions: sessionmaker[Session], ctx: MetricsContext
) -> None:
    user = make_user(*ROLES)
    api = Api(client, user.headers)
    today = utcnow().astimezone(LONDON).date()
    three, two, one = (today - timedelta(days=n) for n in (3, 2, 1))
    site = f"RS-{uuid.uuid4().hex[:6].upper()}"
    created = api.create(
        "discharge",
        site=site,
        patient_ref="9990000018",
        data={"hospital_system": "LUHFT", "ward": "Ward 9", "admitted_at": _london(three, 9)},
        occurred_at=_london(three, 9),
        reason="admitted",
    )
    case_id = int(created.json()["id"])
    # A case opened today for an admission three days ago may change those days' figures.
    assert _marks(sessions, case_id) == [three]
    # Nobody has read the restatements yet: the job runs before the days are stored here.
    with sessions() as session:
        restate(session, ctx=ctx, now=utcnow())
    assert _marks(sessions, case_id) == []

    # Two finished days stored: the patient meets the criteria to reside on both.
    reported = {
        d: _get(client, user, "/dashboard/metrics", date=str(d), site=site).json()
        for d in (two, one)
    }
    for figures in reported.values():
        assert figures["discharge"]["nctr_remaining"] == 0
        assert (figures["figures"], figures["restatement"]) == ("as_reported", None)

    # The next morning's entry for the ward round two days ago: no longer meeting the criteria
    # since 10:00 that day (recorded now, with the time it happened).
    etag = api.get(case_id).headers["ETag"]
    api.fire(
        case_id, "not_meeting_ctr", etag=etag, occurred_at=_london(two, 10), reason="ward round"
    )
    assert _marks(sessions, case_id) == [two]
    # Until the job runs, the stored day is served as it was.
    before = _get(client, user, "/dashboard/metrics", date=str(two), site=site).json()
    assert before["discharge"] == reported[two]["discharge"]
    assert before["restatement"] is None

    with sessions() as session:
        done = restate(session, ctx=ctx, now=utcnow())
    # Both stored days changed (other tests' late entries may add theirs to the counts).
    assert done.marks >= 1
    assert done.restated >= 2
    assert _marks(sessions, case_id) == []
    assert _restatements(sessions, site) == 2

    for d in (two, one):
        body = _get(client, user, "/dashboard/metrics", date=str(d), site=site).json()
        # The originals are what is served by default, exactly as first stored...
        assert body["figures"] == "as_reported"
        assert body["discharge"] == reported[d]["discharge"]
        assert body["stored_at"] == reported[d]["stored_at"]
        # ...with the restated figures and the differences beside them.
        restatement = body["restatement"]
        assert restatement["as_reported"] == reported[d]["discharge"]
        assert restatement["restated"]["nctr_remaining"] == 1
        assert "discharge.nctr_remaining: 0 != 1" in restatement["differences"]
        restated = _get(
            client, user, "/dashboard/metrics", date=str(d), site=site, figures="restated"
        ).json()
        assert restated["figures"] == "restated"
        assert restated["discharge"] == restatement["restated"]
    # The managers' page says the day was restated and links to the restated figures.
    browser = TestClient(client.app)
    browser.headers["Origin"] = "http://testserver"
    r = browser.post("/sign-in/token", data={"token": user.token, "next": "/dashboard"})
    assert r.status_code == 200, r.text
    page = browser.get("/dashboard", params={"date": str(two), "site": site}).text
    assert 'id="restated"' in page
    assert "figures=restated" in page
    # The stored rows themselves never changed.
    with sessions() as session:
        rows = session.execute(select(MetricSnapshot).where(MetricSnapshot.site == site)).scalars()
        assert all(r.payload["discharge"]["nctr_remaining"] == 0 for r in rows)

    # The series says which days were restated, and gives the figures asked for.
    span = {"from": str(two), "to": str(one), "site": site}
    series = _get(client, user, "/dashboard/series", **span).json()
    assert [(i["restated"], i["nctr_remaining"]) for i in series["items"]] == [(True, 0)] * 2
    series = _get(client, user, "/dashboard/series", figures="restated", **span).json()
    assert [(i["restated"], i["nctr_remaining"]) for i in series["items"]] == [(True, 1)] * 2

    # The daily return says in its last two columns which figures each row gives.
    r = _get(client, user, "/dashboard/exports/acute-discharge-daily.csv", **span)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    left = "Number of patients remaining in hospital who no longer meet the criteria to reside"
    assert [(x[left], x["Figures"], bool(x["Restated at"])) for x in rows] == [
        ("0", "as reported", True)
    ] * 2
    r = _get(
        client, user, "/dashboard/exports/acute-discharge-daily.csv", figures="restated", **span
    )
    assert r.headers["content-disposition"].endswith('-restated.csv"')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x[left], x["Figures"]) for x in rows] == [("1", "restated")] * 2

    # A second run restates nothing more of these days; an entry timed today marks nothing.
    with sessions() as session:
        restate(session, ctx=ctx, now=utcnow())
    assert _restatements(sessions, site) == 2
    etag = api.get(case_id).headers["ETag"]
    api.fire(
        case_id, "raise_escalation", etag=etag, reason="today", data={"escalation_reason": "x"}
    )
    assert _marks(sessions, case_id) == []


def test_figures_refuses_an_unknown_choice(client: TestClient, make_user) -> None:
    user = make_user(*ROLES)
    r = client.get(
        "/api/v1/dashboard/series",
        params={"from": "2026-11-01", "to": "2026-11-02", "figures": "latest"},
        headers=user.headers,
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
