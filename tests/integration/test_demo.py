"""Demo data loads through the real engine, once, and its token works."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.cases.repository import CaseRepository
from app.chc.config import chc_config
from app.composition import workflows
from app.config import PROJECT_ROOT
from app.demo import DEMO_ORG, DEMO_USER, load_demo
from app.engine.replay import replay
from app.models import Case, User
from tests.helpers import writer_for


def test_demo_loads_once_and_issues_a_working_token(sessions, engine, client: TestClient) -> None:
    cfg = chc_config(PROJECT_ROOT / "pathways" / "config")
    # Other tests of the run may write into the demo's organisation of the shared database
    # (the PAS feed's shipped interfaces send for it): the demo's cases are the ones it adds.
    with sessions() as session:
        already = set(session.scalars(select(Case.id).where(Case.organisation == DEMO_ORG)))
    first = load_demo(sessions, writer_for(engine), workflows(), chc_cfg=cfg, now=datetime.now(UTC))
    second = load_demo(sessions, writer_for(engine), workflows(), now=datetime.now(UTC))
    assert (first.cases_created, second.cases_created) == (22, 0)
    assert first.token.token != second.token.token
    with sessions() as session:
        assert len(session.execute(select(User).where(User.username == DEMO_USER)).all()) == 1
        cases = [
            c
            for c in session.execute(select(Case).where(Case.organisation == DEMO_ORG)).scalars()
            if c.id not in already
        ]
        # 8 IC demo episodes, and the step-down episode the demo's P1 discharge opened.
        counts = Counter(c.workflow_key for c in cases)
        assert {k: v for k, v in counts.items() if k != "chc"} == {
            "sample-referral": 5,
            "discharge": 9,
            "intermediate_care": 9,
        }
        for case in cases:
            events = CaseRepository(session).events(case.id)
            assert replay(engine.catalogue, events).state == case.state
    headers = {"Authorization": f"Bearer {second.token.token}"}
    listed = client.get(
        "/api/v1/cases", params={"organisation": DEMO_ORG, "limit": 200}, headers=headers
    )
    assert listed.status_code == 200
    demo_items = [c for c in listed.json()["items"] if c["id"] not in already]
    assert len(demo_items) == 23 + counts["chc"], Counter(
        (c["workflow"], c["organisation"]) for c in demo_items
    )
    # The demo ward picture: delayed patients with their reasons on the RFD list.
    rfd = client.get("/api/v1/rfd", headers=headers).json()
    demo_ids = {c["id"] for c in demo_items}
    demo_rows = [r for r in rfd["items"] if r["case_id"] in demo_ids]
    assert len(demo_rows) == 6
    longest = max(demo_rows, key=lambda r: r["days_since_drd"])
    assert longest["days_since_drd"] == 23
    assert longest["escalated"] is True
    assert longest["primary_reason"]["code"] == "capacity-residential-nursing-home"
    # The CHC backlog: the three sample lists and this week's referrals, merged, in every tier.
    assert counts["chc"] >= 15
    queue = client.get("/api/v1/queues/chc", params={"limit": 200}, headers=headers).json()
    assert {item["rag"] for item in queue["items"]} == {"red", "amber", "green"}
