"""/notifications over HTTP: subscriptions (yours; your organisation's for administrators), the
inbox newest first with cursor paging, marking read, and bad input as problem+json."""

from __future__ import annotations

from app.notifications.fanout import fan_out
from app.timeutil import utcnow
from tests.discharge.helpers import NHS
from tests.notifications.conftest import World
from tests.notifications.helpers import TEAM, clear, escalate, escalated_case, subscribe

SUBS = "/api/v1/notifications/subscriptions"


def test_a_person_manages_their_own_subscriptions(world: World) -> None:
    me, other = world.user(*TEAM), world.user(*TEAM)
    mine = subscribe(world, me, kind="clock_breach", channel="in_app")
    assert (mine["scope"], mine["secret"], mine["address"]) == ("me", None, None)
    subscribe(world, me, kind="clock_breach", channel="email", address="me@nhs.test")
    subscribe(world, me, 409, kind="clock_breach", channel="in_app")
    assert [s["channel"] for s in world.client.get(SUBS, headers=me.headers).json()] == [
        "in_app",
        "email",
    ]
    assert world.client.get(SUBS, headers=other.headers).json() == []
    assert world.client.delete(f"{SUBS}/{mine['id']}", headers=other.headers).status_code == 404
    assert world.client.delete(f"{SUBS}/{mine['id']}", headers=me.headers).status_code == 204
    assert world.client.delete(f"{SUBS}/{mine['id']}", headers=me.headers).status_code == 404
    assert len(world.client.get(SUBS, headers=me.headers).json()) == 1


def test_bad_subscriptions_are_refused_with_a_problem(world: World) -> None:
    me = world.user(*TEAM)
    for body, status in [
        ({"kind": "gossip", "channel": "in_app"}, 422),
        ({"kind": "clock_breach", "channel": "email"}, 422),  # no address
        ({"kind": "clock_breach", "channel": "email", "address": "not-an-address"}, 422),
        ({"kind": "clock_breach", "channel": "webhook", "address": "https://x.test"}, 422),
        ({"kind": "clock_breach", "channel": "webhook", "scope": "organisation"}, 403),
    ]:
        r = world.client.post(SUBS, json=body, headers=me.headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_an_administrator_manages_the_organisations_webhooks(world: World) -> None:
    admin = world.user("admin")
    colleague = world.user("admin", org=admin.org)
    hook = subscribe(
        world,
        admin,
        kind="case_escalated",
        channel="webhook",
        scope="team",
        role="broker",
        address="https://hub.example.test/homefirst",
    )
    assert hook["scope"] == "team"
    assert hook["role"] == "broker"
    assert len(hook["secret"]) >= 32
    listed = world.client.get(SUBS, headers=colleague.headers).json()
    assert [(s["id"], s.get("secret")) for s in listed] == [(hook["id"], None)]
    for body in (
        {
            "kind": "case_escalated",
            "channel": "webhook",
            "scope": "team",
            "role": "system",
            "address": "https://x.test",
        },
        {"kind": "case_escalated", "channel": "in_app", "scope": "organisation"},
        {
            "kind": "case_escalated",
            "channel": "webhook",
            "scope": "organisation",
            "address": "ftp://x.test",
        },
    ):
        assert world.client.post(SUBS, json=body, headers=admin.headers).status_code == 422
    outsider = world.user("admin")
    assert world.client.delete(f"{SUBS}/{hook['id']}", headers=outsider.headers).status_code == 404
    assert world.client.delete(f"{SUBS}/{hook['id']}", headers=colleague.headers).status_code == 204


def test_the_inbox_pages_newest_first_and_marks_read(world: World) -> None:
    me = world.user(*TEAM)
    subscribe(world, me, kind="case_escalated", channel="in_app")
    case_id = escalated_case(world, me, NHS[0])
    for _ in range(2):
        clear(world, me, case_id)
        escalate(world, me, case_id)
    fan_out(world.sessions, policy=world.policy, now=utcnow())
    first = world.client.get("/api/v1/notifications?limit=2", headers=me.headers).json()
    ids = [i["id"] for i in first["items"]]
    assert ids == sorted(ids, reverse=True)
    assert first["next_cursor"]
    rest = world.client.get(
        f"/api/v1/notifications?limit=2&cursor={first['next_cursor']}", headers=me.headers
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert rest["items"][0]["id"] < ids[-1]
    item = first["items"][0]
    assert (item["kind"], item["case_id"], item["read_at"]) == ("case_escalated", case_id, None)

    other = world.user(*TEAM, org=me.org)
    url = f"/api/v1/notifications/{item['id']}/read"
    assert world.client.post(url, headers=other.headers).status_code == 404
    assert world.client.post(url, headers=me.headers).status_code == 204
    again = world.client.get("/api/v1/notifications?limit=1", headers=me.headers).json()
    assert again["items"][0]["read_at"] is not None
    bad = world.client.get("/api/v1/notifications?cursor=nonsense", headers=me.headers)
    assert bad.status_code == 422
