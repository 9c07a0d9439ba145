"""Referrals between partners (issue 17 item 3), on both databases: a discharge case sends a
referral to the hub and a provider; the receiving organisation works it in its own queue; the
referring case records every status at once; each partner sees what it needs and nothing more."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.actions.repository import ActionRepository
from app.models import CaseShareChange, Notification
from tests.discharge.helpers import NHS, TEAM, open_case, today
from tests.helpers import Api

HUB = "LIV-CTH"  # pathways/config/partners.yaml
PROVIDER = "MERSEY-REABLE"
COUNCIL = "SEFTON-COUNCIL"
EVERY = (
    "discharge_team",
    "ward_clinician",
    "social_worker",
    "provider",
    "chc_assessor",
    "ic_coordinator",
    "ic_triager",
    "broker",
    "trusted_assessor",
    "manager",
)


def _send(
    client: TestClient,
    user: Any,
    case_id: int,
    org: str,
    kind: str,
    expect: int = 201,
    **extra: Any,
) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"organisation": org, "kind": kind, **extra},
        headers=user.headers,
    )
    assert r.status_code == expect, r.text
    return dict(r.json())


def _move(
    client: TestClient, user: Any, task: int, event: str, expect: int = 200, **data: Any
) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/referrals/{task}/events",
        json={"event": event, "data": data},
        headers=user.headers,
    )
    assert r.status_code == expect, r.text
    return dict(r.json())


def _sent(client: TestClient, user: Any, case_id: int) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/cases/{case_id}/referrals", headers=user.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


def _updates(api: Api, case_id: int) -> list[dict[str, Any]]:
    return [e["data"] for e in api.history(case_id) if e["event"] == "referral_update"]


def _sees(client: TestClient, user: Any, case_id: int) -> int:
    return client.get(f"/api/v1/cases/{case_id}", headers=user.headers).status_code


def test_ward_to_hub_to_provider(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    trust = make_user(*TEAM)
    hub = make_user("discharge_team", org=HUB)
    provider = make_user("provider", org=PROVIDER)
    stranger = make_user(*EVERY)
    api = Api(client, trust.headers)
    parent = int(open_case(api, NHS[0], site="AINTREE")["id"])
    assert _sees(client, hub, parent) == 404  # nothing shared yet

    sent = _send(
        client, trust, parent, HUB, "hub", note="P1, lives alone", requested_start=str(today())
    )
    task = sent["id"]
    assert (sent["status"], sent["organisation"], sent["kind"]) == ("sent", HUB, "hub")
    assert sent["organisation_name"] == "Liverpool care transfer hub"
    # The referring case shows the status at once, and its history has the update.
    [row] = _sent(client, trust, parent)
    assert (row["id"], row["status"], row["note"]) == (task, "sent", "P1, lives alone")
    assert _updates(api, parent) == [
        {
            "referral_case": task,
            "referral_kind": "hub",
            "referral_organisation": HUB,
            "referral_status": "sent",
        }
    ]
    # The hub sees the patient's case now (need to know), and the task in its queue.
    assert _sees(client, hub, parent) == 200
    r = client.get("/api/v1/referrals", headers=hub.headers)
    assert r.status_code == 200, r.text
    mine = [i for i in r.json()["items"] if i["id"] == task]
    assert len(mine) == 1
    assert mine[0]["patient"]["patient_ref"] == NHS[0]
    assert mine[0]["patient"]["ward"] == "Ward 7"
    # The referring organisation does not see the task and cannot move it; a stranger sees nothing.
    assert _move(client, trust, task, "accept", expect=404)["code"] == "not_found"
    assert _sees(client, trust, task) == 404
    for path in (f"/api/v1/cases/{parent}", f"/api/v1/cases/{parent}/referrals"):
        assert client.get(path, headers=stranger.headers).status_code == 404
    assert _move(client, stranger, task, "accept", expect=404)["code"] == "not_found"
    stranger_list = client.get("/api/v1/referrals?direction=sent", headers=stranger.headers).json()[
        "items"
    ]
    assert stranger_list == []

    # The hub accepts: the parent shows it at once.
    assert _move(client, hub, task, "triage", triage_note="Needs P1 package")["status"] == "triaged"
    assert _move(client, hub, task, "accept")["status"] == "accepted"
    assert [r["status"] for r in _sent(client, trust, parent)] == ["accepted"]
    assert [u["referral_status"] for u in _updates(api, parent)] == ["sent", "triaged", "accepted"]
    _move(client, hub, task, "allocate", allocated_to="Hub team B")

    # The hub's news reaches the trust's queue of sent referrals.
    out = client.get("/api/v1/referrals?direction=sent", headers=trust.headers).json()["items"]
    assert [(i["id"], i["status"], i["allocated_to"]) for i in out] == [
        (task, "allocated", "Hub team B")
    ]

    # The trust (owner) sends on to the provider, who proposes and confirms a start date.
    to_provider = _send(client, trust, parent, PROVIDER, "provider")["id"]
    assert _sees(client, provider, parent) == 200
    # The provider sees only the referral sent to it on the parent, not the hub's.
    assert [r["id"] for r in _sent(client, provider, parent)] == [to_provider]
    assert [r["id"] for r in _sent(client, trust, parent)] == [task, to_provider]
    _move(client, provider, to_provider, "accept")
    start = str(today())
    assert (
        _move(client, provider, to_provider, "propose_start", proposed_start=start)[
            "proposed_start"
        ]
        == start
    )
    done = _move(client, provider, to_provider, "confirm_start", start_date=start)
    assert (done["status"], done["start_date"]) == ("start_confirmed", start)
    last = _updates(api, parent)[-1]
    assert last == {
        "referral_case": to_provider,
        "referral_kind": "provider",
        "referral_organisation": PROVIDER,
        "referral_status": "start_confirmed",
        "referral_start_date": start,
    }

    with sessions() as session:
        notes = session.scalars(
            select(Notification).where(Notification.case_id.in_([task, to_provider, parent]))
        ).all()
        received = sorted(
            (n.case_id, n.targets["organisations"]) for n in notes if n.kind == "referral_received"
        )
        updated = [n for n in notes if n.kind == "referral_updated"]
    assert received == [(task, [HUB]), (to_provider, [PROVIDER])]
    # triage, accept, allocate (hub) + accept, propose_start, confirm_start (provider)
    assert len(updated) == 6
    assert {n.case_id for n in updated} == {parent}
    assert all(n.targets["organisations"] == [trust.org] for n in updated)
    assert all(NHS[0] not in n.summary for n in notes)


def test_generic_routes_refuse_referral_tasks(client: TestClient, make_user) -> None:
    trust = make_user(*TEAM)
    hub = make_user("discharge_team", org=HUB)
    api = Api(client, trust.headers)
    parent = int(open_case(api, NHS[1], site="AINTREE")["id"])
    task = _send(client, trust, parent, HUB, "hub")["id"]
    hub_api = Api(client, hub.headers)
    r = hub_api.fire(task, "accept", expect=409)
    assert r.json()["code"] == "referral_task"
    assert f"/referrals/{task}/events" in r.json()["detail"]
    # Forging the parent's status through the generic route: the guard checks the task.
    r = api.fire(
        parent,
        "referral_update",
        data={
            "referral_case": task,
            "referral_kind": "hub",
            "referral_organisation": HUB,
            "referral_status": "accepted",
        },
        expect=409,
    )
    assert r.json()["code"] == "guard_rejected"
    # Naming a case that is not a referral of this case is refused too.
    other = int(open_case(api, NHS[2], site="AINTREE")["id"])
    r = api.fire(
        parent,
        "referral_update",
        data={
            "referral_case": other,
            "referral_kind": "hub",
            "referral_organisation": trust.org,
            "referral_status": "sent",
        },
        expect=409,
    )
    assert r.json()["code"] == "guard_rejected"
    assert [u["referral_status"] for u in _updates(api, parent)] == ["sent"]
    # A referral task is not opened by the generic routes either.
    r = client.post(
        "/api/v1/cases",
        json={"workflow": "referral", "data": {}},
        headers=trust.headers,
    )
    assert (r.status_code, r.json()["code"]) == (409, "referral_task")
    r = client.post(
        f"/api/v1/cases/{parent}/links",
        json={"workflow": "referral", "link_type": "related", "data": {}},
        headers=trust.headers,
    )
    assert (r.status_code, r.json()["code"]) == (409, "referral_task")


def test_rejection_takes_back_the_share(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    trust = make_user(*TEAM)
    provider = make_user("provider", org=PROVIDER)
    api = Api(client, trust.headers)
    parent = int(open_case(api, NHS[3], site="AINTREE")["id"])
    first = _send(client, trust, parent, PROVIDER, "provider")["id"]
    # One open referral of a kind to a partner at a time; another kind is a second referral.
    again = _send(client, trust, parent, PROVIDER, "provider", expect=409)
    assert (again["code"], again["referral_id"]) == ("referral_open", first)
    second = _send(client, trust, parent, PROVIDER, "other")["id"]
    assert _sees(client, provider, parent) == 200
    # "other" needs the reason written.
    r = _move(client, provider, first, "reject", expect=409, rejection_reason="other")
    assert r["code"] == "guard_rejected"
    _move(client, provider, first, "reject", expect=422)  # no reason at all
    rejected = _move(client, provider, first, "reject", rejection_reason="no_capacity")
    assert (rejected["status"], rejected["is_open"]) == ("rejected", False)
    # Another open referral to the provider remains: it still sees the case.
    assert _sees(client, provider, parent) == 200
    _move(
        client, provider, second, "reject", rejection_reason="other", rejection_note="Out of area"
    )
    assert _sees(client, provider, parent) == 404
    rows = {r["id"]: r for r in _sent(client, trust, parent)}
    assert (rows[first]["status"], rows[first]["rejection_reason"]) == ("rejected", "no_capacity")
    assert (rows[second]["rejection_reason"], rows[second]["rejection_note"]) == (
        "other",
        "Out of area",
    )
    # The provider's queue no longer shows the patient of the rejected referral.
    r = client.get("/api/v1/referrals?include_closed=true", headers=provider.headers)
    mine = [i for i in r.json()["items"] if i["id"] in (first, second)]
    assert len(mine) == 2
    assert all(i["patient"]["patient_ref"] is None for i in mine)
    assert all(NHS[3] not in str(i["patient"]) for i in mine)
    # The sharing log holds the share and its withdrawal, once each.
    with sessions() as session:
        changes = session.scalars(
            select(CaseShareChange)
            .where(CaseShareChange.case_id == parent)
            .order_by(CaseShareChange.id)
        ).all()
        log = [(c.action, c.organisation, c.actor_org) for c in changes]
    assert log == [("shared", PROVIDER, trust.org), ("withdrawn", PROVIDER, PROVIDER)]


def test_withdraw_by_the_referring_organisation(client: TestClient, make_user) -> None:
    trust = make_user(*TEAM)
    # A council user who also holds a sending role: still not the owner of the case.
    council = make_user("social_worker", "discharge_team", org=COUNCIL)
    api = Api(client, trust.headers)
    parent = int(open_case(api, NHS[4], site="AINTREE")["id"])
    task = _send(client, trust, parent, COUNCIL, "council")["id"]
    assert _sees(client, council, parent) == 200
    # The council cannot withdraw (it rejects); the referring organisation can.
    assert _move(client, council, task, "withdraw", expect=409)["code"] == "conflict"
    r = client.post(
        f"/api/v1/cases/{parent}/referrals/{task}/withdraw",
        json={"reason": "Patient went home with family"},
        headers=council.headers,
    )
    assert (r.status_code, r.json()["code"]) == (403, "not_case_owner")
    r = client.post(
        f"/api/v1/cases/{parent}/referrals/{task}/withdraw",
        json={"reason": "Patient went home with family"},
        headers=trust.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    assert [u["referral_status"] for u in _updates(api, parent)] == ["sent", "withdrawn"]
    assert _sees(client, council, parent) == 404
    # A closed referral does not move.
    assert _move(client, council, task, "accept", expect=409)["code"] == "invalid_transition"


def test_send_is_checked(client: TestClient, make_user) -> None:
    trust = make_user(*TEAM)
    hub = make_user("discharge_team", org=HUB)
    api = Api(client, trust.headers)
    parent = int(open_case(api, NHS[5], site="AINTREE")["id"])
    # Not in the directory, or not for that kind: 422 problem.
    for org, kind in (("NOWHERE-ORG", "hub"), (PROVIDER, "hub"), (HUB, "chc")):
        r = client.post(
            f"/api/v1/cases/{parent}/referrals",
            json={"organisation": org, "kind": kind},
            headers=trust.headers,
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "unknown_partner"
    _send(client, trust, parent, HUB, "hub")
    # The hub sees the case through the share but does not own it: 403 not_case_owner.
    r = client.post(
        f"/api/v1/cases/{parent}/referrals",
        json={"organisation": PROVIDER, "kind": "provider"},
        headers=hub.headers,
    )
    assert (r.status_code, r.json()["code"]) == (403, "not_case_owner")
    assert r.headers["content-type"].startswith("application/problem+json")
    # A role that does not send referrals: 403 before anything.
    ward = make_user("ward_clinician", org=trust.org)
    r = client.post(
        f"/api/v1/cases/{parent}/referrals",
        json={"organisation": PROVIDER, "kind": "provider"},
        headers=ward.headers,
    )
    assert r.status_code == 403
    assert len(_sent(client, trust, parent)) == 1


def test_the_parents_milestones_move_with_the_referral(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    """The discharge pathway's "hub accepted" milestone opens when the hub referral is sent
    (owned by the hub) and is done when the hub accepts: no one types it."""
    trust = make_user(*TEAM)
    hub = make_user("discharge_team", org=HUB)
    api = Api(client, trust.headers)
    parent = int(open_case(api, NHS[6], site="AINTREE")["id"])

    def milestones() -> dict[str, tuple[str, str]]:
        with sessions() as session:
            rows = ActionRepository(session).for_case(parent)
            return {r.milestone: (r.status, r.owner_organisation) for r in rows if r.milestone}

    assert "hub_accepted" not in milestones()
    task = _send(client, trust, parent, HUB, "hub")["id"]
    assert milestones()["hub_accepted"] == ("open", HUB)
    _move(client, hub, task, "triage")
    assert milestones()["hub_accepted"] == ("open", HUB)
    _move(client, hub, task, "accept")
    assert milestones()["hub_accepted"] == ("done", HUB)


def test_a_closed_case_leaves_no_task_stuck(client: TestClient, make_user) -> None:
    """Once the referring case is closed it records nothing more, but the partner can still
    close its task (and its share of the case goes)."""
    trust = make_user(*TEAM)
    hub = make_user("discharge_team", org=HUB)
    api = Api(client, trust.headers)
    parent = int(open_case(api, NHS[7], site="AINTREE")["id"])
    task = _send(client, trust, parent, HUB, "hub")["id"]
    api.fire(parent, "cancel", data={"cancel_reason": "Entered twice"})
    seen = len(api.history(parent))
    rejected = _move(client, hub, task, "reject", rejection_reason="other", rejection_note="Closed")
    assert rejected["status"] == "rejected"
    assert len(api.history(parent)) == seen
    assert [u["referral_status"] for u in _updates(api, parent)] == ["sent"]
    assert _sees(client, hub, parent) == 404


def test_a_hub_refers_on_only_once_it_has_taken_the_case_on(client: TestClient, make_user) -> None:
    """The directory lets a hub send provider and council referrals (`refers_on`), once it has
    accepted a referral of the case; a provider may not; the hub withdraws what it sent."""
    trust = make_user(*TEAM)
    hub = make_user("discharge_team", org=HUB)
    provider = make_user("provider", org=PROVIDER)
    api = Api(client, trust.headers)
    parent = int(open_case(api, NHS[3], site="AINTREE")["id"])
    task = _send(client, trust, parent, HUB, "hub")["id"]
    # Sent but not yet accepted: the hub may not pass the patient on.
    assert _send(client, hub, parent, PROVIDER, "provider", expect=403)["code"] == "not_case_owner"
    _move(client, hub, task, "accept")
    # Not a kind the directory lets it refer on for.
    assert _send(client, hub, parent, "MLCSU", "chc", expect=403)["code"] == "not_case_owner"
    sent = _send(client, hub, parent, PROVIDER, "provider")
    assert sent["referring_organisation"] == HUB
    assert _sees(client, provider, parent) == 200
    # The provider, working the case now, may not refer it anywhere (its role sends none).
    assert _send(client, provider, parent, COUNCIL, "council", expect=403)["code"] == "forbidden"
    # The hub withdraws what it sent; the provider loses the case again.
    r = client.post(
        f"/api/v1/cases/{parent}/referrals/{sent['id']}/withdraw",
        json={"reason": "family found a private carer"},
        headers=hub.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    assert _sees(client, provider, parent) == 404
