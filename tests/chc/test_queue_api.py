"""The assessor work queue: RAG order explained, refresh, audited overrides, claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.chc import queue
from app.chc.repository import ChcRepository
from app.chc.worklist import refresh
from app.db import UnitOfWork
from app.engine.engine import Engine
from app.errors import DomainError
from tests.chc.helpers import CFG, ChcApi
from tests.helpers import ago

WHY = "referral received earlier"


def _open(api: ChcApi, days: float, **data: object) -> int:
    return api.open_chc(dict(data), occurred_at=ago(days=days), reason=WHY)


def test_queue_is_ordered_by_rag_then_waiting_time_and_says_why(
    client: TestClient, make_user
) -> None:
    api = ChcApi(client, make_user("chc_assessor").headers)
    green = _open(api, 3, person_name="Gwen Green")
    amber_40 = _open(api, 40)
    red_safeguarding = _open(api, 5, safeguarding_concern=True)
    red_300 = _open(api, 300)
    amber_100 = _open(api, 100)
    q = api.queue()
    assert [i["case_id"] for i in q["items"]] == [
        red_300,
        red_safeguarding,
        amber_100,
        amber_40,
        green,
    ]
    assert [i["rag"] for i in q["items"]] == ["red", "red", "amber", "amber", "green"]
    assert [i["position"] for i in q["items"]] == [1, 2, 3, 4, 5]
    assert q["ordering"].startswith("Red before Amber before Green")
    first, second, last = q["items"][0], q["items"][1], q["items"][4]
    assert first["ordering"] == (
        "#1: Red (incomplete referral 26 weeks or more beyond the 28 days "
        f"(300 days since referral)); then 300 days "
        f"waiting since referral on {first['referral_date']}; then case {red_300}"
    )
    assert [r["rule_id"] for r in second["reasons"]] == ["safeguarding_concern"]
    assert last["person_name"] == "Gwen Green"
    assert last["reasons"] == [
        {
            "rule_id": "green",
            "colour": "green",
            "text": "no risk factor fired: within the 28-day standard, no flags",
        }
    ]
    assert [i["case_id"] for i in api.queue(rag="amber")["items"]] == [amber_100, amber_40]
    assert api.queue(limit=2)["count"] == 5


def test_ratings_refresh_when_facts_change_and_overrides_are_audited(
    client: TestClient, make_user
) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    case_id = _open(api, 3)
    assert api.chc_case(case_id)["work_item"]["rag"] == "green"
    api.fire(case_id, "update_details", data={"safeguarding_concern": True})
    item = api.chc_case(case_id)["work_item"]
    assert (item["rag"], item["computed_rag"]) == ("red", "red")

    r = api.post(
        f"/chc/cases/{case_id}/rag-override",
        rag="amber",
        reason="safeguarding plan in place since Monday",
    )
    body = r.json()
    assert (body["rag"], body["computed_rag"]) == ("amber", "red")
    assert body["override"]["reason"] == "safeguarding plan in place since Monday"
    assert body["ordering"].startswith(
        f"Amber (overridden from Red by {user.actor.username}: safeguarding plan in place"
    )
    # A refresh keeps the override: the computed colour is unchanged underneath.
    assert api.queue()["items"][0]["rag"] == "amber"
    api.post(f"/chc/cases/{case_id}/rag-override", rag=None, reason="plan reviewed; back to rules")
    assert api.chc_case(case_id)["work_item"]["rag"] == "red"

    r = api.post(f"/chc/cases/{case_id}/rag-override", expect=422, rag="green", reason="")
    assert r.json()["code"] == "validation_failed"
    manager = ChcApi(client, make_user("manager", org=user.org).headers)
    r = manager.post(f"/chc/cases/{case_id}/rag-override", expect=403, rag="green", reason="x y z")
    assert r.json()["code"] == "forbidden"

    history = client.get(f"/api/v1/chc/cases/{case_id}/rag-history", headers=manager.headers).json()
    assert [(h["rag"], [r["rule_id"] for r in h["reasons"]]) for h in history["ratings"]] == [
        ("green", ["green"]),
        ("red", ["safeguarding_concern"]),
    ]
    assert [
        (o["rag"], o["previous_rag"], o["computed_rag"], o["by"], o["role"])
        for o in history["overrides"]
    ] == [
        ("amber", "red", "red", user.actor.username, "chc_assessor"),
        (None, "amber", "red", user.actor.username, "chc_assessor"),
    ]


def test_ratings_refresh_as_time_passes(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    case_id = _open(api, 20)
    assert api.chc_case(case_id)["work_item"]["rag"] == "green"
    later = datetime.now(UTC) + timedelta(days=10)
    with sessions() as session, UnitOfWork(session):
        report = refresh(ChcRepository(session), CFG, organisation=user.org, now=later)
    assert (report.examined, report.rerated) == (1, 1)
    with sessions() as session, UnitOfWork(session):
        again = refresh(ChcRepository(session), CFG, organisation=user.org, now=later)
    assert (again.examined, again.rerated, again.updated) == (1, 0, 0)
    history = client.get(f"/api/v1/chc/cases/{case_id}/rag-history", headers=user.headers).json()
    assert [(h["rag"], h["reasons"][0]["text"]) for h in history["ratings"]] == [
        ("green", "no risk factor fired: within the 28-day standard, no flags"),
        ("amber", "beyond the 28-day standard (30 days since referral)"),
    ]


def test_claim_release_reassign(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    sam = make_user("chc_assessor", org=jo.org)
    manager = make_user("manager", org=jo.org)
    jo_api, sam_api = ChcApi(client, jo.headers), ChcApi(client, sam.headers)
    older, newer = _open(jo_api, 50), _open(jo_api, 30)

    mine = jo_api.post("/queues/chc/claim").json()
    assert mine["case_id"] == older
    assert mine["claim"]["assessor"] == jo.actor.username
    assert mine["claim"]["expired"] is False
    expires = datetime.fromisoformat(mine["claim"]["expires_at"])
    claimed = datetime.fromisoformat(mine["claim"]["claimed_at"])
    assert expires - claimed == timedelta(hours=4)
    r = jo_api.post("/queues/chc/claim", expect=409)
    assert (r.json()["code"], r.json()["held_case_ids"]) == ("claim_limit_reached", [older])
    assert sam_api.post("/queues/chc/claim").json()["case_id"] == newer
    r = ChcApi(client, make_user("chc_assessor", org=jo.org).headers).post(
        "/queues/chc/claim", expect=404
    )
    assert r.json()["code"] == "queue_empty"
    assert [i["case_id"] for i in jo_api.queue(unclaimed_only=True)["items"]] == []

    r = sam_api.post(f"/queues/chc/{older}/release", expect=403)
    assert r.json()["code"] == "not_claim_holder"
    r = ChcApi(client, manager.headers).post("/queues/chc/claim", expect=403)
    assert r.json()["code"] == "forbidden"
    released = jo_api.post(f"/queues/chc/{older}/release", reason="waiting for records").json()
    assert released["claim"] is None
    r = jo_api.post(f"/queues/chc/{older}/release", expect=409)
    assert r.json()["code"] == "not_claimed"

    r = sam_api.post(
        f"/queues/chc/{newer}/reassign", to=manager.actor.username, reason="cover", expect=422
    )
    assert r.json()["errors"] == [{"field": "to", "problem": "not an active chc_assessor here"}]
    moved = sam_api.post(
        f"/queues/chc/{newer}/reassign", to=jo.actor.username, reason="Jo knows the family"
    )
    assert moved.json()["claim"]["assessor"] == jo.actor.username
    log = client.get(f"/api/v1/chc/cases/{newer}/rag-history", headers=jo.headers).json()["claims"]
    assert [(c["action"], c["assessor"], c["by"]) for c in log] == [
        ("claimed", sam.actor.username, sam.actor.username),
        ("reassigned", jo.actor.username, sam.actor.username),
    ]
    assert log[1]["reason"] == "Jo knows the family"


def test_claims_lapse_after_the_configured_time(
    client: TestClient, make_user, sessions: sessionmaker[Session], engine: Engine
) -> None:
    jo = make_user("chc_assessor")
    sam = make_user("chc_assessor", org=jo.org)
    case_id = _open(ChcApi(client, jo.headers), 10)
    now = datetime.now(UTC)
    with sessions() as session:
        first = queue.claim_next(session, engine=engine, cfg=CFG, actor=jo.actor, now=now)
    assert first.case_id == case_id
    with sessions() as session, pytest.raises(DomainError) as err:
        queue.claim_next(
            session, engine=engine, cfg=CFG, actor=sam.actor, now=now + timedelta(hours=3)
        )
    assert err.value.code == "queue_empty"
    lapsed = now + CFG.local.claims.ttl_delta + timedelta(seconds=1)
    with sessions() as session:
        taken = queue.claim_next(session, engine=engine, cfg=CFG, actor=sam.actor, now=lapsed)
    assert (taken.case_id, taken.claim.assessor if taken.claim else None) == (
        case_id,
        sam.actor.username,
    )
    log = client.get(f"/api/v1/chc/cases/{case_id}/rag-history", headers=jo.headers).json()[
        "claims"
    ]
    assert [(c["action"], c["assessor"], c["by"]) for c in log] == [
        ("claimed", jo.actor.username, jo.actor.username),
        ("expired", jo.actor.username, "system"),
        ("claimed", sam.actor.username, sam.actor.username),
    ]
    # Jo's lapsed claim no longer counts against Jo's limit.
    with sessions() as session, pytest.raises(DomainError) as err:
        queue.claim_next(session, engine=engine, cfg=CFG, actor=jo.actor, now=lapsed)
    assert err.value.code == "queue_empty"
