"""Demo data loads through the real engine, once, and its token works."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.cases.repository import CaseRepository
from app.demo import DEMO_ORG, DEMO_USER, load_demo
from app.engine.replay import replay
from app.models import Case, User


def test_demo_loads_once_and_issues_a_working_token(sessions, engine, client: TestClient) -> None:
    first = load_demo(sessions, engine, now=datetime.now(UTC))
    second = load_demo(sessions, engine, now=datetime.now(UTC))
    assert (first.cases_created, second.cases_created) == (5, 0)
    assert first.token.token != second.token.token
    with sessions() as session:
        assert len(session.execute(select(User).where(User.username == DEMO_USER)).all()) == 1
        cases = session.execute(select(Case).where(Case.organisation == DEMO_ORG)).scalars().all()
        assert sorted(c.state for c in cases) == [
            "active",
            "completed",
            "on_hold",
            "received",
            "triaged",
        ]
        for case in cases:
            assert (
                replay(engine.catalogue, CaseRepository(session).events(case.id)).state
                == case.state
            )
    headers = {"Authorization": f"Bearer {second.token.token}"}
    listed = client.get("/api/v1/cases", params={"organisation": DEMO_ORG}, headers=headers)
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 5
