"""Demo data loads through the real engine, once, and its token works."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

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
    with sessions() as session:
        assert len(session.execute(select(User).where(User.username == DEMO_USER)).all()) == 1
        cases = [
            c
            for c in session.execute(select(Case).where(Case.organisation == DEMO_ORG)).scalars()
            if c.id not in already
        ]
        # The queues' past (app/discharge/demo_history.py, app/demo/chc_history.py): spells and
        # CHC cases of their own NHS number ranges, and the step-down IC episodes their P1 and P2
        # discharges opened.
        of_history = [c for c in cases if (c.patient_ref or "")[:4] in ("9994", "9995")]
        history = [c for c in of_history if c.workflow_key != "intermediate_care"]
        stepped_down = [
            c
            for c in history
            if c.workflow_key == "discharge"
            and c.attributes.get("discharge_pathway") in ("P1", "P2")
        ]
        assert {c.workflow_key for c in history} == {"discharge", "chc"}
        assert len(stepped_down) == len(of_history) - len(history) > 0
        assert (first.cases_created, second.cases_created) == (22 + len(history), 0)
        # 8 IC demo episodes, and the step-down episode the demo's P1 discharge opened.
        counts = Counter(c.workflow_key for c in cases)
        by_workflow = Counter(c.workflow_key for c in history)
        assert {k: v for k, v in counts.items() if k != "chc"} == {
            "sample-referral": 5,
            "discharge": 9 + by_workflow["discharge"],
            "intermediate_care": 9 + len(stepped_down),
        }
        for case in cases:
            events = CaseRepository(session).events(case.id)
            assert replay(engine.catalogue, events).state == case.state
    headers = {"Authorization": f"Bearer {second.token.token}"}
    listed: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"organisation": DEMO_ORG, "limit": 200} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/cases", params=params, headers=headers)
        assert page.status_code == 200
        listed += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    demo_items = [c for c in listed if c["id"] not in already]
    assert len(demo_items) == len(cases), Counter(
        (c["workflow"], c["organisation"]) for c in demo_items
    )
    # The demo ward picture: delayed patients with their reasons on the RFD list (the
    # history's patients still waiting are on it too).
    rfd = client.get("/api/v1/rfd", headers=headers).json()
    assert rfd["complete"] is True
    demo_ids = {c["id"] for c in demo_items}
    demo_rows = [r for r in rfd["items"] if r["case_id"] in demo_ids]
    made_by_hand = [r for r in demo_rows if not r["nhs_number"].startswith("9994")]
    assert len(made_by_hand) == 6
    longest = max(made_by_hand, key=lambda r: r["days_since_drd"])
    assert longest["days_since_drd"] == 23
    assert longest["escalated"] is True
    assert longest["primary_reason"]["code"] == "capacity-residential-nursing-home"
    # The history's patients still in hospital, ready, are waiting for their service.
    waiting = {
        c.id
        for c in history
        if c.workflow_key == "discharge" and c.state in ("ready_for_discharge", "awaiting_support")
    }
    assert waiting
    assert {r["case_id"] for r in demo_rows} == waiting | {r["case_id"] for r in made_by_hand}
    # The CHC backlog: the three sample lists and this week's referrals, merged, in every tier.
    assert counts["chc"] >= 15
    queue = client.get("/api/v1/queues/chc", params={"limit": 200}, headers=headers).json()
    assert {item["rag"] for item in queue["items"]} == {"red", "amber", "green"}
